"""The band solver with a DDC term (benchmarks/baselines/refine_ddc.py), a baseline."""

import numpy as np

from afmatting.refine import RefineSettings, solve_level
from benchmarks.baselines.ddc_band import band_ddc_sum, ddc_band_pairs
from benchmarks.baselines.refine_ddc import refine_alpha_ddc, solve_level_ddc

from .conftest import two_colour_case


def test_ddc_term_lowers_the_ddc_objective():
    image, trimap, gt = two_colour_case(32, 40)
    rng = np.random.default_rng(1)
    start = np.where(trimap == 128, rng.random(trimap.shape), trimap / 255.0).astype(np.float32)
    pairs = ddc_band_pairs(image, trimap == 128)
    plain, _ = solve_level(image, trimap, start, settings=RefineSettings(laplacian_weight=0, prior_weight=1e-3))
    with_ddc, _ = solve_level_ddc(image, trimap, start, settings=RefineSettings(laplacian_weight=0, prior_weight=1e-3),
                                  ddc_weight=1.0)
    assert band_ddc_sum(pairs, with_ddc) < 0.5 * band_ddc_sum(pairs, plain)


def test_refine_alpha_ddc_keeps_the_known_pixels_and_lowers_the_band_ddc():
    image, trimap, gt = two_colour_case(32, 40)
    start = np.where(trimap == 128, 0.5, trimap / 255.0).astype(np.float32)
    refined = refine_alpha_ddc(image, trimap, start, RefineSettings(laplacian_weight=0, prior_weight=1e-3),
                               ddc_weight=1.0)
    assert refined.shape == trimap.shape and refined.dtype == np.float32
    assert (refined[trimap == 0] == 0).all() and (refined[trimap == 255] == 1).all()
    pairs = ddc_band_pairs(image, trimap == 128)
    assert band_ddc_sum(pairs, refined) < band_ddc_sum(pairs, start)
