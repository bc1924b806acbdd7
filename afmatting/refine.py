"""Test-time refinement: solve for the unknown pixels of a matte, starting from the network's prediction, no labels.

The variables are the trimap's unknown pixels only; the known pixels are fixed at 0 or 1. The energy is::

    E(α) = αᵀ L α  +  λ Σ_unknown (α_i − p_i)²

* ``αᵀ L α``: the closed-form matting Laplacian (Levin et al. 2008; :mod:`afmatting.laplacian`), the classical
  colour-line prior, built only over the 3×3 windows that touch the unknown region.
* ``λ Σ (α − p)²``: a weak pull towards the network's matte ``p``. This is where what the network learned without
  labels enters: where the colour lines are ambiguous (similar foreground and background colours), the pull decides.

A DDC term (the paper's loss on the pairs touching the unknown region, by IRLS) was measured on alphamatting and does
not improve on these two terms (the network, trained with DDC, already carries it); it lives in
``benchmarks/baselines/refine_ddc.py`` as a baseline.

The quadratic part is one sparse symmetric positive definite system over the unknown pixels, solved by conjugate
gradients with a Jacobi preconditioner. CG only propagates information a few pixels per iteration, so the solve runs
coarse to fine (1/4, 1/2 and full working size by default): each level starts from the previous level's solution,
upsampled, and the first from the network's matte. Images larger than ``max_side`` are solved at that size and the
correction is upsampled and added to the full-size matte.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.ndimage as ndi
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from .errors import AFMattingError
from .laplacian import DEFAULT_EPSILON, laplacian_stencil, restrict_to_unknown
from .processing import resize_tensor
from .trimap import BACKGROUND, FOREGROUND, UNKNOWN

__all__ = ["RefineSettings", "check_refine_inputs", "level_sizes", "level_system", "refine_alpha", "solve_level"]

#: λ, the pull towards the network's matte (chosen on alphamatting Trimap1: see docs/results.md, refinement sweep)
DEFAULT_PRIOR_WEIGHT = 3e-5
#: CG iterations per level at most (chosen with λ on alphamatting Trimap1: 150 scored better than 300, the start
#: from the network's matte acts as a regulariser when the solve is not run to its end)
DEFAULT_MAX_ITERATIONS = 150
#: working-size fractions of the coarse-to-fine solve
DEFAULT_SCALES = (0.25, 0.5, 1.0)
#: long side of the finest level (bounds time and memory; the correction is upsampled beyond it)
DEFAULT_REFINE_MAX_SIDE = 1024
#: levels whose short side would be below this are skipped
MIN_LEVEL_SIDE = 32


@dataclass(frozen=True)
class RefineSettings:
    """Settings of :func:`refine_alpha` (the defaults are what ``predict`` uses).

    Attributes:
        prior_weight: λ, the pull towards the network's matte (per pixel, relative to the Laplacian's scale).
        laplacian_weight: weight of the matting Laplacian (0 leaves it out).
        epsilon: the Laplacian's covariance regulariser.
        scales: working-size fractions solved coarse to fine.
        max_side: long side of the finest level (None: full size).
        tolerance: CG stops at this relative residual; max_iterations: or after this many iterations (per level).
    """

    prior_weight: float = DEFAULT_PRIOR_WEIGHT
    laplacian_weight: float = 1.0
    epsilon: float = DEFAULT_EPSILON
    scales: tuple = DEFAULT_SCALES
    max_side: int | None = DEFAULT_REFINE_MAX_SIDE
    tolerance: float = 1e-4
    max_iterations: int = DEFAULT_MAX_ITERATIONS

    def check(self) -> "RefineSettings":
        if np.ndim(self.prior_weight) == 0 and not self.prior_weight > 0:  # arrays: check_prior_weight
            raise AFMattingError(f"refine prior_weight must be > 0 (it keeps the system well posed), got "
                                 f"{self.prior_weight}.")
        if self.laplacian_weight < 0:
            raise AFMattingError("refine laplacian_weight must be >= 0.")
        if self.max_side is not None and self.max_side < MIN_LEVEL_SIDE:
            raise AFMattingError(f"refine max_side must be at least {MIN_LEVEL_SIDE}, got {self.max_side}.")
        for scale in self.scales:
            if not 0 < scale <= 1:
                raise AFMattingError(f"refine scales must be in (0, 1], got {scale}.")
        return self


def level_sizes(height: int, width: int, scales=DEFAULT_SCALES, max_side: int | None = None) -> list:
    """(h, w) of each level: ``scales`` of the working size (the input capped at ``max_side``), coarse to fine.
    The finest level is always kept; coarser ones whose short side is below ``MIN_LEVEL_SIDE`` are skipped."""
    top = 1.0 if max_side is None or max(height, width) <= max_side else max_side / max(height, width)
    sizes = []
    for scale in sorted(scales):
        size = (max(1, round(height * top * scale)), max(1, round(width * top * scale)))
        if size not in sizes and (scale == max(scales) or min(size) >= MIN_LEVEL_SIDE):
            sizes.append(size)
    return sizes


def level_system(image: np.ndarray, trimap: np.ndarray, prior: np.ndarray,
                 settings: RefineSettings = RefineSettings(), prior_weight=None, dtype=np.float64):
    """The quadratic part of the energy over the unknown pixels of one level: ``E = xᵀ A x − 2 bᵀ x + const``.

    Args:
        image: float (h, w, 3) RGB in [0, 1]; trimap: uint8 (h, w) {0, 128, 255}; prior: float (h, w), the matte p.
        prior_weight: λ, a number or float (h, w) >= 0 (a per-pixel pull); None: ``settings.prior_weight``.
        dtype: A's values (float32 halves its memory; :func:`solve_level` uses it).

    Returns:
        ``(unknown, known_alpha, A, b)``: bool (h, w) mask of the free pixels, float64 (h, w) alpha on the known
        ones (1 on foreground), scipy CSR (m, m) of ``dtype`` and float64 (m,) over the m unknown pixels in row-major
        order.

    Memory: the stencil and one CSR matrix (int32 indices) assembled straight from it: a few hundred bytes per
    pixel of the level at the peak in float32 (0.33 GB for an all-unknown 1024 x 683 level, 2.1 GB before);
    nothing is kept per window.
    """
    unknown = trimap == UNKNOWN
    known_alpha = (trimap == FOREGROUND).astype(np.float64)
    m = int(unknown.sum())
    weight = settings.prior_weight if prior_weight is None else prior_weight
    lam = np.asarray(weight, dtype=np.float64)[unknown] if np.ndim(weight) else np.full(m, float(weight))
    rhs = lam * np.asarray(prior, dtype=np.float64)[unknown]
    if settings.laplacian_weight and m:
        # windows centred on an unknown pixel or next to one are the only ones whose energy can change
        centres = ndi.maximum_filter(unknown.view(np.uint8), size=3, mode="constant").astype(bool)
        stencil = laplacian_stencil(image, centres, settings.epsilon, dtype=dtype)
        del centres
        matrix, pull = restrict_to_unknown(stencil, unknown, known_alpha, dtype=dtype)
        del stencil
        if settings.laplacian_weight != 1:
            matrix.data *= dtype(settings.laplacian_weight)
        matrix.setdiag(matrix.diagonal() + lam)  # every diagonal entry is stored: an in-place update
        rhs -= settings.laplacian_weight * pull
    else:
        matrix = sp.diags(lam).tocsr().astype(dtype)
    return unknown, known_alpha, matrix, rhs


def solve_level(image: np.ndarray, trimap: np.ndarray, prior: np.ndarray, start: np.ndarray | None = None,
                settings: RefineSettings = RefineSettings(), prior_weight=None) -> tuple[np.ndarray, int]:
    """Minimise the energy of the module docstring over the unknown pixels of one level.

    Args:
        image: float (h, w, 3) RGB in [0, 1]; trimap: uint8 (h, w) {0, 128, 255}.
        prior: float (h, w) in [0, 1], the network's matte p; start: float (h, w), the CG starting point
            (default ``prior``).
        prior_weight: λ, a number or float (h, w) >= 0 (a per-pixel pull); None: ``settings.prior_weight``.

    Returns:
        (alpha float64 (h, w) in [0, 1], equal to the trimap on its known pixels; CG iterations used).

    Memory: :func:`level_system`'s in float32, plus a few (m,) vectors.
    """
    # float32 halves the memory and traffic of each sparse product; the CG tolerance is far above its precision
    unknown, known_alpha, matrix, rhs = level_system(image, trimap, prior, settings, prior_weight, dtype=np.float32)
    if not unknown.any():
        return known_alpha, 0
    x = np.asarray(prior if start is None else start, dtype=np.float64)[unknown]
    iterations = [0]

    def count(_):
        iterations[0] += 1

    rhs, x = rhs.astype(np.float32), x.astype(np.float32)
    preconditioner = sp.diags((1.0 / matrix.diagonal()).astype(matrix.dtype))
    x, _ = spla.cg(matrix, rhs, x0=x, rtol=settings.tolerance, maxiter=settings.max_iterations,
                   M=preconditioner, callback=count)
    alpha = known_alpha.copy()
    alpha[unknown] = np.clip(x, 0.0, 1.0)
    return alpha, iterations[0]


def _resize(x: np.ndarray, size, mode: str = "bilinear") -> np.ndarray:
    """float (H, W) or (H, W, C) numpy -> the same at ``size``, through :func:`afmatting.processing.resize_tensor`."""
    if tuple(x.shape[:2]) == tuple(size):
        return x
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    t = resize_tensor(t.permute(2, 0, 1)[None] if t.dim() == 3 else t[None, None], size, mode)
    return (t[0].permute(1, 2, 0) if x.ndim == 3 else t[0, 0]).numpy()


def check_refine_inputs(image, trimap, alpha) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a refinement's inputs: image float32 (H, W, 3), trimap uint8 (H, W) {0, 128, 255}, alpha float32
    (H, W), all finite and of one size; returns them as those arrays or raises :class:`AFMattingError`."""
    image = np.asarray(image, dtype=np.float32)
    trimap = np.asarray(trimap)
    alpha = np.asarray(alpha, dtype=np.float32)
    h, w = trimap.shape[:2]
    if trimap.ndim != 2 or image.shape != (h, w, 3) or alpha.shape != (h, w):
        raise AFMattingError(
            f"refine_alpha needs image (H, W, 3), trimap (H, W) and alpha (H, W) of one size; got image "
            f"{image.shape}, trimap {trimap.shape}, alpha {alpha.shape}."
        )
    if not np.isin(trimap, (BACKGROUND, UNKNOWN, FOREGROUND)).all():
        raise AFMattingError("refine_alpha needs a trimap with values 0, 128 and 255 only (see load_trimap).")
    if not np.isfinite(alpha).all() or not np.isfinite(image).all():
        raise AFMattingError("refine_alpha got non-finite values in the image or the matte.")
    return image, trimap.astype(np.uint8), alpha


def check_prior_weight(prior_weight, shape) -> float | np.ndarray:
    """A per-pixel pull: a number > 0, or a float (H, W) array of ``shape``, finite and >= 0 -> float32 (H, W)."""
    if np.ndim(prior_weight) == 0:
        if not float(prior_weight) > 0:
            raise AFMattingError(f"refine prior_weight must be > 0 (it keeps the system well posed), got "
                                 f"{prior_weight}.")
        return float(prior_weight)
    weight = np.asarray(prior_weight, dtype=np.float32)
    if weight.shape != tuple(shape):
        raise AFMattingError(f"refine prior_weight must be a number or an (H, W) = {tuple(shape)} array, got shape "
                             f"{weight.shape}.")
    if not np.isfinite(weight).all() or weight.min() < 0:
        raise AFMattingError("refine prior_weight must be finite and >= 0 everywhere.")
    return weight


def refine_alpha(
    image: np.ndarray,
    trimap: np.ndarray,
    alpha: np.ndarray,
    settings: RefineSettings | None = None,
    *,
    on_level=None,
    prior_weight=None,
    solve=solve_level,
) -> np.ndarray:
    """Refine a network's matte with the colour-line prior, coarse to fine; no labels involved.

    Args:
        image: float32 (H, W, 3) RGB in [0, 1].
        trimap: uint8 (H, W) with values {0, 128, 255} (as :func:`afmatting.trimap.load_trimap` returns).
        alpha: float32 (H, W) in [0, 1], the network's matte (the prior and the starting point).
        settings: :class:`RefineSettings` (default: ``RefineSettings()``).
        on_level: optional callback ``(level_index, n_levels, cg_iterations)`` after each level (progress).
        prior_weight: λ per pixel: a number, or float32 (H, W) >= 0 multiplying the pull term (resized with each
            level); None: ``settings.prior_weight``.
        solve: the per-level solver, :func:`solve_level`'s signature (the benchmarks' baselines pass variants; a
            per-pixel ``prior_weight`` reaches it as its ``prior_weight`` keyword).

    Returns:
        float32 (H, W) in [0, 1]; 0 on the trimap's background, 1 on its foreground.

    Memory: a few full-size float32 planes (the start, the correction) plus the solve at ``settings.max_side``
    (:func:`solve_level`); independent of how much of the trimap is unknown beyond that.
    """
    settings = (settings or RefineSettings()).check()
    image, trimap, alpha = check_refine_inputs(image, trimap, alpha)
    h, w = trimap.shape
    weight = check_prior_weight(settings.prior_weight if prior_weight is None else prior_weight, (h, w))
    unknown = trimap == UNKNOWN
    # the start: the network's matte on the unknown pixels, the trimap's labels elsewhere (built in place)
    start_full = np.clip(alpha, 0.0, 1.0)
    np.copyto(start_full, trimap == FOREGROUND, where=~unknown)
    if not unknown.any():
        return start_full
    del unknown
    sizes = level_sizes(h, w, settings.scales, settings.max_side)
    solution = None
    for index, size in enumerate(sizes):
        level_trimap = _resize_labels(trimap, size)
        level_prior = _resize(start_full, size)
        start = level_prior if solution is None else _resize(solution.astype(np.float32), size)
        if np.ndim(weight) == 0:  # a number travels in the settings, so any solver honours it
            solution, iterations = solve(_resize(image, size), level_trimap, level_prior, start,
                                         replace(settings, prior_weight=weight))
        else:
            solution, iterations = solve(_resize(image, size), level_trimap, level_prior, start, settings,
                                         prior_weight=_resize(weight, size))
        if on_level is not None:
            on_level(index, len(sizes), iterations)
    if tuple(sizes[-1]) == (h, w):
        result = solution.astype(np.float32)
    else:
        # solved below full size: add the upsampled correction, so the network's full-size detail survives
        result = _resize((solution - _resize(start_full, sizes[-1])).astype(np.float32), (h, w))
        result += start_full
        np.clip(result, 0.0, 1.0, out=result)
    del start_full
    unknown = trimap == UNKNOWN
    np.copyto(result, trimap == FOREGROUND, where=~unknown)
    return result


def _resize_labels(trimap: np.ndarray, size) -> np.ndarray:
    """uint8 (H, W) trimap -> uint8 at ``size``, nearest neighbour (as :func:`_resize` with ``"nearest"``), without
    a full-size float copy."""
    if tuple(trimap.shape) == tuple(size):
        return trimap
    t = resize_tensor(torch.from_numpy(np.ascontiguousarray(trimap))[None, None], size, "nearest")
    return t[0, 0].numpy()
