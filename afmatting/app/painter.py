"""The trimap painter's pictures (no Gradio): a trimap shown over the photo, the brush size, and the trimap a user
means by a base trimap plus painted corrections.

The painter shows a *base* trimap (the automatic trimap of the last matte, or an uploaded one) as a tint over the
photo, the editor's background; the user's brush strokes lie on a layer above it. Painted pixels take their brush's
class, unpainted ones the base trimap's, so erasing a stroke gives the base label back. The selection preview
shows the subject chosen by clicks.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..processing import to_uint8
from .inputs import BRUSH_COLOURS, _hex_rgb, painted_classes

#: how strongly a base trimap's class colour covers the photo in the painter (0: photo only, 1: colour only)
TINT_OPACITY = 0.45
#: the brush radius as a fraction of the photo's long side (40 px on a 1,000 px photo: an 80 px wide stroke; Gradio's
#: own default, a 50th of the short side, was found too small to paint a subject)
BRUSH_FRACTION = 0.04
MIN_BRUSH_RADIUS = 3


def brush_radius(width: int, height: int) -> int:
    """Default brush radius in pixels for a (width, height) photo: BRUSH_FRACTION of its long side, at least
    MIN_BRUSH_RADIUS."""
    return max(MIN_BRUSH_RADIUS, round(BRUSH_FRACTION * max(width, height)))


def tinted_photo(photo: np.ndarray, trimap: np.ndarray, opacity: float = TINT_OPACITY) -> Image.Image:
    """The photo with each pixel tinted by the brush colour of its trimap class.

    photo: float (H, W, 3) RGB in [0, 1] or uint8 (H, W, 3); trimap: uint8 (H, W) in {0, 128, 255}.
    Returns an RGB PIL image of the photo's size.
    """
    rgb = np.asarray(photo, dtype=np.float32)
    if np.issubdtype(np.asarray(photo).dtype, np.floating):
        rgb = rgb * 255.0
    colours = np.zeros(rgb.shape, np.float32)
    for colour, cls in BRUSH_COLOURS.items():
        colours[trimap == cls] = _hex_rgb(colour)
    out = (1.0 - opacity) * rgb + opacity * colours
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), mode="RGB")


def painted_trimap(layers, shape: tuple[int, int], base: np.ndarray) -> np.ndarray:
    """The trimap a painter state means: uint8 (H, W) in {0, 128, 255}.

    layers: the editor's stroke layers (RGBA arrays, PIL images or paths; see :func:`painted_classes`).
    base: the trimap shown under the strokes (the automatic trimap of the last matte, or an uploaded one), uint8
    (H, W) in {0, 128, 255}. Painted pixels take their brush's class and all others keep the base's, so a stroke
    changes only where it is painted and erasing it gives the base label back.
    """
    classes, painted = painted_classes(layers, shape)
    return np.where(painted, classes, np.asarray(base, dtype=np.uint8)).astype(np.uint8)


#: the selection preview: how much the photo outside the selected subject is dimmed, and the click marks' colours
SELECTION_DIM = 0.55
CLICK_COLOURS = {1: (34, 197, 94), 0: (239, 68, 68)}


def selection_picture(photo: np.ndarray, mask: np.ndarray | None, clicks, dim: float = SELECTION_DIM) -> Image.Image:
    """The photo with the selected subject left bright, the rest dimmed, and each click drawn as a dot (green on the
    subject, red off it).

    photo: float (H, W, 3) RGB in [0, 1]; mask: float (H, W) in [0, 1] or None (nothing selected: the photo as
    is); clicks: ``[(x, y, label), ...]``; dim: how much the rest is dimmed, in [0, 1]. Returns an RGB PIL image of
    the photo's size.
    """
    from PIL import ImageDraw

    rgb = np.clip(np.asarray(photo, np.float32), 0, 1)
    if mask is not None:
        keep = np.asarray(mask, np.float32)[..., None]
        rgb = rgb * (keep + (1 - keep) * (1 - dim))
    picture = Image.fromarray((rgb * 255 + 0.5).astype(np.uint8), mode="RGB")
    draw = ImageDraw.Draw(picture)
    radius = max(3, round(0.012 * max(picture.size)))
    for x, y, label in clicks:
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=CLICK_COLOURS[int(label)],
                     outline=(255, 255, 255), width=max(1, radius // 3))
    return picture


#: the long side of a first-stage guess's thumbnail, and how much it dims what is not the subject (more than the
#: selection view: at thumbnail size the subjects must differ at a glance)
GUESS_PREVIEW_SIDE = 192
GUESS_PREVIEW_DIM = 0.8


def guess_previews(photo_path, mattes, side: int = GUESS_PREVIEW_SIDE) -> list[Image.Image]:
    """Thumbnails of the subjects the first-stage networks found: the photo with each matte's subject left bright
    and the rest dimmed (:func:`selection_picture`, as the click selection shows it), long side ``side``.

    photo_path: the photo file (its EXIF orientation applied, as :func:`afmatting.io.load_image` does; decoded at a
    reduced size, so a 24 MP photo is never held whole); mattes: uint8 (H, W) 0..255 or float (H, W) in [0, 1], the
    photo's size. Returns one RGB PIL image per matte.
    """
    from PIL import ImageOps

    with Image.open(photo_path) as img:
        img.draft("RGB", (2 * side, 2 * side))  # JPEG: decode at a fraction of the size
        img = ImageOps.exif_transpose(img).convert("RGB")
        img.thumbnail((side, side), Image.BILINEAR)
        small = np.asarray(img, np.float32) / 255.0
    out = []
    for matte in mattes:
        matte = np.asarray(matte)
        plane = matte if matte.dtype == np.uint8 else to_uint8(matte)  # 8 bits: a quarter of a float plane
        mask = np.asarray(Image.fromarray(plane, mode="L").resize(img.size, Image.BILINEAR), np.float32) / 255.0
        out.append(selection_picture(small, mask, [], GUESS_PREVIEW_DIM))
    return out
