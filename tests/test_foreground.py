"""Foreground estimation in tiles: the same result as the whole image at once, for any tile size."""

import numpy as np
import pytest

from afmatting.foreground import _level_sizes, estimate_foreground


@pytest.mark.parametrize("tile_size", [4, 16, 40])
def test_tiles_give_the_untiled_result_exactly(rng, tile_size):
    # odd sizes so tiles and levels do not line up; alpha with a soft edge and values outside [0, 1] (clamped)
    h, w = 37, 61
    image = rng.random((h, w, 3), dtype=np.float32)
    alpha = np.clip(np.linspace(-0.3, 1.3, w, dtype=np.float32)[None, :] + rng.normal(0, 0.1, (h, w)), -0.2, 1.2)
    whole_f, whole_b = estimate_foreground(image, alpha.astype(np.float32), return_background=True,
                                           tile_size=10_000)
    tiled_f, tiled_b = estimate_foreground(image, alpha.astype(np.float32), return_background=True,
                                           tile_size=tile_size)
    np.testing.assert_array_equal(tiled_f, whole_f)
    np.testing.assert_array_equal(tiled_b, whole_b)
    assert tiled_f.dtype == np.float32 and tiled_f.shape == (h, w, 3) and tiled_f.flags["C_CONTIGUOUS"]
    assert 0.0 <= tiled_f.min() and tiled_f.max() <= 1.0


def test_levels_run_coarse_to_full_size():
    sizes = _level_sizes(4000, 6000)
    assert sizes[0] == (1, 1) and sizes[-1] == (4000, 6000)
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in zip(sizes, sizes[1:]))
    assert _level_sizes(1, 1) == [(1, 1), (1, 1)]


def test_bad_tile_size_and_shapes_are_refused(rng):
    image = rng.random((8, 8, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="tile_size"):
        estimate_foreground(image, np.zeros((8, 8), np.float32), tile_size=0)
    with pytest.raises(ValueError, match="alpha"):
        estimate_foreground(image, np.zeros((8, 9), np.float32))


def test_to_uint8_in_row_blocks_equals_one_pass(rng):
    from afmatting.processing import to_uint8

    for x in (rng.random((700, 9, 3), dtype=np.float32) * 1.4 - 0.2, rng.random((300, 5)), np.array(0.5),
              np.array([[0, 1], [2, 3]], np.uint8)):
        np.testing.assert_array_equal(to_uint8(x), (np.clip(x, 0, 1) * 255.0 + 0.5).astype(np.uint8))
