"""The automatic trimap the painter starts from: a trimap made from the trimap-free model's matte.

One seam, :func:`trimap_from_matte`: it uses the library's two-stage rule (:func:`afmatting.auto_trimap.auto_trimap`)
when this version of afmatting has it, and otherwise the small rule below, so the app follows the library's rule
without a change here.

Fallback rule (documented, resolution-independent): the subject is the matte at or above 0.5; every pixel within
``BAND_FRACTION`` of the photo's long side of the subject's outline, on either side, is unknown; so is every pixel
whose matte is uncertain (strictly between ``LOW`` and ``HIGH``); the rest is foreground or background.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..trimap import BACKGROUND, FOREGROUND, UNKNOWN

LOW, HIGH = 0.2, 0.8
#: half-width of the unknown band around the subject's outline, as a fraction of the long side
BAND_FRACTION = 0.02


def band_rule_trimap(matte: np.ndarray, band_fraction: float = BAND_FRACTION, low: float = LOW,
                     high: float = HIGH) -> np.ndarray:
    """float32 (H, W) matte in [0, 1] -> uint8 (H, W) trimap in {0, 128, 255} by the fallback rule above."""
    matte = np.asarray(matte, dtype=np.float32)
    subject = matte >= 0.5
    band = band_fraction * max(matte.shape)
    trimap = np.full(matte.shape, UNKNOWN, dtype=np.uint8)
    if subject.all() or not subject.any():
        trimap[:] = FOREGROUND if subject.all() else BACKGROUND
    else:
        # distance of each pixel to the other side of the outline
        trimap[ndimage.distance_transform_edt(subject) > band] = FOREGROUND
        trimap[ndimage.distance_transform_edt(~subject) > band] = BACKGROUND
    trimap[(matte > low) & (matte < high)] = UNKNOWN
    return trimap


def trimap_from_matte(matte: np.ndarray) -> np.ndarray:
    """float32 (H, W) matte in [0, 1] -> uint8 (H, W) trimap in {0, 128, 255}: the library's automatic trimap
    when available, else :func:`band_rule_trimap`."""
    try:
        from ..auto_trimap import auto_trimap
    except ImportError:  # an afmatting without the two-stage path
        return band_rule_trimap(matte)
    return auto_trimap(np.asarray(matte, dtype=np.float32))
