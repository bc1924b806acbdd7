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


def laplacian_stencil(
    image: np.ndarray,
    window_mask: np.ndarray | None = None,
    epsilon: float = DEFAULT_EPSILON,
    radius: int = 1,
) -> np.ndarray:
    """The matting Laplacian of the windows centred in ``window_mask``, as a stencil.

    Args:
        image: float (H, W, 3) RGB in [0, 1].
        window_mask: optional bool (H, W): the window centres to include (default: every window inside the image).
        epsilon: the covariance regulariser ε.
        radius: window radius (1 gives 3×3 windows).

    Returns:
        float64 (n, H, W), n = (4·radius + 1)²: plane k holds L[i, i + offset_k] (offsets of
        :func:`laplacian_offsets`) at pixel i; zero where no included window covers both pixels.
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 3 or image.shape[2] != 3:
        raise AFMattingError(f"matting Laplacian needs an (H, W, 3) RGB image, got shape {image.shape}.")
    if window_mask is not None and np.shape(window_mask) != image.shape[:2]:
        raise AFMattingError(f"window_mask must be {image.shape[:2]}, got {np.shape(window_mask)}.")
    h, w = image.shape[:2]
    offsets = laplacian_offsets(radius)
    span = 4 * radius + 1
    stencil = np.zeros((len(offsets), h * w), dtype=np.float64)
    centres = window_centres(h, w, window_mask, radius)
    if len(centres) == 0:
        return stencil.reshape(len(offsets), h, w)
    size = (2 * radius + 1) ** 2
    r = np.arange(-radius, radius + 1)
    win_dy, win_dx = (a.ravel() for a in np.meshgrid(r, r, indexing="ij"))
    pixels = centres[:, None] + (win_dy * w + win_dx)[None, :]  # (n, size) flat index of each window pixel
    colours = image.reshape(-1, 3)[pixels]  # (n, size, 3)
    centred = colours - colours.mean(axis=1, keepdims=True)
    cov = np.matmul(centred.transpose(0, 2, 1), centred) / size + (epsilon / size) * np.eye(3)
    projected = np.matmul(centred, np.linalg.inv(cov))  # (n, size, 3)
    affinity = (1.0 + np.matmul(projected, centred.transpose(0, 2, 1))) / size  # (n, size, size)
    # L[p, q] += δ_pq − affinity for every window; one weighted bincount over (stencil plane, pixel p) sums them all
    plane_of = (win_dy[None, :] - win_dy[:, None] + 2 * radius) * span + (win_dx[None, :] - win_dx[:, None] + 2 * radius)
    target = plane_of[None, :, :] * (h * w) + pixels[:, :, None]
    stencil = np.bincount(target.ravel(), weights=(np.eye(size)[None] - affinity).ravel(), minlength=stencil.size)
    return stencil.reshape(len(offsets), h, w)


def restrict_to_unknown(stencil: np.ndarray, unknown: np.ndarray, known_alpha: np.ndarray, radius: int = 1):
    """Split ``αᵀ L α`` into the unknown block and the pull of the fixed known pixels.

    With α = (α_u, α_k) and α_k fixed, ``αᵀ L α = α_uᵀ L_uu α_u + 2 α_uᵀ (L_uk α_k) + const``.

    Args:
        stencil: float64 (n, H, W) from :func:`laplacian_stencil`.
        unknown: bool (H, W), the free pixels.
        known_alpha: float (H, W); its values on the known pixels (``~unknown``) are used.

    Returns:
        ``(L_uu, b)``: scipy CSR (m, m) over the unknown pixels in row-major order (m = unknown.sum()), and float64
        (m,) ``b = L_uk α_k``.
    """
    n, h, w = stencil.shape
    unknown = np.asarray(unknown, dtype=bool)
    flat_unknown = np.flatnonzero(unknown)
    m = len(flat_unknown)
    position = np.full(h * w, -1, dtype=np.int64)
    position[flat_unknown] = np.arange(m)
    ys, xs = np.divmod(flat_unknown, w)
    known_flat = np.where(unknown, 0.0, np.asarray(known_alpha, dtype=np.float64)).ravel()
    planes = stencil.reshape(n, -1)
    rows, cols, vals = [], [], []
    pull = np.zeros(m, dtype=np.float64)
    for k, (dy, dx) in enumerate(laplacian_offsets(radius)):
        ok = (ys + dy >= 0) & (ys + dy < h) & (xs + dx >= 0) & (xs + dx < w)
        src = np.flatnonzero(ok)
        value = planes[k, flat_unknown[src]]
        nonzero = value != 0
        src, value = src[nonzero], value[nonzero]
        dst = flat_unknown[src] + dy * w + dx
        dst_pos = position[dst]
        free = dst_pos >= 0
        rows.append(src[free])
        cols.append(dst_pos[free])
        vals.append(value[free])
        pull[src[~free]] += value[~free] * known_flat[dst[~free]]  # src is unique within one offset
    matrix = scipy.sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(m, m)
    )
    return matrix, pull
