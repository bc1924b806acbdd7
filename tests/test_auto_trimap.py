"""The automatic trimap of the two-stage trimap-free path (afmatting.auto_trimap)."""

import numpy as np
import pytest

from afmatting.auto_trimap import auto_trimap, fill_holes, select_subject
from afmatting.errors import AFMattingError, InvalidImageError
from afmatting.trimap import BACKGROUND, FOREGROUND, UNKNOWN, band_trimap


def _disc(shape, centre, radius):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius ** 2


def _soft_matte(rng, shape=(60, 80)):
    """A random matte with large certain regions and a good share of uncertain values (some exactly at 0.5)."""
    coarse = rng.random((shape[0] // 10, shape[1] // 10))
    matte = np.kron(coarse, np.ones((10, 10)))
    matte = np.clip((matte - 0.5) * 3 + 0.5 + rng.normal(0, 0.1, shape), 0, 1).astype(np.float32)
    matte[rng.random(shape) < 0.01] = 0.5
    return matte


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("low,high", [(0.05, 0.95), (0.2, 0.8), (0.0, 1.0)])
def test_never_known_where_the_matte_is_uncertain(seed, low, high):
    matte = _soft_matte(np.random.default_rng(seed))
    trimap = auto_trimap(matte, low=low, high=high, band_fraction=0.0, keep_fraction=0.5)
    uncertain = (matte > low) & (matte < high)
    assert uncertain.any()
    assert (trimap[uncertain] == UNKNOWN).all()
    assert set(np.unique(trimap)) <= {BACKGROUND, UNKNOWN, FOREGROUND}
    assert trimap.dtype == np.uint8 and trimap.shape == matte.shape


def test_certain_pixels_far_from_the_outline_keep_their_label():
    matte = np.zeros((100, 100), np.float32)
    matte[_disc(matte.shape, (50, 50), 30)] = 1.0
    trimap = auto_trimap(matte, band_fraction=0.05)  # 5 px half-width
    assert trimap[50, 50] == FOREGROUND and trimap[2, 2] == BACKGROUND
    assert trimap[50, 80] == UNKNOWN and trimap[50, 84] == UNKNOWN  # the outline at x = 80, 4 px outside it
    assert trimap[50, 87] == BACKGROUND and trimap[50, 73] == FOREGROUND


def test_band_width_is_relative_to_the_image_size():
    small = np.zeros((50, 50), np.float32)
    small[:, 25:] = 1.0
    large = np.kron(small, np.ones((4, 4), np.float32))
    band_small = (auto_trimap(small, band_fraction=0.1) == UNKNOWN).sum(axis=1)
    band_large = (auto_trimap(large, band_fraction=0.1) == UNKNOWN).sum(axis=1)
    assert band_large[0] == pytest.approx(4 * band_small[0], abs=2)


def test_small_islands_are_dropped_and_large_ones_kept():
    matte = np.zeros((100, 160), np.float32)
    matte[_disc(matte.shape, (50, 40), 30)] = 1.0  # the subject, ~2800 px
    matte[_disc(matte.shape, (50, 110), 20)] = 1.0  # a second large region, ~1250 px (45 %)
    matte[5:9, 150:154] = 1.0  # a 16-px island (0.6 %)
    trimap = auto_trimap(matte, band_fraction=0.0, keep_fraction=0.1)
    assert trimap[50, 40] == FOREGROUND and trimap[50, 110] == FOREGROUND
    assert (trimap[5:9, 150:154] == BACKGROUND).all()
    trimap = auto_trimap(matte, band_fraction=0.0, keep_fraction=0.5)
    assert trimap[50, 110] == BACKGROUND


def test_diagonal_strands_stay_with_the_subject():
    subject = np.zeros((40, 40), bool)
    subject[10:30, 10:30] = True
    for k in range(8):  # a one-pixel diagonal strand leaving the square's corner
        subject[30 + k, 30 + k] = True
    kept = select_subject(subject, keep_fraction=0.5)
    assert kept[37, 37]


def test_holes_are_filled_but_bays_open_to_the_border_are_not():
    matte = np.zeros((80, 80), np.float32)
    matte[10:70, 10:70] = 1.0
    matte[30:50, 30:50] = 0.0  # a hole: the network missed part of the subject
    matte[30:50, 60:80] = 0.0  # a bay reaching the image border: real background
    trimap = auto_trimap(matte, band_fraction=0.0)
    assert (trimap[30:50, 30:50] == FOREGROUND).all()
    assert (trimap[30:50, 70:80] == BACKGROUND).all()


def test_keep_holes_leaves_a_promptable_masks_holes_open():
    matte = np.zeros((80, 80), np.float32)
    matte[10:70, 10:70] = 1.0
    matte[30:50, 30:50] = 0.0  # the gap between two dolls, in a segmenter's mask: real background
    trimap = auto_trimap(matte, band_fraction=0.0, keep_holes=True)
    assert (trimap[30:50, 30:50] == BACKGROUND).all() and (trimap[12:28, 12:68] == FOREGROUND).all()


def test_an_uncertain_hole_stays_unknown():
    matte = np.zeros((60, 60), np.float32)
    matte[5:55, 5:55] = 1.0
    matte[20:40, 20:40] = 0.3
    trimap = auto_trimap(matte, band_fraction=0.0)
    assert (trimap[20:40, 20:40] == UNKNOWN).all()


def test_empty_and_full_mattes():
    assert (auto_trimap(np.zeros((20, 30), np.float32)) == BACKGROUND).all()
    assert (auto_trimap(np.ones((20, 30), np.float32)) == FOREGROUND).all()
    assert not select_subject(np.zeros((5, 5), bool)).any()
    assert (band_trimap(np.ones((5, 5), bool), 2.0) == FOREGROUND).all()


def test_fill_holes_keeps_the_shape_and_dtype():
    ring = _disc((30, 30), (15, 15), 10) & ~_disc((30, 30), (15, 15), 5)
    filled = fill_holes(ring)
    assert filled.dtype == bool and filled.shape == ring.shape
    assert filled[15, 15] and filled.sum() == _disc((30, 30), (15, 15), 10).sum()


@pytest.mark.parametrize(
    "matte,message",
    [
        (np.zeros((4, 4, 3), np.float32), "(H, W)"),
        (np.zeros((4, 4), np.uint8), "float"),
        (np.full((4, 4), np.nan, np.float32), "NaN"),
        (np.full((4, 4), 1.5, np.float32), "outside [0, 1]"),
    ],
)
def test_bad_mattes_are_refused_by_name(matte, message):
    with pytest.raises(InvalidImageError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]")):
        auto_trimap(matte)


@pytest.mark.parametrize(
    "options",
    [dict(low=0.6, high=0.9), dict(low=0.1, high=0.4), dict(band_fraction=-0.1), dict(keep_fraction=1.5)],
)
def test_bad_options_are_refused(options):
    with pytest.raises(AFMattingError):
        auto_trimap(np.zeros((8, 8), np.float32), **options)


def test_hard_edges_get_the_narrow_band_and_soft_ones_the_wide_band():
    """A matte with a hard left half (a one-pixel ramp) and a soft right half (a wide ramp): the unknown band is
    narrow along the hard edge and wide along the soft one."""
    from afmatting.auto_trimap import auto_trimap as make_trimap

    h, w = 200, 200
    xx = np.arange(w)[None, :].repeat(h, 0).astype(np.float32)
    yy = np.arange(h)[:, None].repeat(w, 1).astype(np.float32)
    matte = np.where(yy < 100, 1.0, 0.0).astype(np.float32)           # subject: the top half
    soft = xx >= 100                                                    # right half: a 30-pixel soft ramp
    matte[soft] = np.clip((130 - yy[soft]) / 60, 0, 1)
    trimap = make_trimap(matte, band_fraction=0.05, hard_band_fraction=0.01)
    unknown_rows_left = np.nonzero(trimap[:, 20] == 128)[0]
    unknown_rows_right = np.nonzero(trimap[:, 180] == 128)[0]
    assert len(unknown_rows_left) <= 6                                  # 2 px each side of the hard edge
    assert len(unknown_rows_right) >= 30                                # the ramp and the wide band around it
    one_band = make_trimap(matte, band_fraction=0.05)
    assert (one_band[:, 20] == 128).sum() >= 18                         # without the test: the wide band everywhere
