"""Foreground colour estimation: multi-level, in torch (the idea of Germer et al.'s "fast multi-level foreground
estimation", as in pymatting's ``estimate_foreground_ml``).

Given an image I and its alpha, find F and B with I ≈ αF + (1 − α)B that vary smoothly where alpha does. A cut-out
built from F (instead of I) shows no fringe of the old background in semi-transparent pixels.
The problem is solved coarse to fine; on each level every pixel's (F, B) solves a 2x2 least-squares system given its
four neighbours (a Jacobi sweep, vectorised over the whole image).
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
):
    """Estimate foreground (and background) colours.

    Args:
        image: (H, W, 3) float in [0, 1] (numpy or torch).
        alpha: (H, W) float in [0, 1].
        regularization: ε, smoothness everywhere.
        gradient_weight: ω, extra smoothness where alpha changes.
        small_size / small_iterations / big_iterations: levels up to ``small_size`` pixels get more sweeps.

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
    h, w = a.shape
    img = img.permute(2, 0, 1).contiguous()  # (3, H, W)
    a = a.clamp(0, 1)[None]  # (1, H, W)
    n_levels = max(1, math.ceil(math.log2(max(h, w))))
    fg = bg = None
    for level in range(n_levels + 1):
        lh = max(1, round(h ** (level / n_levels)))
        lw = max(1, round(w ** (level / n_levels)))
        if level == n_levels:
            li, la = img, a
        else:
            li = F.interpolate(img[None], size=(lh, lw), mode="area")[0]
            la = F.interpolate(a[None], size=(lh, lw), mode="area")[0]
        if fg is None:
            mean = li.mean(dim=(1, 2), keepdim=True)
            fg, bg = mean.expand_as(li).clone(), mean.expand_as(li).clone()
        else:
            fg = F.interpolate(fg[None], size=(lh, lw), mode="nearest")[0]
            bg = F.interpolate(bg[None], size=(lh, lw), mode="nearest")[0]
        weights = _neighbour_weights(la, regularization, gradient_weight)
        wsum = weights[0] + weights[1] + weights[2] + weights[3]
        a11 = la * la + wsum
        a12 = la * (1 - la)
        a22 = (1 - la) * (1 - la) + wsum
        det = (a11 * a22 - a12 * a12).clamp_min(1e-12)
        iterations = small_iterations if max(lh, lw) <= small_size else big_iterations
        for _ in range(iterations):
            b1 = la * li + _neighbour_sum(fg, weights)
            b2 = (1 - la) * li + _neighbour_sum(bg, weights)
            fg = ((a22 * b1 - a12 * b2) / det).clamp_(0, 1)
            bg = ((a11 * b2 - a12 * b1) / det).clamp_(0, 1)
    fg_np = fg.permute(1, 2, 0).cpu().numpy().astype(np.float32)
    if return_background:
        return fg_np, bg.permute(1, 2, 0).cpu().numpy().astype(np.float32)
    return fg_np
