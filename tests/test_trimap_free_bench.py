"""benchmarks/trimap_free.py: the whole-image harness of the trimap-free path (pymatting rows not exercised)."""

import numpy as np
import pytest

from afmatting.errors import DatasetError

from .conftest import import_script, shared_path

bench = import_script("benchmarks/trimap_free.py", "bench_trimap_free")


def test_harness_scores_whole_images():
    photos = bench.load_photos(shared_path("alphamatting"), limit=2)
    assert [name for name, _, _ in photos] == ["GT01", "GT02"]
    name, image, gt = photos[0]
    assert image.dtype == np.float32 and gt.dtype == np.uint8 and image.shape[:2] == gt.shape
    perfect, rows = bench.score_rows(lambda im: _lookup(photos, im), photos, "gt")
    assert perfect["SAD"] == pytest.approx(0.0, abs=1e-6) and perfect["count"] == 2
    empty, _ = bench.score_rows(lambda im: np.zeros(im.shape[:2], np.float32), photos, "zeros")
    expected = np.mean([gt.astype(np.float64).sum() / 255 / 1000 for _, _, gt in photos])
    assert empty["SAD"] == pytest.approx(expected, rel=1e-6)
    assert rows[0]["time_s_per_0.5MP"] == pytest.approx(rows[0]["time_s"] * 500_000 / gt.size)
    table = bench.markdown_table({"zeros": empty})
    assert table.splitlines()[2].startswith("| zeros | ")


def test_interleaved_scoring_takes_each_photo_in_turn():
    photos = bench.load_photos(shared_path("alphamatting"), limit=2)
    calls = []

    def method(label):
        def fn(image):
            calls.append((label, next(name for name, im, _ in photos if im is image)))
            return np.zeros(image.shape[:2], np.float32)
        return fn

    rows = bench.score_interleaved({"a": method("a"), "b": method("b")}, photos)
    assert calls == [("a", "GT01"), ("b", "GT01"), ("a", "GT02"), ("b", "GT02")]
    alone, _ = bench.score_rows(method("a"), photos, "a")
    assert bench.summarise(rows["a"])["SAD"] == pytest.approx(alone["SAD"])


def _lookup(photos, image):
    for _, im, gt in photos:
        if im is image:
            return gt.astype(np.float32) / 255
    raise AssertionError("unknown image")


def test_missing_folders_are_named(tmp_path):
    with pytest.raises(DatasetError, match="alpha"):
        (tmp_path / "image").mkdir()
        bench.load_photos(tmp_path)


def test_visible_sets_are_made_the_same_way_every_time():
    """benchmarks/matting_sets.py: the derived sets have the documented sizes and kinds of alpha, reproducibly."""
    shared = shared_path("alphamatting").parent
    from benchmarks.matting_sets import CROP_SIDE, load_sets

    sets = load_sets(["crops", "hard-edged"], shared, limit=1)
    (name, crop, crop_alpha), = sets["crops"]
    assert name == "GT01-crop" and crop.shape == (CROP_SIDE, CROP_SIDE, 3) and crop_alpha.shape == (CROP_SIDE, CROP_SIDE)
    (_, hard, hard_alpha), = sets["hard-edged"]
    assert hard.shape[:2] == hard_alpha.shape and hard_alpha.dtype == np.uint8
    soft = ((hard_alpha > 0) & (hard_alpha < 255)).mean()
    assert soft < 0.02  # near-binary: only the anti-aliased outline is fractional
    again = load_sets(["hard-edged"], shared, limit=1)["hard-edged"][0]
    assert np.array_equal(again[1], hard) and np.array_equal(again[2], hard_alpha)
    (_, studio, studio_alpha), = load_sets(["studio"], shared, limit=1)["studio"]
    assert np.array_equal(studio_alpha, hard_alpha)  # the same subject and alpha, on a plain backdrop
    backdrop = studio[studio_alpha == 0]
    assert backdrop.min() > 0.4 and backdrop.std(axis=0).max() < 0.1  # light and plain (a gradient, a shadow)
    from benchmarks.matting_sets import SMALL_SIDE

    (name, small, small_alpha), = load_sets(["small"], shared, limit=1)["small"]
    assert name == "GT03-small" and small.shape == (SMALL_SIDE, SMALL_SIDE, 3) and small_alpha.dtype == np.uint8
    assert 0.02 < (small_alpha > 127).mean() < 0.12  # a small subject
    assert ((small_alpha > 0) & (small_alpha < 255)).mean() < 0.01  # near-binary


def test_empty_square_is_the_largest_square_the_alpha_leaves_empty():
    from benchmarks.matting_sets import empty_square

    alpha = np.zeros((100, 140), np.uint8)
    alpha[:, 60:] = 255                                   # a subject on the right: the empty part is 100 x 60
    assert empty_square(alpha, step=4) == (60, 0, 0)
    alpha[:, :] = 255
    assert empty_square(alpha, step=4) is None


def test_the_guesses_benchmark_summary():
    """benchmarks/guesses.py: per photo the best of the automatic result and the guesses, and who gains > 20 %."""
    from benchmarks.guesses import summary

    rows = [{"automatic": 10.0, "ours": 12.0, "modnet": 4.0}, {"automatic": 5.0, "ours": 4.5, "modnet": 9.0}]
    assert summary(rows) == {"photos": 2, "automatic": 7.5, "best_of_guesses": 4.25, "improved_20pct": 1}


def test_the_default_paths_steps_are_timed_against_the_baseline():
    """A row that returns a MattingResult is scored on its alpha, and its steps' seconds become multiples of the
    baseline's time in the same run; a step that did not run on a photo counts 0 there."""
    from afmatting.result import MattingResult

    photos = bench.load_photos(shared_path("alphamatting"), limit=2)

    def default(image):
        extra = {"first_stage_seconds": 0.5, "trimap_seconds": 0.1}
        if image is photos[0][1]:
            extra["refine_seconds"] = 0.4
        return MattingResult(image=image, alpha=_lookup(photos, image), extra=extra)

    rows = bench.score_interleaved({"default": default, "MODNet": lambda im: np.zeros(im.shape[:2], np.float32)},
                                   photos)
    means = {label: bench.summarise(r) for label, r in rows.items()}
    assert means["default"]["SAD"] == pytest.approx(0.0, abs=1e-6)
    assert means["default"]["first_stage_seconds"] == pytest.approx(0.5)
    assert means["default"]["refine_seconds"] == pytest.approx(0.2) and "trimap_model_seconds" not in means["default"]
    means["MODNet"]["time_s"] = 0.25
    table = bench.step_ratios({"alphamatting": means}).splitlines()
    assert table[0].startswith("| set | first stage | trimap | trimap model | refine |")
    assert table[2].startswith("| alphamatting | 2.00x | 0.40x | 0.00x | 0.80x | ")
