"""Trimap reading/normalising and generation from alpha mattes and coarse masks."""

import numpy as np
import pytest
from PIL import Image

from afmatting.errors import InvalidTrimapError
from afmatting.trimap import (
    alpha_to_trimap,
    erode_ellipse,
    load_trimap,
    mask_to_trimap,
    quantize_trimap,
    trimap_to_float,
)


def _soft_alpha(seed, shape=(96, 128)):
    """A blob with a soft edge plus a few semi-transparent strands: uint8 (H, W)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    cy, cx = rng.uniform(0.3, 0.7) * shape[0], rng.uniform(0.3, 0.7) * shape[1]
    alpha = np.clip((rng.uniform(15, 30) - np.hypot(yy - cy, xx - cx)) / rng.uniform(1, 6) + 0.5, 0, 1)
    for _ in range(4):
        row = rng.integers(0, shape[0])
        alpha[row, :] = np.maximum(alpha[row, :], rng.uniform(0.1, 0.9))
    return (alpha * 255).round().astype(np.uint8)


@pytest.mark.parametrize("seed", range(5))
def test_alpha_to_trimap_unknown_covers_fractional_and_known_is_right(seed):
    alpha = _soft_alpha(seed)
    trimap = alpha_to_trimap(alpha, seed=seed)
    assert trimap.dtype == np.uint8 and trimap.shape == alpha.shape
    assert set(np.unique(trimap)) <= {0, 128, 255}
    fractional = (alpha > 0) & (alpha < 255)
    assert (trimap[fractional] == 128).all()
    assert (alpha[trimap == 255] == 255).all()
    assert (alpha[trimap == 0] == 0).all()


def test_alpha_to_trimap_is_deterministic_per_seed_and_seeds_differ():
    alpha = _soft_alpha(0, shape=(320, 320))
    a = alpha_to_trimap(alpha, seed=7)
    assert np.array_equal(a, alpha_to_trimap(alpha.copy(), seed=7))
    others = [alpha_to_trimap(alpha, seed=s) for s in range(8, 14)]
    assert any(not np.array_equal(a, o) for o in others)


def test_alpha_to_trimap_accepts_float_and_erodes_a_hard_edge():
    alpha = np.zeros((640, 640), np.float32)
    alpha[:, 320:] = 1.0
    # a fixed kernel of 21 px at 640 px: the unknown band is ~10 px on each side of a hard edge
    trimap = alpha_to_trimap(alpha, min_kernel=21, max_kernel=21)
    row = trimap[300]
    assert (row[:309] == 0).all() and (row[332:] == 255).all()
    assert (row[311:330] == 128).all()
    # kernel size 1 erodes nothing: a hard edge gives no unknown pixels at all
    assert not (alpha_to_trimap(alpha, min_kernel=1, max_kernel=1) == 128).any()


def test_kernel_scales_with_image_size():
    small = np.zeros((320, 320), np.uint8)
    small[:, 160:] = 255
    large = np.zeros((1280, 1280), np.uint8)
    large[:, 640:] = 255
    band_small = (alpha_to_trimap(small, min_kernel=21, max_kernel=21) == 128).sum(axis=1)[0]
    band_large = (alpha_to_trimap(large, min_kernel=21, max_kernel=21) == 128).sum(axis=1)[0]
    assert band_large == pytest.approx(4 * band_small, abs=3)


def test_erode_ellipse_shape_and_border():
    mask = np.ones((11, 11), bool)
    mask[5, 5] = False
    eroded = erode_ellipse(mask, 5, 5)
    lost = ~eroded
    assert lost[5, 3:8].all() and lost[3:8, 5].all()  # the axes reach 2 px
    assert not lost[3, 3]  # (2, 2) is outside a diameter-5 ellipse
    assert lost.sum() == 21
    # the image border does not erode
    assert erode_ellipse(np.ones((5, 5), bool), 9, 9).all()


def test_mask_to_trimap_band():
    mask = np.zeros((60, 60), bool)
    mask[:, 30:] = True
    trimap = mask_to_trimap(mask, band=4)
    row = trimap[10]
    assert (row[:26] == 0).all() and (row[26:34] == 128).all() and (row[34:] == 255).all()
    assert np.array_equal(mask_to_trimap(mask.astype(np.uint8) * 255, band=4), trimap)
    assert (mask_to_trimap(np.ones((5, 5), bool)) == 255).all()


def test_load_trimap_normalises_formats(tmp_path):
    levels = np.array([[0, 128, 255, 130]], dtype=np.uint8)
    expected = np.array([[0, 128, 255, 128]], dtype=np.uint8)
    assert np.array_equal(load_trimap(levels), expected)
    assert np.array_equal(load_trimap(np.array([[0.0, 0.5, 1.0, 0.5]])), expected)
    assert np.array_equal(load_trimap(np.repeat(levels[..., None], 3, axis=2)), expected)
    palette = Image.fromarray(levels).convert("P")
    palette.save(tmp_path / "t.png")
    assert np.array_equal(load_trimap(tmp_path / "t.png"), expected)
    assert np.array_equal(trimap_to_float(expected), np.array([[0, 0.5, 1, 0.5]], np.float32))
    # thresholds 64 and 192 (off-level values are tolerated when they are at most 5 % of the pixels)
    values = np.zeros((1, 100))
    values[0, :4] = [63.0, 64.0, 191.0, 192.0]
    assert np.array_equal(quantize_trimap(values)[0, :5], [0, 128, 128, 255, 0])


def test_load_trimap_refuses_non_trimaps():
    ramp = np.tile(np.linspace(0, 1, 256), (8, 1))
    with pytest.raises(InvalidTrimapError, match="does not look like a trimap"):
        load_trimap(ramp)
    colour = np.zeros((4, 4, 3), np.uint8)
    colour[..., 0] = 255
    with pytest.raises(InvalidTrimapError, match="colour"):
        load_trimap(colour)
    with pytest.raises(InvalidTrimapError, match="same size"):
        load_trimap(np.zeros((4, 4), np.uint8), shape=(5, 4))


def test_one_matte_reader_for_paths_and_arrays(tmp_path):
    """alpha_to_trimap, mask_to_trimap, the metrics and the dataset rows all read mattes with io.load_matte, so a
    grey matte stored as RGB (with a little compression noise) means the same as a path and as an array."""
    from afmatting.errors import InvalidImageError
    from afmatting.io import load_matte

    alpha = _soft_alpha(3)
    rgb = np.repeat(alpha[..., None], 3, axis=2)
    rgb[::7, ::5, 1] = np.clip(rgb[::7, ::5, 1].astype(int) + 1, 0, 255)  # noise of one level in one channel
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    from_array, from_path = load_matte(rgb), load_matte(tmp_path / "rgb.png")
    np.testing.assert_array_equal(from_array, from_path)
    assert np.abs(from_array - alpha / 255.0).max() <= 1 / 255.0 + 1e-12
    np.testing.assert_array_equal(alpha_to_trimap(rgb, seed=2), alpha_to_trimap(tmp_path / "rgb.png", seed=2))
    np.testing.assert_array_equal(mask_to_trimap(rgb), mask_to_trimap(tmp_path / "rgb.png"))
    # equal channels are read exactly; a matte stored as transparency is read from its alpha channel
    np.testing.assert_array_equal(load_matte(np.repeat(alpha[..., None], 3, axis=2)), alpha / 255.0)
    rgba = np.zeros(alpha.shape + (4,), np.uint8)
    rgba[..., 3] = alpha
    np.testing.assert_array_equal(load_matte(rgba), alpha / 255.0)
    colour = np.stack([alpha, 255 - alpha, alpha], axis=2)
    for source in (colour, Image.fromarray(colour)):
        with pytest.raises(InvalidImageError, match="colour channels"):
            alpha_to_trimap(source)
