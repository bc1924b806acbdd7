"""The automatic trimap the painter starts from: the two-stage path's rule
(:func:`afmatting.auto_trimap.auto_trimap`) on the trimap-free model's matte, for the user to correct."""

from __future__ import annotations

import numpy as np

from ..auto_trimap import auto_trimap


def trimap_from_matte(matte: np.ndarray) -> np.ndarray:
    """float32 (H, W) matte in [0, 1] -> uint8 (H, W) trimap in {0, 128, 255} (see :mod:`afmatting.auto_trimap`)."""
    return auto_trimap(np.asarray(matte, dtype=np.float32))
