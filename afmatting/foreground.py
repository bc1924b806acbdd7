"""Foreground colour estimation: multi-level, in torch (the idea of Germer et al.'s "fast multi-level foreground
estimation", as in pymatting's ``estimate_foreground_ml``).

Given an image I and its alpha, find F and B with I ≈ αF + (1 − α)B that vary smoothly where alpha does. A cut-out
built from F (instead of I) shows no fringe of the old background in semi-transparent pixels.
The problem is solved coarse to fine; on each level every pixel's (F, B) solves a 2x2 least-squares system given its
four neighbours (a Jacobi sweep).

Memory stays small and constant per pixel: each level is swept in tiles with a halo as wide as the number of
sweeps. A Jacobi sweep moves information by one pixel, so the halo absorbs the tile edge's error and every tile's
inside equals the untiled result exactly; only the level's F and B (and the output) are held at full size.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InvalidImageError


def _neighbour_sum(x: torch.Tensor, w: list[torch.Tensor]) -> torch.Tensor:
    """Σ_j w_j x_j over the 4-neighbourhood; x (C, H, W), w four (1, H, W) weights (0 outside the image)."""
    xp = F.pad(x[None], (1, 1, 1, 1), mode="replicate")[0]
    return (w[0] * xp[:, :-2, 1:-1] + w[1] * xp[:, 2:, 1:-1] + w[2] * xp[:, 1:-1, :-2] + w[3] * xp[:, 1:-1, 2:])


def _neighbour_weights(alpha: torch.Tensor, regularization: float, gradient_weight: float) -> list[torch.Tensor]:
    """Smoothness weights ε + ω|α_i − α_j| to the up, down, left and right neighbours; 0 across the border."""
    ap = F.pad(alpha[None], (1, 1, 1, 1), mode="replicate")[0]
    weights = []
    for nb, (axis, edge) in zip(
        (ap[:, :-2, 1:-1], ap[:, 2:, 1:-1], ap[:, 1:-1, :-2], ap[:, 1:-1, 2:]),
        ((1, 0), (1, -1), (2, 0), (2, -1)),
    ):
        w = regularization + gradient_weight * (alpha - nb).abs()
        idx = [slice(None)] * 3
        idx[axis] = edge
        w[tuple(idx)] = 0.0  # the replicated border is not a real neighbour
        weights.append(w)
    return weights


#: side of the square tiles a level is swept in (plus the halo); ~200 bytes per tile pixel of working memory
DEFAULT_TILE_SIZE = 512


def _level_sizes(h: int, w: int) -> list[tuple[int, int]]:
    """(h, w) of each level, coarse to fine; the last is the full size."""
    n_levels = max(1, math.ceil(math.log2(max(h, w))))
    return [(max(1, round(h ** (level / n_levels))), max(1, round(w ** (level / n_levels))))
            for level in range(n_levels + 1)]


def _nearest_index(in_size: int, out_size: int) -> torch.Tensor:
    """int64 (out_size,) source indices that ``F.interpolate(mode="nearest")`` uses along one axis."""
    grid = torch.arange(in_size, dtype=torch.float32).view(1, 1, in_size)
    return F.interpolate(grid, size=out_size, mode="nearest").view(out_size).long()


def _sweep(li, la, fg, bg, iterations: int, regularization: float, gradient_weight: float):
    """Jacobi sweeps on one region. li (3, h, w), la (1, h, w) in [0, 1], fg/bg (3, h, w) initial colours.

    Returns the swept (fg, bg), float32 (3, h, w) in [0, 1]. The region's edges count as image borders.
    """
    weights = _neighbour_weights(la, regularization, gradient_weight)
    wsum = weights[0] + weights[1] + weights[2] + weights[3]
    a11 = la * la + wsum
    a12 = la * (1 - la)
    a22 = (1 - la) * (1 - la) + wsum
    det = (a11 * a22 - a12 * a12).clamp_min(1e-12)
    for _ in range(iterations):
        b1 = la * li + _neighbour_sum(fg, weights)
        b2 = (1 - la) * li + _neighbour_sum(bg, weights)
        fg = ((a22 * b1 - a12 * b2) / det).clamp_(0, 1)
        bg = ((a11 * b2 - a12 * b1) / det).clamp_(0, 1)
    return fg, bg


def _tiles(length: int, tile: int) -> list[tuple[int, int]]:
    """[start, stop) ranges of at most ``tile`` covering 0..length."""
    return [(start, min(length, start + tile)) for start in range(0, length, tile)]


@torch.no_grad()
def estimate_foreground(
    image: np.ndarray | torch.Tensor,
    alpha: np.ndarray | torch.Tensor,
    regularization: float = 1e-5,
    gradient_weight: float = 1.0,
    small_size: int = 32,
    small_iterations: int = 10,
    big_iterations: int = 3,
    return_background: bool = False,
    device: str | torch.device | None = None,
    tile_size: int = DEFAULT_TILE_SIZE,
):
    """Estimate foreground (and background) colours.

    Args:
        image: (H, W, 3) float in [0, 1] (numpy or torch).
        alpha: (H, W) float in [0, 1] (values outside are clamped).
        regularization: ε, smoothness everywhere.
        gradient_weight: ω, extra smoothness where alpha changes.
        small_size / small_iterations / big_iterations: levels up to ``small_size`` pixels get more sweeps.
        tile_size: levels are swept in tiles of this side (the result does not depend on it); working memory is
            about 200 bytes per tile pixel on top of ~25 bytes per image pixel.

    Returns:
        float32 numpy (H, W, 3) foreground in [0, 1], and the background too when ``return_background``.
    """
    img = torch.as_tensor(np.asarray(image) if not torch.is_tensor(image) else image, dtype=torch.float32)
    a = torch.as_tensor(np.asarray(alpha) if not torch.is_tensor(alpha) else alpha, dtype=torch.float32)
    if device is not None:
        img, a = img.to(device), a.to(device)
    if img.ndim != 3 or img.shape[2] != 3 or a.shape != img.shape[:2]:
        raise InvalidImageError(
            f"image must be (H, W, 3) and alpha (H, W); got {tuple(img.shape)} and {tuple(a.shape)}.")
    if tile_size < 1:
        raise ValueError(f"tile_size must be >= 1, got {tile_size}.")
    h, w = a.shape
    img = img.permute(2, 0, 1)  # (3, H, W) view of the (H, W, 3) memory: no full-size copy
    if a.numel() and (a.min() < 0 or a.max() > 1):
        a = a.clamp(0, 1)
    a = a[None]  # (1, H, W)
    sizes = _level_sizes(h, w)
    fg = bg = None
    for level, (lh, lw) in enumerate(sizes):
        final = level == len(sizes) - 1
        if final:
            li, la = img, a
        else:
            li = F.interpolate(img[None], size=(lh, lw), mode="area")[0]
            la = F.interpolate(a[None], size=(lh, lw), mode="area")[0]
        iterations = small_iterations if max(lh, lw) <= small_size else big_iterations
        if fg is None:
            mean = li.mean(dim=(1, 2), keepdim=True)
            prev_fg = prev_bg = mean  # (3, 1, 1): every pixel starts at the mean colour
            rows, cols = torch.zeros(lh, dtype=torch.long), torch.zeros(lw, dtype=torch.long)
        else:
            prev_fg, prev_bg = fg, bg
            rows, cols = _nearest_index(prev_fg.shape[1], lh), _nearest_index(prev_fg.shape[2], lw)
        rows, cols = rows.to(li.device), cols.to(li.device)
        # the last level writes straight into the (H, W, 3) result; earlier levels keep (3, h, w) for the next one
        if final:
            out_fg = torch.empty((lh, lw, 3), dtype=torch.float32, device=li.device).permute(2, 0, 1)
            out_bg = torch.empty_like(out_fg) if return_background else None
        else:
            out_fg = torch.empty((3, lh, lw), dtype=torch.float32, device=li.device)
            out_bg = torch.empty_like(out_fg)
        halo = iterations
        for y0, y1 in _tiles(lh, tile_size):
            for x0, x1 in _tiles(lw, tile_size):
                ty0, ty1, tx0, tx1 = max(0, y0 - halo), min(lh, y1 + halo), max(0, x0 - halo), min(lw, x1 + halo)
                r, c = rows[ty0:ty1], cols[tx0:tx1]
                # the previous level's colours, upsampled (nearest) for this tile only
                init_fg, init_bg = prev_fg[:, r][:, :, c], prev_bg[:, r][:, :, c]
                tile_fg, tile_bg = _sweep(li[:, ty0:ty1, tx0:tx1], la[:, ty0:ty1, tx0:tx1], init_fg, init_bg,
                                          iterations, regularization, gradient_weight)
                inner = (slice(None), slice(y0 - ty0, y1 - ty0), slice(x0 - tx0, x1 - tx0))
                out_fg[:, y0:y1, x0:x1] = tile_fg[inner]
                if out_bg is not None:
                    out_bg[:, y0:y1, x0:x1] = tile_bg[inner]
        fg, bg = out_fg, out_bg
        del li, la
    fg_np = fg.permute(1, 2, 0).cpu().numpy()
    if return_background:
        return fg_np, bg.permute(1, 2, 0).cpu().numpy()
    return fg_np
