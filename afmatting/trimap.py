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
from .io import describe, open_pil, pil_to_array

BACKGROUND, UNKNOWN, FOREGROUND = 0, 128, 255

#: lower bounds of the unknown and foreground classes on the 0..255 scale
UNKNOWN_THRESHOLD = 64
FOREGROUND_THRESHOLD = 192
#: a pixel further than this from all three levels is "off-level"
OFF_LEVEL_DISTANCE = 40
#: the largest share of off-level pixels a trimap may have
MAX_OFF_LEVEL_FRACTION = 0.05


def _to_255_scale(arr: np.ndarray, name: str) -> np.ndarray:
    """Any-dtype (H, W) or (H, W, C) array -> float32 (H, W) on the 0..255 scale."""
    if arr.ndim == 3:
        if arr.shape[2] == 4:  # drop alpha channel
            arr = arr[..., :3]
        if arr.shape[2] == 2:
            arr = arr[..., :1]
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
        if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
            values = pil_to_array(img)[..., 0] * 255.0
        else:
            if img.mode == "P":
                img = img.convert("RGB")
            arr = np.asarray(img.convert("RGB") if img.mode not in ("L", "RGB") else img)
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
