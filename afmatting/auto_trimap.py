"""An automatic trimap from a trimap-free network's own matte (stage 2 of the two-stage trimap-free path).

One algorithm, in three pure steps over numpy arrays:

1. **Subject.** Threshold the matte at 0.5 and keep the main subject: the largest connected region and every other
   region at least ``keep_fraction`` of its area (small islands of background the network half-believed in are
   dropped). Holes inside the kept regions are filled, so a patch of the subject the network missed (a dark hat band,
   a shadowed face) goes back to the subject.
2. **Band.** Every pixel within ``band`` of the subject's outline, on either side, becomes unknown; the band's
   half-width is a fraction of the image's long side, so the trimap looks the same at any resolution. With
   ``hard_band_fraction`` the wide band is kept only near soft structure (where the matte is uncertain over more
   than an edge's ramp: hair, fur, blur, thin parts; :func:`near_soft_regions`) and a hard, confident edge gets the
   narrow band, so the second stage cannot turn a crisp outline into semi-transparent texture.
3. **Uncertainty.** Every pixel where the matte is uncertain (strictly between ``low`` and ``high``) becomes
   unknown, whatever steps 1 and 2 said, so the trimap never claims to know what the network did not.

Conventions: matte float32 (H, W) in [0, 1]; masks bool (H, W); trimap uint8 (H, W) in {0, 128, 255}.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .errors import AFMattingError, InvalidImageError
from .trimap import UNKNOWN, band_trimap

#: matte values strictly between these are "uncertain" and always end up unknown (tuned on the alphamatting photos,
#: whole-image SAD: 0.2 / 0.8 beat 0.05 / 0.95; see docs/results.md)
DEFAULT_LOW = 0.2
DEFAULT_HIGH = 0.8
#: half-width of the unknown band around the subject's outline, as a fraction of the image's long side
DEFAULT_BAND_FRACTION = 0.02
#: long side at which :func:`near_soft_regions` looks for uncertainty thicker than an edge's ramp
SOFTNESS_SIDE = 320
#: a region is kept as part of the subject when its area is at least this fraction of the largest region's
DEFAULT_KEEP_FRACTION = 0.1

#: 8-connectivity: thin diagonal structures (hair strands, plant stems) stay in one region
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def check_matte(matte, name: str = "matte") -> np.ndarray:
    """Validate a matte: (H, W) float array in [0, 1] with finite values; return it as float32."""
    arr = np.asarray(matte)
    if arr.ndim != 2 or arr.size == 0:
        raise InvalidImageError(f"{name} must be a non-empty (H, W) array, got shape {arr.shape}.")
    if not np.issubdtype(arr.dtype, np.floating):
        raise InvalidImageError(f"{name} must be a float array in [0, 1], got dtype {arr.dtype}.")
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise InvalidImageError(f"{name} contains NaN or infinite values.")
    if arr.min() < 0.0 or arr.max() > 1.0:
        raise InvalidImageError(f"{name} has values outside [0, 1] (min {arr.min():.3g}, max {arr.max():.3g}).")
    return arr


def select_subject(foreground: np.ndarray, keep_fraction: float = DEFAULT_KEEP_FRACTION) -> np.ndarray:
    """The main subject of a binary foreground mask: bool (H, W) -> bool (H, W).

    Keeps the largest 8-connected region and every region whose area is at least ``keep_fraction`` (in [0, 1]) of
    the largest one's. An empty mask gives an empty subject.
    """
    if not 0.0 <= keep_fraction <= 1.0:
        raise AFMattingError(f"keep_fraction must be in [0, 1], got {keep_fraction}.")
    labels, count = ndimage.label(foreground, structure=_EIGHT_CONNECTED)
    if count == 0:
        return np.zeros(foreground.shape, dtype=bool)
    areas = np.bincount(labels.ravel())
    areas[0] = 0  # label 0 is the background
    keep = areas >= keep_fraction * areas.max()
    keep[0] = False
    return keep[labels]


def fill_holes(subject: np.ndarray) -> np.ndarray:
    """bool (H, W) -> bool (H, W): the subject with every hole filled.

    A hole is a background region that does not touch the image border (4-connected background, so a gap between
    two diagonal subject pixels does not seal it off).
    """
    return ndimage.binary_fill_holes(subject)


def near_soft_regions(matte: np.ndarray, distance: float, low: float = DEFAULT_LOW, high: float = DEFAULT_HIGH,
                      side: int = SOFTNESS_SIDE) -> np.ndarray:
    """float (H, W) in [0, 1] -> bool (H, W): the pixels within ``distance`` (full-size pixels) of a region where
    the matte is uncertain over more than a thin line.

    A first-stage network sees the image at a few hundred pixels, so its matte, resized back, has a ramp of uncertain
    values along every edge, hard or soft. Looked at ``side`` pixels on the long side (about the networks' own
    size), a hard edge's ramp is one or two pixels thick and an opening with a 3 x 3 square removes it; hair, fur,
    motion blur and thin parts leave thicker uncertain regions, which survive. The distance is measured at that
    small size too (memory stays bounded on large photos), and the mask is resized back.
    """
    from PIL import Image

    h, w = matte.shape
    scale = min(1.0, side / max(h, w))
    small_size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = np.asarray(Image.fromarray(matte.astype(np.float32), mode="F").resize(small_size, Image.BILINEAR))
    thick = ndimage.binary_opening((small > low) & (small < high), structure=np.ones((3, 3), bool))
    if not thick.any():
        return np.zeros((h, w), dtype=bool)
    near = ndimage.distance_transform_edt(~thick) <= distance * scale
    back = Image.fromarray(near.astype(np.uint8) * 255).resize((w, h), Image.NEAREST)
    return np.asarray(back) > 0


def auto_trimap(
    matte,
    *,
    low: float = DEFAULT_LOW,
    high: float = DEFAULT_HIGH,
    band_fraction: float = DEFAULT_BAND_FRACTION,
    hard_band_fraction: float | None = None,
    keep_fraction: float = DEFAULT_KEEP_FRACTION,
    keep_holes: bool = False,
) -> np.ndarray:
    """A trimap from a trimap-free matte (the algorithm in the module doc).

    Args:
        matte: float (H, W) in [0, 1], the network's alpha.
        low, high: matte values strictly between them are uncertain, hence unknown (0 <= low < 0.5 <= high <= 1).
        band_fraction: half-width of the unknown band around the subject's outline where the matte is soft (see
            :func:`near_soft_regions`), as a fraction (>= 0) of ``max(H, W)``.
        hard_band_fraction: half-width of the band along the rest of the outline (hard, confident edges), same unit;
            None: ``band_fraction`` everywhere (one band, no softness test).
        keep_fraction: other regions are kept when their area is at least this fraction of the largest one's.
        keep_holes: leave the subject's holes as they are (step 1 fills them): for a promptable segmenter's mask,
            whose holes are real (the gap between two dolls, between an arm and a body), unlike a trimap-free
            network's, which are patches of the subject it missed.

    Returns:
        uint8 (H, W) with values {0, 128, 255}; 128 wherever ``low < matte < high``.
    """
    values = check_matte(matte)
    if not 0.0 <= low < 0.5 <= high <= 1.0:
        raise AFMattingError(f"need 0 <= low < 0.5 <= high <= 1, got low={low}, high={high}.")
    if band_fraction < 0 or (hard_band_fraction is not None and hard_band_fraction < 0):
        raise AFMattingError(f"band fractions must be >= 0, got {band_fraction} and {hard_band_fraction}.")
    subject = select_subject(values >= 0.5, keep_fraction)
    if not keep_holes:
        subject = fill_holes(subject)
    long_side = max(values.shape)
    band = band_fraction * long_side
    if hard_band_fraction is not None and hard_band_fraction < band_fraction:
        # the wide band only where the matte is soft nearby; elsewhere the narrow one
        hard = ~near_soft_regions(values, band, low, high)
        trimap = band_trimap(subject, band, narrow_band=hard_band_fraction * long_side, narrow=hard)
        del hard
    else:
        trimap = band_trimap(subject, band)
    trimap[(values > low) & (values < high)] = UNKNOWN
    return trimap
