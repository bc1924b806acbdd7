"""The first stage's fusion (afmatting.first_stage): the per-pixel median of the first-stage mattes."""

import numpy as np
import pytest

from afmatting.errors import AFMattingError
from afmatting.first_stage import (ColourFits, choose_first_stage, colour_backed_miss, colour_fits, fuse_mattes,
                                   mask_iou, others_missed_subject, prior_confidence)


def test_median_keeps_what_two_of_three_agree_on(rng):
    truth = (rng.random((20, 30)) > 0.5).astype(np.float32)
    wrong_a, wrong_b = truth.copy(), truth.copy()
    wrong_a[:10] = 1 - wrong_a[:10]      # one network wrong on the top half
    wrong_b[10:, :15] = 0.5              # another unsure on the bottom left (where the first is right)
    fused = fuse_mattes([truth, wrong_a, wrong_b])
    assert np.array_equal(fused, truth)  # every pixel has two right votes, or a right and an unsure one


def test_one_and_two_mattes(rng):
    a, b = rng.random((8, 9)).astype(np.float32), rng.random((8, 9)).astype(np.float32)
    assert np.array_equal(fuse_mattes([a]), a)
    assert np.allclose(fuse_mattes([a, b]), (a + b) / 2)
    assert fuse_mattes([a, b, a]).dtype == np.float32


def test_fusion_refuses_bad_mattes():
    with pytest.raises(AFMattingError, match="at least one"):
        fuse_mattes([])
    with pytest.raises(AFMattingError, match="one size"):
        fuse_mattes([np.zeros((4, 4)), np.zeros((4, 5))])
    with pytest.raises(AFMattingError, match="NaN"):
        fuse_mattes([np.full((4, 4), np.nan)])


def test_confidence():
    assert np.allclose(prior_confidence(np.array([[0.0, 0.25, 0.5, 1.0]])), [[1.0, 0.5, 0.0, 1.0]])


def test_median_of_three_equals_numpys(rng):
    mattes = [rng.random((17, 23)).astype(np.float32) for _ in range(3)]
    assert np.array_equal(fuse_mattes(mattes), np.median(np.stack(mattes), axis=0).astype(np.float32))


def test_disputed_pixels():
    from afmatting.first_stage import first_stage_disputed

    a = np.zeros((4, 6), np.float32)
    b = a.copy()
    b[:, :3] = 1.0   # b says subject on the left, a says not
    c = a.copy()
    c[:, :2] = 0.5
    disputed = first_stage_disputed([a, b, c])
    assert disputed[:, :3].all() and not disputed[:, 3:].any()
    assert not first_stage_disputed([b]).any()


def test_others_missed_subject_compares_areas():
    ours = np.zeros((10, 10), np.float32)
    ours[:, :6] = 1.0                                   # ours: 60 % of the image is subject
    fragment = np.zeros((10, 10), np.float32)
    fragment[:2, :5] = 1.0                              # 10 %: a fragment of it
    whole = ours.copy()
    assert others_missed_subject(ours, [fragment, np.zeros_like(ours)])
    assert not others_missed_subject(ours, [fragment, whole])      # one other network found the subject
    assert not others_missed_subject(ours, [fragment], ratio=0.1)  # 0.1 < 0.1 * 0.6 / 0.6 is false
    assert not others_missed_subject(ours, [])                     # no other network: nothing to compare
    assert not others_missed_subject(np.zeros_like(ours), [fragment])  # ours found nothing either
    with pytest.raises(AFMattingError, match="ratio"):
        others_missed_subject(ours, [fragment], ratio=0.0)


def test_a_subject_others_found_is_never_overruled_by_ours_reaching_further():
    """Ours takes nearly the whole frame (a product and the table it stands on); U²-Net-p finds the product, a
    quarter of the frame: the ratio alone would call that a miss, the absolute bound does not."""
    ours = np.full((10, 10), 0.95, np.float32)
    product = np.zeros((10, 10), np.float32)
    product[3:8, 3:8] = 1.0                                        # 25 % of the frame: a found subject
    assert not others_missed_subject(ours, [product, np.zeros_like(ours)])
    assert others_missed_subject(ours, [product, np.zeros_like(ours)], most=0.3)  # without the bound, a miss


def test_a_small_subject_two_others_agree_on_is_not_a_miss():
    """A product in a scene: ours takes the scene around it, 40 % of the frame; MODNet and U²-Net-p both outline the
    same small subject. The areas alone call that a miss, and the answer would be ours (the small set's GT27-small:
    392 whole-image SAD against the median's 5; the trimap-only bulb over a rail yard: the whole ground kept); the
    others' agreement says they found a subject."""
    ours = np.zeros((20, 20), np.float32)
    ours[12:, :] = 1.0                                             # the ground: 40 %
    product = np.zeros((20, 20), np.float32)
    product[4:8, 8:12] = 1.0                                       # 4 %
    nearly = product.copy()
    nearly[8, 8:12] = 1.0                                          # the same subject, a row more: IoU 0.8
    assert mask_iou(product, nearly) == pytest.approx(0.8)
    assert not others_missed_subject(ours, [product, nearly])
    assert others_missed_subject(ours, [product, nearly], agree=0.9)  # without the agreement: a miss
    elsewhere = np.zeros((20, 20), np.float32)
    elsewhere[0:3, 0:4] = 1.0                                      # a close-up's fragments: each its own
    assert mask_iou(product, elsewhere) == 0.0
    assert others_missed_subject(ours, [product, elsewhere])
    assert mask_iou(np.zeros((4, 4)), np.zeros((4, 4))) == 0.0     # two empty masks do not agree
    assert others_missed_subject(ours, [np.zeros_like(ours), np.zeros_like(ours)])
    with pytest.raises(AFMattingError, match="agree"):
        others_missed_subject(ours, [product], agree=0.0)


def _disc_on_blue(rng):
    """A red disc on a blue backdrop (noisy), and the disc's mask."""
    yy, xx = np.mgrid[:90, :120]
    disc = ((yy - 45) ** 2 + (xx - 40) ** 2 < 25 ** 2).astype(np.float32)
    image = np.where(disc[..., None] > 0, [0.9, 0.1, 0.1], [0.1, 0.2, 0.8]) + rng.normal(0, 0.02, (90, 120, 3))
    return np.clip(image, 0, 1).astype(np.float32), disc


def test_choose_first_stage_trusts_the_matte_the_colours_explain_when_two_agree_on_a_wrong_region(rng):
    image, disc = _disc_on_blue(rng)
    wrong = disc.copy()
    wrong[30:60, 80:110] = 1.0  # two networks also take a block of the backdrop
    assert choose_first_stage(image, [wrong, disc, wrong.copy()]) == 1
    assert choose_first_stage(image, [disc, disc.copy(), wrong]) is None  # the median is already right
    assert choose_first_stage(image, [disc, wrong]) is None  # two mattes: nothing to outvote


def test_choose_first_stage_never_picks_a_fragment(rng):
    """On a close-up a salient-object network outlines a fragment whose few colours fit well: not chosen."""
    image, disc = _disc_on_blue(rng)
    wrong = disc.copy()
    wrong[30:60, 80:110] = 1.0
    fragment = np.zeros_like(disc)
    fragment[40:50, 35:45] = 1.0  # a twentieth of the disc, with a colour of its own: its colours fit it exactly
    image[40:50, 35:45] = [0.9, 0.9, 0.1]
    assert choose_first_stage(image, [wrong, fragment, wrong.copy()]) is None
    assert choose_first_stage(image, [wrong, fragment, wrong.copy()], min_area=0.0) == 1
    with pytest.raises(AFMattingError, match="margin"):
        choose_first_stage(image, [disc] * 3, margin=0.0)


def test_a_larger_fragment_each_is_a_miss_where_the_colours_back_ours(rng):
    """A close-up where the other networks found a larger fragment each (the crops set's GT24-crop: an ear and a chin,
    0.35 of our area): the strict bounds keep the vote, and its median erases most of the subject; the photo's colours
    fit our matte better than that median, so ours is the answer. Where ours fits them worse (alphamatting GT26: the
    same areas, ours wrong), the vote stands."""
    image, disc = _disc_on_blue(rng)
    ear, chin = np.zeros_like(disc), np.zeros_like(disc)
    ear[20:40, 15:65] = disc[20:40, 15:65]                          # the disc's top ...
    chin[50:70, 15:65] = disc[50:70, 15:65]                         # ... and its bottom, a fragment each
    others = [ear, chin]
    ratio = max(float(m.mean()) for m in others) / float(disc.mean())
    assert 0.3 < ratio < 0.55 and mask_iou(ear, chin) == 0.0
    assert not others_missed_subject(disc, others)                  # the strict bounds: not a miss
    fits = colour_fits(image, [disc, *others])
    assert fits.errors[0] < fits.median_error                       # the disc explains the colours; the median lacks its middle
    assert colour_backed_miss(disc, others, fits)
    assert not colour_backed_miss(disc, others, fits, ratio=0.3)    # the looser ratio is what lets it through
    worse = ColourFits(errors=(0.75, 0.63, 0.41), areas=fits.areas, median_error=0.47, median_area=fits.median_area)
    assert not colour_backed_miss(disc, others, worse)               # ours fits the colours worse: the vote stands
    assert not colour_backed_miss(disc, [ear, ear.copy()], fits)    # the others agree on one subject: not a miss
