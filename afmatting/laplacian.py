"""The closed-form matting Laplacian (Levin, Lischinski and Weiss, 2008), built only where it matters.

Inside every small window w of the image the local colour-line model says alpha is an affine function of colour;
``αᵀ L α`` measures how far a matte is from that, summed over windows. For a 3×3 window (``radius=1``) with mean
colour μ_w and covariance Σ_w, the contribution to ``L[i, j]`` for pixels i, j of the window is::

    δ_ij − (1 + (I_i − μ_w)ᵀ (Σ_w + ε/|w| · Id)⁻¹ (I_j − μ_w)) / |w|

A matte solver only moves the unknown pixels, and a window whose pixels are all known adds a constant to the energy:
:func:`laplacian_stencil` therefore builds only the windows named by ``window_mask`` (usually those touching the
unknown region), and :func:`restrict_to_unknown` cuts out the unknown × unknown block and the known pixels' pull.

``L`` is stored as a *stencil*: a float64 array (n_offsets, H, W) whose plane k holds ``L[i, i + offset_k]`` at pixel
i, for the ``(2·radius + 1)²``-pixel neighbourhood offsets (25 for radius 1). Accumulating into planes costs a few
array operations per window pixel pair instead of a sparse assembly with duplicate summing.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from .errors import AFMattingError

__all__ = ["laplacian_offsets", "laplacian_stencil", "restrict_to_unknown", "window_centres"]

#: the regulariser of the window covariance (Levin et al.'s ε); small values keep edges sharp
DEFAULT_EPSILON = 1e-7


def laplacian_offsets(radius: int = 1) -> np.ndarray:
    """int64 (n, 2) (dy, dx) offsets between two pixels of one window: all of [-2r, 2r]², row-major."""
    span = np.arange(-2 * radius, 2 * radius + 1)
    dy, dx = np.meshgrid(span, span, indexing="ij")
    return np.stack([dy.ravel(), dx.ravel()], axis=1)


def window_centres(height: int, width: int, mask: np.ndarray | None = None, radius: int = 1) -> np.ndarray:
    """Flat indices (int64, sorted) of the centres of the windows that lie fully inside the image.

    ``mask``: optional bool (H, W); only centres where it is True are kept.
    """
    inside = np.zeros((height, width), dtype=bool)
    inside[radius:height - radius, radius:width - radius] = True
    if mask is not None:
        inside &= np.asarray(mask, dtype=bool)
    return np.flatnonzero(inside)


#: window centres handled at once by :func:`laplacian_stencil`: its per-window float64 temporaries cost about
#: 2.5 KB a window, so a chunk bounds them to about 80 MB whatever the number of windows
WINDOW_CHUNK = 32768


def laplacian_stencil(
    image: np.ndarray,
    window_mask: np.ndarray | None = None,
    epsilon: float = DEFAULT_EPSILON,
    radius: int = 1,
    dtype=np.float64,
) -> np.ndarray:
    """The matting Laplacian of the windows centred in ``window_mask``, as a stencil.

    Args:
        image: float (H, W, 3) RGB in [0, 1].
        window_mask: optional bool (H, W): the window centres to include (default: every window inside the image).
        epsilon: the covariance regulariser ε.
        radius: window radius (1 gives 3×3 windows).
        dtype: the stencil's dtype (each window is computed in float64; float32 storage halves the memory).

    Returns:
        ``dtype`` (n, H, W), n = (4·radius + 1)²: plane k holds L[i, i + offset_k] (offsets of
        :func:`laplacian_offsets`) at pixel i; zero where no included window covers both pixels. Memory: the
        stencil plus a bounded working set (windows are handled WINDOW_CHUNK at a time).
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise AFMattingError(f"matting Laplacian needs an (H, W, 3) RGB image, got shape {image.shape}.")
    if window_mask is not None and np.shape(window_mask) != image.shape[:2]:
        raise AFMattingError(f"window_mask must be {image.shape[:2]}, got {np.shape(window_mask)}.")
    h, w = image.shape[:2]
    offsets = laplacian_offsets(radius)
    span = 4 * radius + 1
    stencil = np.zeros((len(offsets), h * w), dtype=dtype)
    centres = window_centres(h, w, window_mask, radius)
    size = (2 * radius + 1) ** 2
    r = np.arange(-radius, radius + 1)
    win_dy, win_dx = (a.ravel() for a in np.meshgrid(r, r, indexing="ij"))
    # the stencil plane of each pair (a, b) of window pixels: the offset from pixel a to pixel b
    plane_of = (win_dy[None, :] - win_dy[:, None] + 2 * radius) * span + (win_dx[None, :] - win_dx[:, None] + 2 * radius)
    colours_flat = image.reshape(-1, 3)
    identity = np.eye(size)
    for first in range(0, len(centres), WINDOW_CHUNK):
        pixels = centres[first:first + WINDOW_CHUNK, None] + (win_dy * w + win_dx)[None, :]  # (n, size) flat index
        colours = colours_flat[pixels].astype(np.float64)  # (n, size, 3)
        centred = colours - colours.mean(axis=1, keepdims=True)
        cov = np.matmul(centred.transpose(0, 2, 1), centred) / size + (epsilon / size) * np.eye(3)
        projected = np.matmul(centred, np.linalg.inv(cov))  # (n, size, 3)
        # L[p, q] += δ_pq − (1 + (I_p − μ)ᵀ Σ⁻¹ (I_q − μ)) / |w| for the window pixels p, q
        block = identity - (1.0 + np.matmul(projected, centred.transpose(0, 2, 1))) / size  # (n, size, size)
        for a in range(size):
            for b in range(size):
                # within one chunk and one pair (a, b) the target pixels are distinct: plain fancy += sums correctly
                stencil[plane_of[a, b], pixels[:, a]] += block[:, a, b]
    return stencil.reshape(len(offsets), h, w)


def restrict_to_unknown(stencil: np.ndarray, unknown: np.ndarray, known_alpha: np.ndarray, radius: int = 1,
                        dtype=np.float64):
    """Split ``αᵀ L α`` into the unknown block and the pull of the fixed known pixels.

    With α = (α_u, α_k) and α_k fixed, ``αᵀ L α = α_uᵀ L_uu α_u + 2 α_uᵀ (L_uk α_k) + const``.

    Args:
        stencil: float (n, H, W) from :func:`laplacian_stencil`.
        unknown: bool (H, W), the free pixels.
        known_alpha: float (H, W); its values on the known pixels (``~unknown``) are used.
        dtype: the matrix's value dtype (float32 halves its memory; the pull is always float64).

    Returns:
        ``(L_uu, b)``: scipy CSR (m, m) over the unknown pixels in row-major order (m = unknown.sum()), ``dtype``
        values, sorted int32 column indices, every diagonal entry stored (so a caller can add to the diagonal in
        place); and float64 (m,) ``b = L_uk α_k``. Built in two passes over the offsets (count, then fill) straight
        into the CSR arrays: about 8 bytes per stored entry plus a few (m,) arrays, nothing per entry besides.
    """
    n, h, w = stencil.shape
    unknown = np.asarray(unknown, dtype=bool)
    flat_unknown = np.flatnonzero(unknown)
    m = len(flat_unknown)
    position = np.full(h * w, -1, dtype=np.int32 if m < 2**31 else np.int64)
    position[flat_unknown] = np.arange(m)
    ys, xs = np.divmod(flat_unknown, w)
    known_flat = np.where(unknown, 0.0, np.asarray(known_alpha, dtype=np.float64)).ravel()
    planes = stencil.reshape(n, -1)
    offsets = laplacian_offsets(radius)
    centre = len(offsets) // 2

    def entries(k):
        """For offset k: (rows of the unknown pixels with a stored entry, their values, the other pixel's flat
        index, its unknown position or -1)."""
        dy, dx = offsets[k]
        src = np.flatnonzero((ys + dy >= 0) & (ys + dy < h) & (xs + dx >= 0) & (xs + dx < w))
        value = planes[k, flat_unknown[src]]
        keep = value != 0
        if k == centre:
            keep[:] = True  # the diagonal is always stored
        src, value = src[keep], value[keep]
        dst = flat_unknown[src] + dy * w + dx
        return src, value, dst, position[dst]

    counts = np.zeros(m, dtype=np.int64)
    pull = np.zeros(m, dtype=np.float64)
    for k in range(n):
        src, value, dst, dst_pos = entries(k)
        free = dst_pos >= 0
        counts[src[free]] += 1  # src is unique within one offset
        pull[src[~free]] += value[~free] * known_flat[dst[~free]]
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    index_dtype = np.int32 if indptr[-1] < 2**31 else np.int64
    data = np.empty(int(indptr[-1]), dtype=dtype)
    indices = np.empty(int(indptr[-1]), dtype=index_dtype)
    fill = indptr[:-1].copy()
    del counts
    # offsets run in row-major order, so each row's columns arrive increasing: the CSR comes out sorted
    for k in range(n):
        src, value, _, dst_pos = entries(k)
        free = dst_pos >= 0
        rows = src[free]
        slots = fill[rows]
        data[slots] = value[free]
        indices[slots] = dst_pos[free]
        fill[rows] += 1
    matrix = scipy.sparse.csr_matrix((data, indices, indptr.astype(index_dtype)), shape=(m, m), copy=False)
    matrix.has_sorted_indices = True
    return matrix, pull
