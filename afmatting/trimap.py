"""Trimaps: reading, normalising and (see below) generating them.

Conventions used throughout afmatting:

* a *trimap array* is uint8 (H, W) with values exactly {0, 128, 255}: background, unknown, foreground;
* a *trimap tensor* (losses, training) is float (B, 1, H, W) with values {0, 0.5, 1}.

Quantisation rule (documented, used everywhere): values are first scaled to 0..255 (float inputs in [0, 1] are
multiplied by 255, uint16 divided by 257), then each pixel takes the nearest level:
``v < 64`` -> 0, ``64 <= v < 192`` -> 128, ``v >= 192`` -> 255. An input is refused as "not a trimap" when more than
5 % of its pixels lie further than 40 levels from every one of 0, 128 and 255 (a photo, a soft alpha matte), or when
it is a colour image whose channels differ.
"""

from __future__ import annotations

import numpy as np

from .errors import InvalidTrimapError
from .io import describe, load_matte, open_pil, pil_to_array

BACKGROUND, UNKNOWN, FOREGROUND = 0, 128, 255

#: lower bounds of the unknown and foreground classes on the 0..255 scale
UNKNOWN_THRESHOLD = 64
FOREGROUND_THRESHOLD = 192
#: a pixel further than this from all three levels is "off-level"
OFF_LEVEL_DISTANCE = 40
#: the largest share of off-level pixels a trimap may have
MAX_OFF_LEVEL_FRACTION = 0.05


def _labels_channels(arr: np.ndarray) -> np.ndarray:
    """(H, W, 2 or 4) grey/RGB + alpha -> the channels holding the labels: the alpha channel when the colour is all
    black and the alpha varies (labels stored as transparency, as :func:`afmatting.io.load_matte` reads mattes),
    else the colour (an opaque black file is an all-background trimap, not an all-foreground one)."""
    colour, alpha = arr[..., :-1], arr[..., -1:]
    if not colour.any() and alpha.min() != alpha.max():
        return alpha
    return colour


def _to_255_scale(arr: np.ndarray, name: str) -> np.ndarray:
    """Any-dtype (H, W) or (H, W, C) array -> float32 (H, W) on the 0..255 scale."""
    if arr.ndim == 3:
        if arr.shape[2] in (2, 4):
            arr = _labels_channels(arr)
        if arr.shape[2] == 3:
            a = arr.astype(np.float32)
            spread = np.abs(a - a.mean(axis=2, keepdims=True)).max()
            scale = 1.0 if np.issubdtype(arr.dtype, np.floating) and a.max() <= 1.0 else 1 / 255.0
            if spread * scale > 0.1:
                raise InvalidTrimapError(
                    f"{name} is a colour image, not a trimap: a trimap is grey with values 0 (background), "
                    f"128 (unknown) and 255 (foreground)."
                )
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise InvalidTrimapError(f"{name} has shape {arr.shape}; a trimap must be (H, W) or (H, W, C).")
    if arr.size == 0:
        raise InvalidTrimapError(f"{name} is empty.")
    if arr.dtype == np.bool_:
        raise InvalidTrimapError(f"{name} is a boolean mask, not a trimap; use afmatting.trimap.mask_to_trimap.")
    if np.issubdtype(arr.dtype, np.floating):
        a = arr.astype(np.float32)
        if not np.isfinite(a).all():
            raise InvalidTrimapError(f"{name} contains NaN or infinite values.")
        if a.min() < 0 or a.max() > 255:
            raise InvalidTrimapError(f"{name} has values outside [0, 255] (min {a.min():.3g}, max {a.max():.3g}).")
        return a * 255.0 if a.max() <= 1.0 else a
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 257.0
    if np.issubdtype(arr.dtype, np.integer):
        if arr.min() < 0 or arr.max() > 255:
            raise InvalidTrimapError(f"{name} has integer values outside 0..255.")
        return arr.astype(np.float32)
    raise InvalidTrimapError(f"{name} has unsupported dtype {arr.dtype}.")


def quantize_trimap(values: np.ndarray, name: str = "trimap") -> np.ndarray:
    """Quantise a (H, W) float array on the 0..255 scale to uint8 {0, 128, 255} (rule in the module doc)."""
    dist = np.minimum(np.minimum(np.abs(values - 0), np.abs(values - 128)), np.abs(values - 255))
    off = float((dist > OFF_LEVEL_DISTANCE).mean())
    if off > MAX_OFF_LEVEL_FRACTION:
        raise InvalidTrimapError(
            f"{name} does not look like a trimap: {off:.0%} of its pixels are far from 0, 128 and 255 "
            f"(allowed: {MAX_OFF_LEVEL_FRACTION:.0%}). A trimap marks background 0, unknown 128, foreground 255."
        )
    out = np.full(values.shape, UNKNOWN, dtype=np.uint8)
    out[values < UNKNOWN_THRESHOLD] = BACKGROUND
    out[values >= FOREGROUND_THRESHOLD] = FOREGROUND
    return out


def load_trimap(source, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a trimap from a path, bytes, PIL image or array; return uint8 (H, W) in {0, 128, 255}.

    Accepts palette PNGs, grey or 3-channel images, 0..255 integers, uint16 and 0..1 floats.
    ``shape`` (H, W), when given, must match, otherwise InvalidTrimapError names both sizes.
    """
    name = f"trimap {describe(source)}"
    if isinstance(source, np.ndarray):
        values = _to_255_scale(source, name)
    else:
        img = open_pil(source, what="trimap")
        if img.mode == "F":
            values = _to_255_scale(np.asarray(img, dtype=np.float32), name)  # [0, 1] or 0..255, as for arrays
        elif img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
            values = pil_to_array(img, name=name)[..., 0] * 255.0
        else:
            if img.mode == "P":
                img = img.convert("RGBA" if "transparency" in img.info else "RGB")
            arr = np.asarray(img.convert("RGB") if img.mode not in ("L", "LA", "RGB", "RGBA") else img)
            values = _to_255_scale(arr, name)
    trimap = quantize_trimap(values, name)
    if shape is not None and tuple(trimap.shape) != tuple(shape[:2]):
        raise InvalidTrimapError(
            f"{name} is {trimap.shape[1]}x{trimap.shape[0]} (WxH) but the image is {shape[1]}x{shape[0]}; "
            f"they must have the same size."
        )
    return trimap


def trimap_to_float(trimap: np.ndarray) -> np.ndarray:
    """uint8 {0, 128, 255} trimap -> float32 {0, 0.5, 1} of the same shape."""
    out = np.full(trimap.shape, 0.5, dtype=np.float32)
    out[trimap == BACKGROUND] = 0.0
    out[trimap == FOREGROUND] = 1.0
    return out


# ---------------------------------------------------------------------------------------------------------------
# Generating trimaps
# ---------------------------------------------------------------------------------------------------------------

#: alpha >= 1 - ALPHA_EPS counts as foreground, alpha <= ALPHA_EPS as background (the paper's code uses 1e-5)
ALPHA_EPS = 1e-5


def erode_ellipse(mask: np.ndarray, height: float, width: float) -> np.ndarray:
    """Binary erosion of a boolean (H, W) mask by an elliptical structuring element of size ``height`` x ``width``.

    The structuring element is ``{(dy, dx): (2 dy / height)^2 + (2 dx / width)^2 < 1}``, centred on the pixel; a
    size of 1 (or below) leaves that axis un-eroded. Pixels outside the image count as inside the mask, so the image
    border does not erode (OpenCV's default). Computed exactly with an anisotropic Euclidean distance transform:
    a pixel survives when no pixel outside the mask lies strictly inside the ellipse around it.
    """
    from scipy import ndimage

    mask = np.asarray(mask, dtype=bool)
    radius_y, radius_x = max(height, 1.0) / 2.0, max(width, 1.0) / 2.0
    if radius_y <= 0.5 and radius_x <= 0.5:
        return mask.copy()
    if mask.all() or not mask.any():
        return mask.copy()
    # distance in "ellipse units": a pixel at offset (dy, dx) is at sqrt((dy / ry)^2 + (dx / rx)^2)
    dist = ndimage.distance_transform_edt(mask, sampling=(1.0 / radius_y, 1.0 / radius_x))
    return dist >= 1.0 - 1e-9


def kernel_sizes_for(shape: tuple[int, int], size: int, reference_size: int | None) -> tuple[float, float]:
    """(height, width) in pixels of a kernel of ``size`` px at ``reference_size`` x ``reference_size``.

    The paper resizes every alpha to 640 x 640 before eroding; a circle there is an ellipse of
    ``size * H / 640`` by ``size * W / 640`` pixels in the original image. ``reference_size=None`` keeps ``size``.
    """
    if reference_size is None:
        return float(size), float(size)
    return size * shape[0] / reference_size, size * shape[1] / reference_size


def alpha_to_trimap(
    alpha,
    seed: int = 0,
    min_kernel: int = 1,
    max_kernel: int = 29,
    reference_size: int | None = 640,
) -> np.ndarray:
    """The paper's trimap from an alpha matte: uint8 (H, W) in {0, 128, 255}.

    Foreground is ``alpha >= 1 - 1e-5`` (255 in uint8), background ``alpha <= 1e-5`` (0 in uint8). Each is eroded
    separately by an elliptical kernel whose size is drawn uniformly from ``min_kernel..max_kernel`` (inclusive) at
    the reference resolution, with a generator seeded by ``seed``; everything else becomes unknown (128).

    The paper resizes the alpha to 640 x 640, erodes, and resizes the trimap back with nearest neighbour. Here the
    erosion happens at full resolution with the kernel that 640-pixel circle maps to (see :func:`kernel_sizes_for`),
    which gives the same band without the resampling errors: every fractional-alpha pixel is unknown and every known
    label is correct.

    Args:
        alpha: (H, W) uint8 0..255, uint16, bool or float in [0, 1] (grey (H, W, C), paths and PIL also accepted).
        seed: seeds the kernel sizes; the same seed gives the same trimap.
        min_kernel, max_kernel: range of kernel diameters in pixels at the reference resolution.
        reference_size: the resolution the kernel sizes refer to (640, the paper's); None for sizes in pixels.
    """
    if not 1 <= min_kernel <= max_kernel:
        raise InvalidTrimapError(f"need 1 <= min_kernel <= max_kernel, got {min_kernel} and {max_kernel}.")
    values = load_matte(alpha, name="alpha")
    rng = np.random.default_rng(seed)
    fg_size, bg_size = (int(s) for s in rng.integers(min_kernel, max_kernel + 1, size=2))
    foreground = values >= 1.0 - ALPHA_EPS
    background = values <= ALPHA_EPS
    trimap = np.full(values.shape, UNKNOWN, dtype=np.uint8)
    trimap[erode_ellipse(foreground, *kernel_sizes_for(values.shape, fg_size, reference_size))] = FOREGROUND
    trimap[erode_ellipse(background, *kernel_sizes_for(values.shape, bg_size, reference_size))] = BACKGROUND
    return trimap


def mask_to_trimap(mask, band: float | None = None) -> np.ndarray:
    """A trimap from a coarse binary mask: uint8 (H, W) in {0, 128, 255}.

    Pixels within ``band`` pixels (Euclidean) of the mask boundary, on either side, become unknown; the rest keep
    the mask's label. The unknown band is therefore about ``2 * band`` wide.

    Args:
        mask: (H, W) bool, uint8 (>= 128 is foreground), or float in [0, 1] (>= 0.5 is foreground); paths and PIL
            images are read as grey.
        band: half-width of the unknown band in pixels; None uses 2 % of the longer image side (at least 3).
    """
    values = load_matte(mask, name="mask")
    foreground = values >= 0.5
    if band is None:
        band = max(3.0, 0.02 * max(values.shape))
    if band < 0:
        raise InvalidTrimapError(f"band must be >= 0, got {band}.")
    return band_trimap(foreground, band)


#: tile side of :func:`band_trimap`'s distance transforms (each tile also reads a halo of ``band`` pixels)
BAND_TILE = 1024


def band_trimap(subject: np.ndarray, band: float, narrow_band: float | None = None,
                narrow: np.ndarray | None = None) -> np.ndarray:
    """uint8 (H, W) {0, 128, 255}: bool (H, W) ``subject`` as foreground, the rest background, and unknown every pixel
    within ``band`` pixels (Euclidean, ``band >= 0``) of the boundary between them, on either side.

    With ``narrow`` (bool (H, W)) and ``narrow_band`` (>= 0), the pixels of ``narrow`` use ``narrow_band`` instead
    (:func:`afmatting.auto_trimap.auto_trimap`'s narrow band along hard edges): one pair of distance transforms
    gives both bands.

    Computed in tiles with a halo of the larger band: whether a pixel lies within its band of the other side depends
    only on the pixels that close, so the result is exactly the whole-image one, and the distance transforms'
    float64 and index arrays stay tile-sized (a 24 MP mask needed about 0.8 GB at once).
    """
    subject = np.asarray(subject, dtype=bool)
    if (narrow is None) != (narrow_band is None):
        raise InvalidTrimapError("band_trimap needs both narrow and narrow_band, or neither.")
    if narrow is not None and np.shape(narrow) != subject.shape:
        raise InvalidTrimapError(f"narrow must have the subject's shape {subject.shape}, got {np.shape(narrow)}.")
    trimap = np.full(subject.shape, UNKNOWN, dtype=np.uint8)
    if subject.all():
        trimap[:] = FOREGROUND
        return trimap
    if not subject.any():
        trimap[:] = BACKGROUND
        return trimap
    h, w = subject.shape
    halo = int(np.ceil(max(band, narrow_band or 0.0))) + 1
    for y0 in range(0, h, BAND_TILE):
        for x0 in range(0, w, BAND_TILE):
            y1, x1 = min(y0 + BAND_TILE, h), min(x0 + BAND_TILE, w)
            ys, xs = slice(max(0, y0 - halo), min(h, y1 + halo)), slice(max(0, x0 - halo), min(w, x1 + halo))
            inner = (slice(y0 - ys.start, y1 - ys.start), slice(x0 - xs.start, x1 - xs.start))
            # each pixel's own half-width (float64, as the distances): the tile's, never a full-size plane
            tile_band = band if narrow is None else np.where(narrow[ys, xs], float(narrow_band), float(band))
            trimap[y0:y1, x0:x1] = _band_tile(subject[ys, xs], tile_band)[inner]
    return trimap


def _band_tile(subject: np.ndarray, band) -> np.ndarray:
    """:func:`band_trimap` of one tile, whole (a tile without the other side is all one label: its pixels are at
    least the halo, more than any band, away from the boundary); ``band`` a number or float (h, w) per pixel."""
    from scipy import ndimage

    tile = np.full(subject.shape, UNKNOWN, dtype=np.uint8)
    if subject.all():
        tile[:] = FOREGROUND
    elif not subject.any():
        tile[:] = BACKGROUND
    else:
        # distance of each subject pixel to the nearest non-subject pixel, and the reverse
        tile[ndimage.distance_transform_edt(subject) > band] = FOREGROUND
        tile[ndimage.distance_transform_edt(~subject) > band] = BACKGROUND
    return tile
