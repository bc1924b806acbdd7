"""The visible evaluation sets of the trimap-free benchmark, read or made in memory from ``../shared/data``.

Nothing is written to disk: each set is a list of ``(name, image float32 (H, W, 3) in [0, 1], alpha uint8 (H, W))``
built the same way every run (fixed choices, no randomness), so a table can be reproduced from its command alone.

============  =====  ===========================================================================================
set           count  what
============  =====  ===========================================================================================
alphamatting  27     the alphamatting.com training photos (~800 px), **real ground truth**
am2k          13     AM-2K test photos (animals, ~1080 px short side); pseudo-alphas of GFM: *agreement*
p3m           12     P3M-10K face-blurred portraits; pseudo-alphas of P3M: *agreement*
crops         27     one close-up crop per alphamatting photo: a square half the photo's short side, centred on
                     its soft (0 < alpha < 1) pixels, resized to 320 x 320 (real ground truth)
composites    9      alphamatting subjects (colours from :func:`afmatting.foreground.estimate_foreground` on the
                     real alpha) composited over AM-2K / P3M photos at 1920 px long side (real ground truth,
                     composited)
hard-edged    9      near-binary subjects: the real alpha thresholded at 0.5, anti-aliased by 2x supersampling,
                     the subject's own colours over a textured AM-2K / P3M photo (a product in a busy scene)
studio        9      the same near-binary subjects over a plain light backdrop (a vertical grey gradient, three
                     tones) with a soft drop shadow (the e-commerce product photo)
small         9      the same near-binary subjects, small (a third of the frame), in a scene with no subject of
                     its own: the largest square of an AM-2K / P3M photo that its pseudo-alpha leaves empty,
                     1024 x 1024 (a product photographed in place)
============  =====  ===========================================================================================

The last five are derived from the alphamatting photos, so they are not independent of it; am2k and p3m are the
independent ones, and the bundled networks were trained on AM-2K / P3M images (see docs/results.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from afmatting.data import read_alpha
from afmatting.io import load_image

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = PROJECT_ROOT.parent / "shared" / "data"
SET_NAMES = ("alphamatting", "am2k", "p3m", "crops", "composites", "hard-edged", "studio", "small")
CROP_SIDE = 320
COMPOSITE_SIDE = 1920
#: the alphamatting photos used as subjects of the composite sets (their subjects differ in kind: hair, fur,
#: plants, objects)
COMPOSITE_SUBJECTS = ("GT01", "GT02", "GT04", "GT07", "GT10", "GT13", "GT17", "GT21", "GT25")
HARD_EDGED_SUBJECTS = ("GT03", "GT06", "GT08", "GT09", "GT11", "GT12", "GT15", "GT19", "GT27")


def _paired(root: Path, image_dir: str, alpha_dir: str) -> list:
    out = []
    for path in sorted((root / image_dir).iterdir()):
        if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            continue
        alpha = next((root / alpha_dir).glob(path.stem + ".*"), None)
        if alpha is not None:
            out.append((path.stem, load_image(path), read_alpha(str(alpha))))
    return out


def _resize(x: np.ndarray, size: tuple[int, int], resample=Image.BILINEAR) -> np.ndarray:
    """float (H, W[, C]) -> float32 resized to ``size`` = (h, w), channel by channel."""
    if x.ndim == 3:
        return np.stack([_resize(x[..., c], size, resample) for c in range(x.shape[2])], axis=-1)
    return np.asarray(Image.fromarray(x.astype(np.float32), mode="F").resize((size[1], size[0]), resample), np.float32)


def _cover(background: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Scale and centre-crop a photo so it covers ``size`` = (h, w)."""
    h, w = background.shape[:2]
    scale = max(size[0] / h, size[1] / w)
    scaled = _resize(background, (max(size[0], round(h * scale)), max(size[1], round(w * scale))))
    top, left = (scaled.shape[0] - size[0]) // 2, (scaled.shape[1] - size[1]) // 2
    return scaled[top:top + size[0], left:left + size[1]]


def _backgrounds(shared: Path) -> list[np.ndarray]:
    photos = sorted((shared / "am2k-samples" / "image").glob("*.jpg")) + sorted((shared / "p3m-samples" / "image").glob("*.jpg"))
    return [load_image(p) for p in photos]


def crops(alphamatting: list) -> list:
    """One 320 x 320 close-up per photo, centred on its soft pixels (see the module doc)."""
    out = []
    for name, image, alpha in alphamatting:
        soft = (alpha > 12) & (alpha < 243)
        ys, xs = np.nonzero(soft) if soft.any() else np.nonzero(alpha > 127)
        side = min(alpha.shape) // 2
        cy = int(np.clip(np.median(ys) - side // 2, 0, alpha.shape[0] - side))
        cx = int(np.clip(np.median(xs) - side // 2, 0, alpha.shape[1] - side))
        crop_image = _resize(image[cy:cy + side, cx:cx + side], (CROP_SIDE, CROP_SIDE))
        crop_alpha = _resize(alpha[cy:cy + side, cx:cx + side].astype(np.float32), (CROP_SIDE, CROP_SIDE))
        out.append((f"{name}-crop", np.clip(crop_image, 0, 1), np.clip(crop_alpha + 0.5, 0, 255).astype(np.uint8)))
    return out


def _place(fg: np.ndarray, alpha: np.ndarray, background: np.ndarray, height_fraction: float) -> tuple:
    """Composite ``fg`` (float (h, w, 3)) with ``alpha`` (float (h, w) in [0, 1]) over ``background`` (H, W, 3):
    scaled to ``height_fraction`` of its height (and to fit its width), centred horizontally, resting on the bottom."""
    H, W = background.shape[:2]
    scale = min(height_fraction * H / alpha.shape[0], 0.9 * W / alpha.shape[1])
    size = (round(alpha.shape[0] * scale), round(alpha.shape[1] * scale))
    fg, alpha = _resize(fg, size, Image.BICUBIC), np.clip(_resize(alpha, size, Image.BILINEAR), 0, 1)
    full_alpha = np.zeros((H, W), np.float32)
    top, left = H - size[0], (W - size[1]) // 2
    full_alpha[top:, left:left + size[1]] = alpha
    full_fg = background.copy()
    full_fg[top:, left:left + size[1]] = np.clip(fg, 0, 1)
    image = full_alpha[..., None] * full_fg + (1 - full_alpha[..., None]) * background
    return np.clip(image, 0, 1).astype(np.float32), full_alpha


def composites(alphamatting: list, backgrounds: list) -> list:
    """The subjects of ``COMPOSITE_SUBJECTS`` over AM-2K / P3M photos at 1920 px long side (module doc)."""
    from afmatting.foreground import estimate_foreground

    by_name = {name: (image, alpha) for name, image, alpha in alphamatting}
    out = []
    for k, name in enumerate(COMPOSITE_SUBJECTS):
        image, alpha = by_name[name]
        a = alpha.astype(np.float32) / 255.0
        fg = estimate_foreground(image, a)
        landscape = image.shape[1] >= image.shape[0]
        size = (1280, COMPOSITE_SIDE) if landscape else (COMPOSITE_SIDE, 1280)
        bg = _cover(backgrounds[(3 * k) % len(backgrounds)], size)
        comp, comp_alpha = _place(fg, a, bg, 0.8)
        out.append((f"{name}-comp", comp, np.clip(comp_alpha * 255 + 0.5, 0, 255).astype(np.uint8)))
    return out


def _near_binary_composites(alphamatting: list, suffix: str, backdrop) -> list:
    """The ``HARD_EDGED_SUBJECTS`` made near-binary: the real alpha thresholded at 0.5 at twice the size, the subject's
    own colours over ``backdrop(k, binary)`` (float32 (2h, 2w, 3) for the k-th subject and its binary alpha at twice
    the size), box-downsampled back (anti-aliased outline). -> ``[(name-suffix, image, alpha uint8), ...]``."""
    by_name = {name: (image, alpha) for name, image, alpha in alphamatting}
    out = []
    for k, name in enumerate(HARD_EDGED_SUBJECTS):
        image, alpha = by_name[name]
        h, w = alpha.shape
        binary = (_resize(alpha.astype(np.float32), (2 * h, 2 * w)) >= 127.5).astype(np.float32)
        comp = binary[..., None] * _resize(image, binary.shape) + (1 - binary[..., None]) * backdrop(k, binary)
        comp_small = _resize(comp, (h, w), Image.BOX)
        alpha_small = _resize(binary, (h, w), Image.BOX)
        out.append((f"{name}-{suffix}", np.clip(comp_small, 0, 1).astype(np.float32),
                    np.clip(alpha_small * 255 + 0.5, 0, 255).astype(np.uint8)))
    return out


def hard_edged(alphamatting: list, backgrounds: list) -> list:
    """Near-binary subjects over textured photos (module doc)."""
    return _near_binary_composites(
        alphamatting, "hard", lambda k, binary: _cover(backgrounds[(3 * k + 1) % len(backgrounds)], binary.shape))


#: the studio set's backdrop tones (top of the gradient), taken in turn
STUDIO_TONES = (0.96, 0.9, 0.82)


def _studio_backdrop(k: int, binary: np.ndarray) -> np.ndarray:
    """A plain light backdrop (a vertical grey gradient, the k-th tone) with the subject's soft drop shadow."""
    from scipy import ndimage

    size = binary.shape
    fall = np.linspace(0.0, 1.0, size[0], dtype=np.float32)[:, None, None]
    backdrop = np.broadcast_to(STUDIO_TONES[k % len(STUDIO_TONES)] - 0.08 * fall, (*size, 3))
    # the subject's silhouette, shifted down and right and blurred: a soft shadow on the backdrop
    shadow = ndimage.gaussian_filter(np.roll(binary, (size[0] // 60, size[1] // 40), axis=(0, 1)), size[0] / 50)
    return backdrop * (1.0 - 0.35 * shadow[..., None])


def studio(alphamatting: list) -> list:
    """The hard-edged subjects over plain light backdrops with a soft drop shadow (module doc)."""
    return _near_binary_composites(alphamatting, "studio", _studio_backdrop)


#: the small set's frame side, the subject's longer side as a fraction of it, and the smallest subject-free square
#: (pixels of the source photo) taken as its scene
SMALL_SIDE = 1024
SMALL_SUBJECT_FRACTION = 1 / 3
SMALL_MIN_SCENE = 400


def empty_square(alpha: np.ndarray, step: int = 16) -> tuple[int, int, int] | None:
    """(side, top, left) of the largest square (sides in steps of ``step``, first found in row-major order) where
    the uint8 (H, W) ``alpha`` is at most 2 everywhere, or None below ``step`` pixels."""
    taken = np.pad((alpha > 2).astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    for side in range(min(alpha.shape) // step * step, step - 1, -step):
        inside = taken[side:, side:] - taken[:-side, side:] - taken[side:, :-side] + taken[:-side, :-side]
        ys, xs = np.nonzero(inside == 0)
        if len(ys):
            return side, int(ys[0]), int(xs[0])
    return None


def _empty_scenes(shared: Path) -> list[np.ndarray]:
    """The subject-free squares of the AM-2K and P3M photos (:func:`empty_square` of their pseudo-alphas) of at
    least ``SMALL_MIN_SCENE`` pixels, in the photos' order."""
    scenes = []
    for folder in ("am2k-samples", "p3m-samples"):
        for _, image, alpha in _paired(shared / folder, "image", "alpha-pseudo"):
            found = empty_square(alpha)
            if found is not None and found[0] >= SMALL_MIN_SCENE:
                side, top, left = found
                scenes.append(image[top:top + side, left:left + side])
    return scenes


def small(alphamatting: list, shared: Path) -> list:
    """The hard-edged subjects, small, in scenes with no subject of their own (module doc): the binary alpha at
    twice the size, cropped to the subject, scaled so that its longer side is ``SMALL_SUBJECT_FRACTION`` of the frame,
    centred a little below the middle, box-downsampled back (anti-aliased outline)."""
    scenes = _empty_scenes(shared)
    by_name = {name: (image, alpha) for name, image, alpha in alphamatting}
    side = 2 * SMALL_SIDE
    out = []
    for k, name in enumerate(HARD_EDGED_SUBJECTS):
        image, alpha = by_name[name]
        ys, xs = np.nonzero(alpha >= 128)
        top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        scale = SMALL_SUBJECT_FRACTION * side / max(bottom - top, right - left)
        size = (round((bottom - top) * scale), round((right - left) * scale))
        binary = (_resize(alpha[top:bottom, left:right].astype(np.float32), size) >= 127.5).astype(np.float32)
        colours = _resize(image[top:bottom, left:right], size, Image.BICUBIC)
        frame_alpha = np.zeros((side, side), np.float32)
        frame = _resize(scenes[(2 * k) % len(scenes)], (side, side))
        y0, x0 = (side - size[0]) * 3 // 5, (side - size[1]) // 2
        frame_alpha[y0:y0 + size[0], x0:x0 + size[1]] = binary
        inset = frame[y0:y0 + size[0], x0:x0 + size[1]]
        frame[y0:y0 + size[0], x0:x0 + size[1]] = binary[..., None] * colours + (1 - binary[..., None]) * inset
        comp = _resize(frame, (SMALL_SIDE, SMALL_SIDE), Image.BOX)
        comp_alpha = _resize(frame_alpha, (SMALL_SIDE, SMALL_SIDE), Image.BOX)
        out.append((f"{name}-small", np.clip(comp, 0, 1).astype(np.float32),
                    np.clip(comp_alpha * 255 + 0.5, 0, 255).astype(np.uint8)))
    return out


def load_sets(names=SET_NAMES, shared=DEFAULT_SHARED, limit: int | None = None) -> dict:
    """``{set name: [(name, image, alpha uint8), ...]}`` for the named sets whose sources exist under ``shared``
    (sets whose folders are absent are left out); ``limit`` keeps the first N of each."""
    shared = Path(shared)
    sets, am = {}, None
    if (shared / "alphamatting" / "image").is_dir():
        am = _paired(shared / "alphamatting", "image", "alpha")
    sources = {"alphamatting": lambda: am,
               "am2k": lambda: _paired(shared / "am2k-samples", "image", "alpha-pseudo"),
               "p3m": lambda: _paired(shared / "p3m-samples", "image", "alpha-pseudo"),
               "crops": lambda: crops(am),
               "composites": lambda: composites(am, _backgrounds(shared)),
               "hard-edged": lambda: hard_edged(am, _backgrounds(shared)),
               "studio": lambda: studio(am),
               "small": lambda: small(am, shared)}
    needs = {"alphamatting": "alphamatting/image", "am2k": "am2k-samples/image", "p3m": "p3m-samples/image",
             "crops": "alphamatting/image", "composites": "am2k-samples/image", "hard-edged": "am2k-samples/image",
             "studio": "alphamatting/image", "small": "am2k-samples/alpha-pseudo"}
    for name in names:
        if name not in sources:
            raise ValueError(f"unknown set '{name}'; known: {', '.join(SET_NAMES)}")
        if not (shared / needs[name]).is_dir() or (name in ("composites", "hard-edged", "small") and am is None):
            continue
        sets[name] = sources[name]()[:limit]
    return sets
