"""The colour-fit error of a matte (afmatting.colour_fit), against a plain-Python reference."""

from collections import defaultdict

import numpy as np
import pytest

from afmatting.colour_fit import colour_fit_error, colour_indices, colour_posterior
from afmatting.errors import AFMattingError


def _reference_error(image, matte, bins):
    """The definition written out pixel by pixel: histograms as dicts, posterior, mean error over 2a(1-a)."""
    matte = np.asarray(matte, np.float64)
    fg, bg = defaultdict(float), defaultdict(float)
    cells = {}
    for (y, x), a in np.ndenumerate(matte):
        cell = tuple(min(int(v * bins), bins - 1) for v in image[y, x])
        cells[y, x] = cell
        fg[cell] += a
        bg[cell] += 1 - a
    error = 0.0
    for (y, x), a in np.ndenumerate(matte):
        c = cells[y, x]
        error += abs((fg[c] + 0.5) / (fg[c] + bg[c] + 1.0) - a)
    area = float(np.mean(matte, dtype=np.float64))
    return error / matte.size / max(2 * area * (1 - area), 1e-3)


def test_colour_fit_error_matches_the_reference(rng):
    image = rng.random((12, 17, 3)).astype(np.float32)
    matte = rng.random((12, 17)).astype(np.float32)
    for bins in (2, 4, 8):
        assert colour_fit_error(image, matte, bins) == pytest.approx(_reference_error(image, matte, bins), rel=1e-9)


def test_a_matte_the_colours_explain_scores_near_zero_and_a_wrong_one_does_not(rng):
    """Red disc on blue: the disc fits its colours; the disc plus a block of blue background mixes them."""
    yy, xx = np.mgrid[:60, :80]
    disc = ((yy - 30) ** 2 + (xx - 25) ** 2 < 15 ** 2).astype(np.float32)
    image = np.where(disc[..., None] > 0, [0.9, 0.1, 0.1], [0.1, 0.2, 0.8]).astype(np.float32)
    image = np.clip(image + rng.normal(0, 0.02, image.shape), 0, 1).astype(np.float32)
    wrong = disc.copy()
    wrong[10:50, 45:75] = 1.0
    assert colour_fit_error(image, disc) < 0.01
    assert colour_fit_error(image, wrong) > 0.5
    # a matte of (almost) nothing is not vouched for by the colours
    assert colour_fit_error(image, np.zeros_like(disc)) > 0.5
    assert colour_fit_error(image, np.full_like(disc, 0.001)) > 0.5


def test_posterior_and_cells(rng):
    image = np.array([[[0.0, 0.0, 0.0], [0.99, 0.99, 0.99]]], np.float32)
    assert colour_indices(image, 4).tolist() == [[0, 63]]
    assert colour_posterior(image, np.array([[1.0, 0.0]]), 4).tolist() == [[0.75, 0.25]]


def test_colour_fit_refuses_bad_inputs(rng):
    image = rng.random((5, 6, 3)).astype(np.float32)
    with pytest.raises(AFMattingError, match=r"\(H, W, 3\)"):
        colour_fit_error(image[..., 0], np.zeros((5, 6)))
    with pytest.raises(AFMattingError, match="shape"):
        colour_fit_error(image, np.zeros((5, 7)))
    with pytest.raises(AFMattingError, match=r"\[0, 1\]"):
        colour_fit_error(image, np.full((5, 6), 2.0))
