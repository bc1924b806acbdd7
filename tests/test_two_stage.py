"""The two-stage trimap-free path (afmatting.two_stage) and predict's two_stage switch."""

import numpy as np
import pytest

from afmatting import load_matter, load_model
from afmatting.bundled import DEFAULT_TRIMAP_FREE_MODEL, DEFAULT_TRIMAP_MODEL, resolve_bundled
from afmatting.errors import AFMattingError
from afmatting.trimap import BACKGROUND, FOREGROUND, UNKNOWN
from afmatting.processing import to_uint8
from afmatting.two_stage import (
    DEFAULT_FIRST_STAGE_SIDE,
    EDIT_REACH,
    OURS_LABEL,
    keep_outside_edits,
    matte_from_guess,
    matte_from_prior,
    matte_once,
    two_stage_predict,
)

from .conftest import shared_path


@pytest.fixture
def photo(rng):
    """A 40 x 56 image: a bright disc on a dark, noisy background."""
    yy, xx = np.mgrid[:40, :56]
    disc = ((yy - 20) ** 2 + (xx - 28) ** 2 < 12 ** 2)[..., None]
    return np.clip(np.where(disc, 0.9, 0.1) + rng.normal(0, 0.03, (40, 56, 3)), 0, 1).astype(np.float32)


def test_predict_without_a_trimap_model_is_the_single_network(tiny_vit, tiny_cnn_trimap, photo):
    result = tiny_vit.predict(photo)
    assert result.trimap is None and "two_stage" not in result.extra
    assert np.array_equal(result.alpha, tiny_vit.predict(photo, trimap_model=tiny_cnn_trimap, two_stage=False).alpha)
    # given a trimap model, the two-stage path is the default
    assert tiny_vit.predict(photo, trimap_model=tiny_cnn_trimap).extra["two_stage"]


def test_two_stage_result(tiny_vit, tiny_cnn_trimap, photo):
    result = tiny_vit.predict(photo, two_stage=True, trimap_model=tiny_cnn_trimap)
    assert result.extra["two_stage"] and result.alpha.shape == photo.shape[:2] and result.alpha.dtype == np.float32
    assert result.trimap.dtype == np.uint8 and set(np.unique(result.trimap)) <= {BACKGROUND, UNKNOWN, FOREGROUND}
    assert 0.0 <= result.alpha.min() and result.alpha.max() <= 1.0
    # the refined matte respects the automatic trimap's known pixels
    assert (result.alpha[result.trimap == BACKGROUND] == 0).all()
    assert (result.alpha[result.trimap == FOREGROUND] == 1).all()
    # the automatic trimap is built from the fused first-stage matte: unknown wherever that matte is uncertain
    prior = result.extra["prior"] / 255.0
    assert (result.trimap[(prior > 0.2) & (prior < 0.8)] == UNKNOWN).all()


def test_unrefined_second_stage_blends_the_trimap_models_matte_by_the_priors_confidence(tiny_cnn_trimap, photo):
    yy, xx = np.mgrid[:40, :56]
    prior = np.clip(1.5 - np.hypot(yy - 20, xx - 28) / 8, 0, 1).astype(np.float32)  # a soft-edged disc
    result = matte_from_prior(photo, prior, trimap_model=tiny_cnn_trimap, refine=False)
    direct = tiny_cnn_trimap.predict(photo, trimap=result.trimap, refine=False).alpha
    confidence = np.abs(2 * prior - 1)
    unknown = result.trimap == UNKNOWN
    assert unknown.any() and not result.extra.get("mostly_unknown")
    expected = confidence * prior + (1 - confidence) * direct
    assert np.allclose(result.alpha[unknown], expected[unknown], atol=1e-6)
    assert np.allclose(result.alpha[~unknown], direct[~unknown])


def _hard_edged_scene(rng, size=(96, 128)):
    """A hard-edged object (an anti-aliased ellipse, supersampled 4x) over a textured background, with its alpha."""
    h, w = size
    yy, xx = (np.mgrid[:4 * h, :4 * w] + 0.5) / 4
    inside = (((yy - h / 2) / (0.35 * h)) ** 2 + ((xx - w / 2) / (0.3 * w)) ** 2 < 1).astype(np.float32)
    alpha = inside.reshape(h, 4, w, 4).mean(axis=(1, 3))
    background = np.clip(0.5 + 0.3 * np.sin(np.arange(w) / 3.0)[None, :, None] + rng.normal(0, 0.05, (h, w, 3)), 0, 1)
    colour = np.array([0.8, 0.3, 0.2], np.float32)
    image = (alpha[..., None] * colour + (1 - alpha[..., None]) * background).astype(np.float32)
    return image, alpha


@pytest.mark.slow
def test_a_correct_binary_mask_is_not_made_worse(rng):
    """The confident-mask guarantee: a binary prior that is already right comes back no worse (real bundled model)."""
    if resolve_bundled(DEFAULT_TRIMAP_MODEL) is None:
        pytest.skip("bundled models not installed")
    trimap_model = load_model(DEFAULT_TRIMAP_MODEL)
    image, alpha = _hard_edged_scene(rng)
    prior = (alpha >= 0.5).astype(np.float32)
    result = matte_from_prior(image, prior, trimap_model=trimap_model)
    before, after = np.abs(prior - alpha).sum(), np.abs(result.alpha - alpha).sum()
    assert after <= before * 1.02 + 1.0, (before, after)
    # and it stays near-binary: no semi-transparent texture away from the edge
    edge = np.abs(prior - alpha) > 0  # the anti-aliased pixels
    from scipy import ndimage

    far = ~ndimage.binary_dilation(edge, iterations=3)
    assert np.abs(result.alpha - prior)[far].max() < 0.02


def test_mostly_unknown_trimap_falls_back_to_the_prior(tiny_cnn_trimap, photo):
    """The grey-wash guard: an automatic trimap that is mostly unknown returns the prior, not a grey matte."""
    prior = np.full(photo.shape[:2], 0.5, np.float32)
    prior[:, :10] = 0.0  # a little known background, the rest uncertain
    result = matte_from_prior(photo, prior, trimap_model=tiny_cnn_trimap)
    assert result.extra["mostly_unknown"]
    assert np.array_equal(result.alpha[:, 12:], prior[:, 12:])
    assert (result.alpha[result.trimap == BACKGROUND] == 0).all()


def test_matte_from_prior_refuses_a_prior_of_another_size(tiny_cnn_trimap, photo):
    with pytest.raises(AFMattingError, match="prior"):
        matte_from_prior(photo, np.zeros((10, 10), np.float32), trimap_model=tiny_cnn_trimap)


def test_list_input_and_names(tiny_vit, tiny_cnn_trimap, photo, tmp_path):
    from PIL import Image

    path = tmp_path / "disc.png"
    Image.fromarray((photo * 255).astype(np.uint8)).save(path)
    results = tiny_vit.predict([str(path), photo], two_stage=True, trimap_model=tiny_cnn_trimap)
    assert [r.name for r in results] == ["disc", ""]


def test_two_stage_refuses_bad_combinations(tiny_vit, tiny_cnn_trimap, photo):
    with pytest.raises(AFMattingError, match="trimap-free"):
        tiny_cnn_trimap.predict(photo, trimap=np.full(photo.shape[:2], 128, np.uint8), two_stage=True)
    with pytest.raises(AFMattingError, match="trimap_model"):
        two_stage_predict(tiny_vit, photo, trimap_model=tiny_vit)
    with pytest.raises(AFMattingError, match="trimap_model"):
        tiny_vit.predict(photo, two_stage=True)
    with pytest.raises(AFMattingError, match="trimap-free"):
        tiny_vit.predict(photo, trimap=np.full(photo.shape[:2], 128, np.uint8), two_stage=True,
                         trimap_model=tiny_cnn_trimap)


@pytest.mark.slow
def test_bundled_trimap_free_pipeline_runs_two_stage_by_default():
    if resolve_bundled(DEFAULT_TRIMAP_FREE_MODEL) is None:
        pytest.skip("bundled models not installed")
    from pathlib import Path

    matter = load_matter(DEFAULT_TRIMAP_FREE_MODEL)
    assert matter.trimap_model is not None and matter.trimap_model.trimap_input
    cat = Path(__file__).resolve().parents[1] / "afmatting" / "assets" / "cat.jpg"
    result = matter.predict(str(cat), max_side=256)
    assert result.extra["two_stage"] and result.trimap is not None
    alone = matter.predict(str(cat), max_side=256, two_stage=False)
    assert alone.trimap is None
    # the network alone is the bare network's predict
    assert np.array_equal(alone.alpha, matter.model.predict(str(cat), max_side=256).alpha)


@pytest.mark.e2e
def test_two_stage_beats_the_network_alone_on_real_photos():
    """Whole-image SAD on two alphamatting photos (downscaled for speed) where the network alone keeps background."""
    from PIL import Image

    from afmatting.data import read_alpha
    from afmatting.io import load_image
    from afmatting.metrics import compute_metrics

    root = shared_path("alphamatting")
    model = load_matter(DEFAULT_TRIMAP_FREE_MODEL)
    single, two = 0.0, 0.0
    for name in ("GT02", "GT05"):
        image = load_image(root / "image" / f"{name}.png")
        h, w = image.shape[0] // 2, image.shape[1] // 2
        image = np.asarray(Image.fromarray((image * 255).astype(np.uint8)).resize((w, h), Image.BILINEAR),
                           np.float32) / 255
        gt = np.asarray(Image.fromarray(read_alpha(str(root / "alpha" / f"{name}.png"))).resize((w, h),
                                                                                               Image.BILINEAR))
        single += compute_metrics(model.predict(image, two_stage=False).alpha, gt)["SAD"]
        two += compute_metrics(model.predict(image).alpha, gt)["SAD"]
    assert two < single


def test_disputed_first_stage_falls_back_to_the_given_matte(tiny_cnn_trimap, photo):
    """The guard counts disputed pixels as unknown and answers with the fallback (our network's matte)."""
    prior = np.zeros(photo.shape[:2], np.float32)
    prior[10:30, 15:40] = 1.0                      # a confident prior, narrow bands: little is unknown
    fallback = np.full(photo.shape[:2], 0.25, np.float32)
    disputed = np.ones(photo.shape[:2], bool)      # but the networks disagree everywhere
    result = matte_from_prior(photo, prior, trimap_model=tiny_cnn_trimap, disputed=disputed, fallback=fallback)
    assert result.extra["mostly_unknown"] and np.array_equal(result.alpha, fallback)
    calm = matte_from_prior(photo, prior, trimap_model=tiny_cnn_trimap, fallback=fallback)
    assert not calm.extra.get("mostly_unknown")


def test_a_corrected_trimap_changes_the_second_stage_only_where_it_was_corrected(tiny_cnn_trimap, photo):
    """The brushes' contract at the library level: rerunning the second stage with its own trimap, corrected in one
    corner, leaves the matte unchanged far from the correction."""
    yy, xx = np.mgrid[:40, :56]
    prior = np.clip(1.5 - np.hypot(yy - 20, xx - 28) / 8, 0, 1).astype(np.float32)
    first = matte_from_prior(photo, prior, trimap_model=tiny_cnn_trimap)
    again = matte_from_prior(photo, prior, trimap_model=tiny_cnn_trimap, trimap=first.trimap)
    assert np.allclose(again.alpha, first.alpha, atol=1e-5)
    corrected = first.trimap.copy()
    corrected[:6, :6] = FOREGROUND
    changed = matte_from_prior(photo, prior, trimap_model=tiny_cnn_trimap, trimap=corrected)
    assert (changed.alpha[:6, :6] == 1).all()
    far = np.ones(photo.shape[:2], bool)
    far[:16, :16] = False
    assert np.abs(changed.alpha - first.alpha)[far].max() < 0.05


def test_when_the_other_networks_miss_the_subject_the_answer_is_ours(tiny_vit, tiny_cnn_trimap, photo):
    """A close-up: the salient-object networks find (almost) nothing where ours mattes a subject, so the median would
    erase it; the answer is our network's matte, with its automatic trimap for the brushes."""
    empty = lambda image: np.zeros(image.shape[:2], np.float32)  # noqa: E731
    ours = matte_once(tiny_vit, photo, None, DEFAULT_FIRST_STAGE_SIDE)
    assert ours.mean() > 0.05
    result = two_stage_predict(tiny_vit, photo, trimap_model=tiny_cnn_trimap, saliency=[empty, empty])
    assert result.extra["fallback"] == "subject missed" and np.array_equal(result.alpha, ours)
    assert result.trimap.shape == photo.shape[:2] and np.array_equal(result.extra["prior"], to_uint8(ours))
    # one of them finding the subject is enough for the fused path
    agrees = lambda image: ours.copy()  # noqa: E731
    fused = two_stage_predict(tiny_vit, photo, trimap_model=tiny_cnn_trimap, saliency=[empty, agrees])
    assert fused.extra.get("fallback") != "subject missed"  # (the grey-wash guard may still answer)


def test_the_two_stage_path_reports_progress_within_an_image(tiny_vit, tiny_cnn_trimap, photo):
    """The app's progress bar moves while one photo is matted: after each first-stage network, not only at the end."""
    seen = []
    half = lambda image: np.full(image.shape[:2], 0.5, np.float32)  # noqa: E731
    tiny_vit.predict(photo, trimap_model=tiny_cnn_trimap, saliency=[half, half],
                     on_progress=lambda stage, fraction: seen.append((stage, fraction)))
    fractions = [f for stage, f in seen if stage == "two_stage"]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    assert np.all(np.diff(fractions) > 0) and len([f for f in fractions if 0 < f < 1]) == 3


def test_keep_outside_edits_changes_only_near_the_changed_pixels():
    old, new = np.zeros((50, 80), np.float32), np.ones((50, 80), np.float32)
    before = np.full((50, 80), UNKNOWN, np.uint8)
    after = before.copy()
    after[10, 20] = FOREGROUND
    out = keep_outside_edits(new, old, before, after, reach=0.05)  # 4 px on an 80 px long side
    yy, xx = np.mgrid[:50, :80]
    near = np.hypot(yy - 10, xx - 20) <= 4
    assert (out[near] == 1).all() and (out[~near] == 0).all()
    assert np.array_equal(keep_outside_edits(new, old, before, before), old)  # nothing painted: nothing changes
    with pytest.raises(AFMattingError, match="one size"):
        keep_outside_edits(new, old[:10], before, after)


def test_correcting_a_guarded_result_keeps_it_away_from_the_correction(tiny_cnn_trimap, photo):
    """The guard answered with a fallback matte; a brush stroke reruns the second stage, which alone would change the
    whole matte: with ``corrects``, only the stroke's neighbourhood changes."""
    yy, xx = np.mgrid[:40, :56]
    prior = np.clip(1.5 - np.hypot(yy - 20, xx - 28) / 8, 0, 1).astype(np.float32)
    fallback = np.full(photo.shape[:2], 0.3, np.float32)
    guarded = matte_from_prior(photo, prior, trimap_model=tiny_cnn_trimap, max_unknown=0.0, fallback=fallback)
    assert guarded.extra["fallback"] == "mostly unknown"
    corrected = guarded.trimap.copy()
    corrected[:4, :4] = FOREGROUND
    plain = matte_from_prior(photo, prior, trimap_model=tiny_cnn_trimap, trimap=corrected)
    kept = matte_from_prior(photo, prior, trimap_model=tiny_cnn_trimap, trimap=corrected,
                            corrects=(guarded.alpha, guarded.trimap))
    far = np.hypot(yy - 2, xx - 2) > EDIT_REACH * 56 + 3
    assert not np.allclose(plain.alpha[far], fallback[far])       # the rerun alone changes it far away
    assert np.array_equal(kept.alpha[far], guarded.alpha[far])    # kept as it was
    assert (kept.alpha[:4, :4] == 1).all()                        # and the stroke took


def test_a_matte_the_colours_explain_replaces_a_median_two_networks_got_wrong(tiny_vit, tiny_cnn_trimap, rng,
                                                                              monkeypatch):
    """Ours and one other network take a block of the backdrop with the subject; the third network's matte, which
    the photo's colours explain, becomes the prior instead of the median (afmatting.first_stage.choose_first_stage)."""
    import afmatting.two_stage as two_stage

    yy, xx = np.mgrid[:90, :120]
    disc = ((yy - 45) ** 2 + (xx - 40) ** 2 < 25 ** 2).astype(np.float32)
    image = np.where(disc[..., None] > 0, [0.9, 0.1, 0.1], [0.1, 0.2, 0.8]) + rng.normal(0, 0.02, (90, 120, 3))
    image = np.clip(image, 0, 1).astype(np.float32)
    wrong = disc.copy()
    wrong[30:60, 80:110] = 1.0
    network_pass = two_stage.matte_once
    monkeypatch.setattr(two_stage, "matte_once", lambda model, im, trimap, side: wrong.copy() if trimap is None
                        else network_pass(model, im, trimap, side))
    result = two_stage_predict(tiny_vit, image, trimap_model=tiny_cnn_trimap,
                               saliency=[lambda im: disc.copy(), lambda im: wrong.copy()])
    assert result.extra["first_stage_choice"] == 1
    assert np.array_equal(result.extra["prior"], to_uint8(disc))
    agreeing = two_stage_predict(tiny_vit, image, trimap_model=tiny_cnn_trimap,
                                 saliency=[lambda im: wrong.copy(), lambda im: disc.copy()])
    assert agreeing.extra["first_stage_choice"] == 2


def test_the_first_stage_guesses_are_kept_on_request_and_start_the_second_stage(tiny_vit, tiny_cnn_trimap, photo):
    """A user whose automatic subject came out wrong starts the second stage from one network's matte instead."""
    yy, xx = np.mgrid[:40, :56]
    disc = ((yy - 20) ** 2 + (xx - 28) ** 2 < 12 ** 2).astype(np.float32)
    left = np.zeros_like(disc)
    left[:, :20] = 1.0
    plain = two_stage_predict(tiny_vit, photo, trimap_model=tiny_cnn_trimap, saliency=[lambda im: left.copy()])
    assert "guesses" not in plain.extra  # not kept unless asked (full-size planes)
    result = tiny_vit.predict(photo, trimap_model=tiny_cnn_trimap, keep_guesses=True,
                              saliency=[lambda im: disc.copy(), lambda im: left.copy()])
    guesses = result.extra["guesses"]
    assert list(guesses) == [OURS_LABEL, "Network 2", "Network 3"]
    assert np.array_equal(guesses["Network 2"], to_uint8(disc)) and guesses["Network 3"].dtype == np.uint8
    again = matte_from_guess(photo, guesses["Network 2"], trimap_model=tiny_cnn_trimap)
    assert np.array_equal(again.extra["prior"], to_uint8(disc)) and again.alpha.shape == disc.shape
    assert np.abs(again.alpha - disc).mean() < 0.1  # a right, sure guess comes back (nearly) as it was


def test_start_from_one_network_skips_the_vote(tiny_vit, tiny_cnn_trimap, photo):
    yy, xx = np.mgrid[:40, :56]
    disc = ((yy - 20) ** 2 + (xx - 28) ** 2 < 12 ** 2).astype(np.float32)
    left = np.zeros_like(disc)
    left[:, :20] = 1.0
    networks = [lambda im: disc.copy(), lambda im: left.copy()]
    result = two_stage_predict(tiny_vit, photo, trimap_model=tiny_cnn_trimap, saliency=networks,
                               start_from="network2")
    assert result.extra["first_stage_choice"] == 1 and np.array_equal(result.extra["prior"], to_uint8(disc))
    with pytest.raises(AFMattingError, match="ours, network2, network3"):
        two_stage_predict(tiny_vit, photo, trimap_model=tiny_cnn_trimap, saliency=networks, start_from="modnet")
    with pytest.raises(AFMattingError, match="two-stage path"):
        tiny_vit.predict(photo, start_from="ours")  # no trimap model: the network alone, nothing to pick from


def test_the_guard_answers_with_ours_only_where_ours_explains_the_colours(tiny_vit, tiny_cnn_trimap, rng,
                                                                          monkeypatch):
    """The networks disagree over most of the photo, so the grey-wash guard would answer with our network's matte.
    It does when the photo's colours explain ours at least as well as the median; when ours is a colour-blind
    pattern and the median (two networks agreeing on the subject) fits the colours, the second stage runs instead."""
    import afmatting.two_stage as two_stage

    yy, xx = np.mgrid[:90, :120]
    disc = ((yy - 45) ** 2 + (xx - 60) ** 2 < 30 ** 2).astype(np.float32)
    image = np.where(disc[..., None] > 0, [0.9, 0.1, 0.1], [0.1, 0.2, 0.8]) + rng.normal(0, 0.02, (90, 120, 3))
    image = np.clip(image, 0, 1).astype(np.float32)
    blocks = np.kron(rng.random((9, 12)) > 0.15, np.ones((10, 10))).astype(np.float32)  # no relation to the colours

    def run(ours, others):
        network_pass = two_stage.matte_once
        monkeypatch.setattr(two_stage, "matte_once", lambda model, im, trimap, side: ours.copy() if trimap is None
                            else network_pass(model, im, trimap, side))
        return two_stage_predict(tiny_vit, image, trimap_model=tiny_cnn_trimap,
                                 saliency=[lambda im, m=m: m.copy() for m in others])

    # ours is the colour-blind pattern, the other two agree on the disc: the second stage runs on the median (the disc)
    median_fits = run(blocks, [disc, disc])
    assert median_fits.extra["first_stage_choice"] is None and not median_fits.extra.get("mostly_unknown")
    assert np.abs(median_fits.alpha - disc).mean() < 0.1 < np.abs(blocks - disc).mean()
    # ours is the disc, the other two disagree everywhere (the pattern and its inverse): the guard answers with ours
    ours_fits = run(disc, [blocks, 1.0 - blocks])
    assert ours_fits.extra["mostly_unknown"] and np.array_equal(ours_fits.alpha, disc)
