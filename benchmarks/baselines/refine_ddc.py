"""The band solver of :mod:`afmatting.refine` with the paper's DDC term added, minimised by IRLS (a baseline).

Energy per level: ``αᵀ L α + λ Σ_unknown (α_i − p_i)² + β Σ_pairs |(α_i − α_j) − d_ij|`` over the DDC pairs that touch
the unknown region (:mod:`.ddc_band`). The absolute value is bounded by a quadratic around the current residual
``r0`` (``|r| ≤ r² / (2|r0|) + |r0| / 2``, equal at ``r0``); each round solves that quadratic by CG and moves ``r0``
(iteratively reweighted least squares). Measured on alphamatting it does not improve on the package's solver (the
network, trained with DDC, already carries it), so the package leaves it out.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from afmatting.refine import RefineSettings, level_system, refine_alpha

from .ddc_band import ddc_band_pairs

#: smoothing of |r|: it is replaced by r² / (2 max(|r0|, δ)) around r0
IRLS_DELTA = 0.01


def ddc_system(image: np.ndarray, unknown: np.ndarray, known_alpha: np.ndarray, kernel_size: int = 11):
    """Residuals of the band's DDC pairs as ``r = B x + c`` over the unknown pixels x (row-major order).

    Returns:
        ``(B, c)``: scipy CSR (pairs, m) and float (pairs,).
    """
    pairs = ddc_band_pairs(image, unknown, kernel_size)
    position = np.full(unknown.size, -1, dtype=np.int64)
    position[np.flatnonzero(unknown)] = np.arange(int(unknown.sum()))
    pi, pj = position[pairs.first], position[pairs.second]
    rows = np.arange(len(pi))
    free_i, free_j = pi >= 0, pj >= 0
    B = sp.csr_matrix(
        (np.concatenate([np.ones(free_i.sum()), -np.ones(free_j.sum())]),
         (np.concatenate([rows[free_i], rows[free_j]]), np.concatenate([pi[free_i], pj[free_j]]))),
        shape=(len(pi), int(unknown.sum())),
    )
    flat_known = known_alpha.ravel()
    c = np.where(free_i, 0.0, flat_known[pairs.first]) - np.where(free_j, 0.0, flat_known[pairs.second]) \
        - pairs.distance
    return B, c


def solve_level_ddc(image: np.ndarray, trimap: np.ndarray, prior: np.ndarray, start: np.ndarray | None = None,
                    settings: RefineSettings = RefineSettings(), *, ddc_weight: float = 1e-4, kernel_size: int = 11,
                    irls_iterations: int = 3) -> tuple[np.ndarray, int]:
    """:func:`afmatting.refine.solve_level` with ``ddc_weight`` × the band's DDC sum added (see the module doc).

    Returns:
        (alpha float64 (h, w) in [0, 1], equal to the trimap on its known pixels; CG iterations used).
    """
    unknown, known_alpha, matrix, rhs = level_system(image, trimap, prior, settings)
    if not unknown.any():
        return known_alpha, 0
    m = int(unknown.sum())
    x = np.asarray(prior if start is None else start, dtype=np.float64)[unknown]
    B, c = ddc_system(np.asarray(image, dtype=np.float32), unknown, known_alpha, kernel_size)
    B_squared_t = B.multiply(B).T.tocsr()
    iterations = [0]

    def count(_):
        iterations[0] += 1

    for _ in range(irls_iterations):
        weight = ddc_weight / (2.0 * np.maximum(np.abs(B @ x + c), IRLS_DELTA))
        operator = spla.LinearOperator((m, m), matvec=lambda v, wt=weight: matrix @ v + B.T @ (wt * (B @ v)))
        preconditioner = sp.diags(1.0 / (matrix.diagonal() + B_squared_t @ weight))
        x, _ = spla.cg(operator, rhs - B.T @ (weight * c), x0=x, rtol=settings.tolerance,
                       maxiter=settings.max_iterations, M=preconditioner, callback=count)
    alpha = known_alpha.copy()
    alpha[unknown] = np.clip(x, 0.0, 1.0)
    return alpha, iterations[0]


def refine_alpha_ddc(image, trimap, alpha, settings: RefineSettings | None = None, *, ddc_weight: float = 1e-4,
                     kernel_size: int = 11, irls_iterations: int = 3) -> np.ndarray:
    """:func:`afmatting.refine.refine_alpha` (same shapes and coarse-to-fine schedule) with the DDC term on."""
    solve = partial(solve_level_ddc, ddc_weight=ddc_weight, kernel_size=kernel_size, irls_iterations=irls_iterations)
    return refine_alpha(image, trimap, alpha, settings, solve=solve)
