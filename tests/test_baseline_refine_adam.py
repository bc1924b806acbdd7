"""The earlier gradient refinement: Adam on known + DDC (benchmarks/baselines/refine_adam.py), a baseline."""

import numpy as np
import pytest
import torch

from afmatting import AFMattingError
from afmatting.losses import ddc_loss
from afmatting.metrics import compute_metrics
from benchmarks.baselines.refine_adam import level_sizes, refine_alpha_adam as refine_alpha

from .conftest import two_colour_case



def test_refinement_recovers_a_colour_edge_from_a_flat_start():
    image, trimap, gt = two_colour_case()
    start = np.where(trimap == 255, 1.0, np.where(trimap == 0, 0.0, 0.5)).astype(np.float32)
    refined = refine_alpha(image, trimap, start, 40)  # 40 steps per level halve the error (150: a fifth of it)
    assert refined.dtype == np.float32 and refined.shape == gt.shape
    before = compute_metrics(start, gt, trimap)["SAD"]
    after = compute_metrics(refined, gt, trimap)["SAD"]
    assert after < 0.6 * before
    assert (refined[trimap == 0] == 0).all() and (refined[trimap == 255] == 1).all()

    def loss(a):
        x = torch.from_numpy(image).permute(2, 0, 1)[None]
        return float(ddc_loss(x, torch.from_numpy(a)[None, None]))

    assert loss(refined) < loss(start)


def test_zero_steps_only_applies_the_known_region():
    image, trimap, _ = two_colour_case()
    start = np.full(trimap.shape, 0.3, np.float32)
    out = refine_alpha(image, trimap, start, 0)
    expected = np.where(trimap == 255, 1.0, np.where(trimap == 0, 0.0, 0.3))
    np.testing.assert_array_equal(out, expected.astype(np.float32))


def test_level_sizes_are_coarse_to_fine_and_bounded():
    assert level_sizes(600, 800) == [(75, 100), (150, 200), (300, 400), (600, 800)]
    assert level_sizes(2000, 4000, max_side=1000) == [(62, 125), (125, 250), (250, 500), (500, 1000)]
    assert level_sizes(600, 800, scales=(1.0, 0.5)) == [(300, 400), (600, 800)]
    assert level_sizes(40, 100) == [(40, 100)]  # coarser levels would be under 32 px
    with pytest.raises(AFMattingError, match="scales"):
        level_sizes(100, 100, scales=(0.5, 2.0))


def test_bad_inputs_are_refused_with_clear_messages():
    image, trimap, gt = two_colour_case()
    with pytest.raises(AFMattingError, match="one size"):
        refine_alpha(image[:10], trimap, gt, 5)
    with pytest.raises(AFMattingError, match="0, 128 and 255"):
        refine_alpha(image, np.full(trimap.shape, 7, np.uint8), gt, 5)
    with pytest.raises(AFMattingError, match=">= 0"):
        refine_alpha(image, trimap, gt, -1)


def test_refinement_of_a_network_matte_changes_the_band_and_keeps_the_known_pixels(tiny_cnn_trimap):
    image, trimap, _ = two_colour_case()
    plain = tiny_cnn_trimap.predict(image, trimap=trimap, refine=False)
    refined = refine_alpha(plain.image, plain.trimap, plain.alpha, 5)
    assert np.abs(refined - plain.alpha).max() > 1e-3
    assert (refined[trimap == 0] == 0).all() and (refined[trimap == 255] == 1).all()
