"""The DDC loss restricted to the pairs that a matte solver can change.

When the known pixels of a trimap are fixed, a DDC term |(α_i − α_j) − d_ij| changes only if i or j is unknown. Those
pairs start at pixels of the unknown region dilated by the window radius, so the neighbour search runs once on the
crop around that band, and the loss over the whole image is (the band's pairs) + (a constant from the known-known
pairs). :func:`ddc_band_pairs` lists the band's pairs; :func:`band_ddc_sum` evaluates them for a matte.

Pairs are those of :func:`afmatting.losses.ddc_loss` with ``padding="valid"``: the K most similar pixels j of each
pixel i's K×K window (i itself included), d_ij the Euclidean RGB distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.ndimage as ndi
import torch

from afmatting.errors import AFMattingError
from afmatting.neighbours import NO_NEIGHBOUR, check_kernel_size, find_similar_neighbours

__all__ = ["DDCPairs", "ddc_band_pairs", "band_ddc_sum", "count_valid_pairs"]


@dataclass
class DDCPairs:
    """The DDC pairs of one image that touch its unknown region.

    Attributes:
        first, second: int64 (P,) flat pixel indices (row-major in the (H, W) image) of i and j.
        distance: float64 (P,) colour distance d_ij.
        count: the number of pairs of the whole image (the DDC loss is a mean over them).
        shape: (H, W).
    """

    first: np.ndarray
    second: np.ndarray
    distance: np.ndarray
    count: int
    shape: tuple[int, int]


def count_valid_pairs(height: int, width: int, kernel_size: int) -> int:
    """Pairs of a whole (H, W) image in ``"valid"`` padding: min(K, in-image window pixels) per pixel."""
    radius = check_kernel_size(kernel_size)

    def span(n):
        pos = np.arange(n)
        return np.minimum(pos, radius) + np.minimum(n - 1 - pos, radius) + 1

    return int(np.minimum(kernel_size, span(height)[:, None] * span(width)[None, :]).sum())


def ddc_band_pairs(image: np.ndarray, unknown: np.ndarray, kernel_size: int = 11) -> DDCPairs:
    """The DDC pairs (i, j) with i or j unknown.

    Args:
        image: float (H, W, 3) RGB in [0, 1].
        unknown: bool (H, W), the pixels whose alpha is free.
        kernel_size: the DDC window side K (also the number of neighbours per pixel).

    Returns:
        :class:`DDCPairs`.
    """
    radius = check_kernel_size(kernel_size)
    image = np.asarray(image, dtype=np.float32)
    unknown = np.asarray(unknown, dtype=bool)
    h, w = unknown.shape
    if image.shape != (h, w, 3):
        raise AFMattingError(f"ddc_band_pairs needs an (H, W, 3) image matching unknown {unknown.shape}, got {image.shape}.")
    empty = np.zeros(0, dtype=np.int64)
    if not unknown.any():
        return DDCPairs(empty, empty, np.zeros(0), count_valid_pairs(h, w, kernel_size), (h, w))
    # pixels whose window holds an unknown pixel: only their pairs can touch the unknown region
    band = ndi.maximum_filter(unknown.view(np.uint8), size=2 * radius + 1, mode="constant").astype(bool)
    rows, cols = np.flatnonzero(band.any(1)), np.flatnonzero(band.any(0))
    # crop with a margin of one radius, so every band pixel's window is complete (or ends at the true border)
    top, bottom = max(rows[0] - radius, 0), min(rows[-1] + radius + 1, h)
    left, right = max(cols[0] - radius, 0), min(cols[-1] + radius + 1, w)
    crop = torch.from_numpy(np.ascontiguousarray(image[top:bottom, left:right])).permute(2, 0, 1)
    offsets = find_similar_neighbours(crop, kernel_size=kernel_size, padding="valid").numpy()  # (K, 2, h', w')
    band_y, band_x = np.nonzero(band[top:bottom, left:right])
    first_parts, second_parts = [], []
    for slot in range(offsets.shape[0]):
        dy = offsets[slot, 0, band_y, band_x].astype(np.int64)
        dx = offsets[slot, 1, band_y, band_x].astype(np.int64)
        present = dy != NO_NEIGHBOUR
        i = (band_y[present] + top) * w + band_x[present] + left
        j = i + dy[present] * w + dx[present]
        touches = unknown.ravel()[i] | unknown.ravel()[j]
        first_parts.append(i[touches])
        second_parts.append(j[touches])
    first, second = np.concatenate(first_parts), np.concatenate(second_parts)
    flat = image.reshape(-1, 3).astype(np.float64)
    distance = np.sqrt(((flat[first] - flat[second]) ** 2).sum(1))
    return DDCPairs(first, second, distance, count_valid_pairs(h, w, kernel_size), (h, w))


def band_ddc_sum(pairs: DDCPairs, alpha: np.ndarray) -> float:
    """Σ over the band's pairs of |(α_i − α_j) − d_ij| for a float (H, W) matte.

    Over the whole image, ``ddc_loss = (band_ddc_sum + known-known pairs' sum) / pairs.count``.
    """
    a = np.asarray(alpha, dtype=np.float64).ravel()
    return float(np.abs(a[pairs.first] - a[pairs.second] - pairs.distance).sum())
