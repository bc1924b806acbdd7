"""The matting Laplacian against a direct dense construction (Levin et al. 2008, eq. 12), window by window."""

import numpy as np
import pytest

from afmatting.errors import AFMattingError
from afmatting.laplacian import laplacian_stencil, restrict_to_unknown

from .conftest import stencil_to_sparse


def dense_laplacian(image, window_mask=None, epsilon=1e-7):
    """Textbook construction: loop over every 3x3 window, add its 9x9 block."""
    h, w, _ = image.shape
    L = np.zeros((h * w, h * w))
    for cy in range(1, h - 1):
        for cx in range(1, w - 1):
            if window_mask is not None and not window_mask[cy, cx]:
                continue
            idx = [(cy + dy) * w + cx + dx for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
            colours = image.reshape(-1, 3)[idx]
            mu = colours.mean(0)
            cov = (colours - mu).T @ (colours - mu) / 9
            inv = np.linalg.inv(cov + epsilon / 9 * np.eye(3))
            for a, i in enumerate(idx):
                for b, j in enumerate(idx):
                    L[i, j] += (a == b) - (1 + (colours[a] - mu) @ inv @ (colours[b] - mu)) / 9
    return L


@pytest.mark.parametrize("shape", [(5, 6), (7, 4)])
def test_matches_dense_construction(shape):
    rng = np.random.default_rng(0)
    image = rng.random((*shape, 3))
    expected = dense_laplacian(image, epsilon=1e-3)
    got = stencil_to_sparse(laplacian_stencil(image, epsilon=1e-3)).toarray()
    np.testing.assert_allclose(got, expected, atol=1e-9)
    # a Laplacian: symmetric, rows sum to zero, positive semi-definite
    np.testing.assert_allclose(got, got.T, atol=1e-9)
    np.testing.assert_allclose(got.sum(1), 0, atol=1e-9)
    assert np.linalg.eigvalsh(got).min() > -1e-9


def test_window_mask_keeps_only_named_windows():
    rng = np.random.default_rng(1)
    image = rng.random((6, 7, 3))
    mask = rng.random((6, 7)) > 0.5
    expected = dense_laplacian(image, mask, epsilon=1e-5)
    got = stencil_to_sparse(laplacian_stencil(image, mask, epsilon=1e-5)).toarray()
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_restriction_reproduces_the_energy():
    # alpha^T L alpha == a_u^T L_uu a_u + 2 a_u^T (L_uk a_k) + a_k^T L_kk a_k
    rng = np.random.default_rng(2)
    image = rng.random((8, 9, 3))
    unknown = rng.random((8, 9)) > 0.4
    alpha = rng.random((8, 9))
    L = dense_laplacian(image, epsilon=1e-4)
    L_uu, pull = restrict_to_unknown(laplacian_stencil(image, epsilon=1e-4), unknown, alpha)
    a_u = alpha[unknown]
    known = ~unknown.ravel()
    a_k = alpha.ravel()[known]
    constant = a_k @ L[np.ix_(known, known)] @ a_k
    full = alpha.ravel() @ L @ alpha.ravel()
    np.testing.assert_allclose(a_u @ (L_uu @ a_u) + 2 * a_u @ pull + constant, full, rtol=1e-10)
    np.testing.assert_allclose(L_uu.toarray(), L[np.ix_(~known, ~known)], atol=1e-12)


def test_bad_image_is_refused():
    with pytest.raises(AFMattingError, match="RGB"):
        laplacian_stencil(np.zeros((4, 4)))
