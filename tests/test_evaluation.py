"""The evaluation loop and ``afmatting eval``.

The models here are stand-ins with the AFMatting.predict interface that return the ground truth (or a blurred or
shifted ground truth): they test the evaluation loop itself, not a real model.
"""

import argparse
import csv
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import ImageFilter

from afmatting.cli import add_eval_subcommand, cmd_eval
from afmatting.errors import DatasetError, InvalidSizeError
from afmatting.evaluation import evaluate, format_table
from afmatting.metrics import compute_metrics
from afmatting.processing import to_uint8
from afmatting.data.synthetic import make_synthetic_dataset


@pytest.fixture(scope="module")
def dataset():
    return make_synthetic_dataset(0, 3, size=64, seed=4)["validation"]


class GroundTruthStandIn:
    """Looks the image up and returns its ground-truth alpha, optionally blurred (a stand-in, not a model)."""

    def __init__(self, dataset, blur=0.0, trimap_input=False):
        self.trimap_input = trimap_input
        self.blur = blur
        self.by_image = {np.asarray(r["image"]).tobytes(): r["alpha"] for r in dataset}
        self.calls = []

    def predict(self, image, trimap=None, max_side=None, device=None):
        self.calls.append({"trimap": trimap, "max_side": max_side, "device": device})
        alpha = self.by_image[to_uint8(np.asarray(image)).tobytes()]  # evaluate passes load_image's float32
        if self.blur:
            alpha = alpha.filter(ImageFilter.GaussianBlur(self.blur))
        return SimpleNamespace(alpha=np.asarray(alpha, dtype=np.float32) / 255.0)


def test_perfect_predictions_score_zero(dataset):
    model = GroundTruthStandIn(dataset)
    means, rows = evaluate(model, dataset, progress=False)
    assert [r["name"] for r in rows] == dataset["name"]
    # float32 predictions of uint8 ground truth: zero up to float32 rounding
    assert all(means[k] == pytest.approx(0.0, abs=1e-4) for k in ("SAD", "MSE", "MAD", "Grad", "Conn"))
    assert means["count"] == 3
    # time_s: the mean of the per-image predict times (each one call's seconds)
    assert means["time_s"] == pytest.approx(np.mean([row["time_s"] for row in rows]))
    assert [(row["height"], row["width"]) for row in rows] == [np.asarray(a).shape for a in dataset["alpha"]]
    assert all(call["trimap"] is None for call in model.calls)  # trimap-free model gets no trimap


def test_blurred_predictions_match_compute_metrics(dataset):
    model = GroundTruthStandIn(dataset, blur=1.5, trimap_input=True)
    means_unknown, rows = evaluate(model, dataset, region="unknown", max_side=None, progress=False)
    assert all(isinstance(call["trimap"], np.ndarray) for call in model.calls)
    assert all(call["max_side"] is None for call in model.calls)  # None: full resolution, as in predict
    row = dataset[0]
    gt = np.asarray(row["alpha"])
    pred = np.asarray(row["alpha"].filter(ImageFilter.GaussianBlur(1.5)), dtype=np.float32) / 255
    expected = compute_metrics(pred, gt, np.asarray(row["trimap"]))
    assert rows[0]["SAD"] == pytest.approx(expected["SAD"]) and rows[0]["Conn"] == pytest.approx(expected["Conn"])
    assert means_unknown["SAD"] == pytest.approx(np.mean([r["SAD"] for r in rows]))
    means_whole, _ = evaluate(model, dataset, region="whole", progress=False, limit=2)
    assert means_whole["count"] == 2
    assert means_whole["SAD"] >= np.mean([r["SAD"] for r in rows[:2]]) - 1e-12
    assert "SAD" in format_table(means_whole, "title")


def test_on_prediction_sees_each_matte_once(dataset):
    model = GroundTruthStandIn(dataset, blur=1.0)
    seen = []
    evaluate(model, dataset, progress=False, on_prediction=lambda *args: seen.append(args))
    assert [name for name, *_ in seen] == dataset["name"] and len(model.calls) == len(dataset)
    name, image, alpha, gt = seen[0]
    assert image.dtype == np.uint8 and image.shape == (64, 64, 3)
    assert alpha.dtype == np.float32 and alpha.shape == (64, 64) and 0 <= alpha.min() <= alpha.max() <= 1
    np.testing.assert_array_equal(gt, np.asarray(dataset[0]["alpha"]))


def test_max_side_has_one_meaning(dataset):
    model = GroundTruthStandIn(dataset)
    evaluate(model, dataset, progress=False, limit=1)
    assert model.calls[-1]["max_side"] == 1024  # predict's default, passed on
    for bad in (0, -5, 3, 2.5, "full"):
        with pytest.raises(InvalidSizeError, match="max_side"):
            evaluate(model, dataset, max_side=bad, progress=False)


def test_missing_alpha_is_refused(dataset):
    with pytest.raises(DatasetError, match="alpha"):
        evaluate(GroundTruthStandIn(dataset), dataset.remove_columns("alpha"), progress=False)


def test_eval_subcommand(dataset, tmp_path, monkeypatch, capsys):
    saved = tmp_path / "data"
    dataset.save_to_disk(str(saved))
    stand_in = GroundTruthStandIn(dataset, blur=1.0)
    import afmatting.cli

    monkeypatch.setattr(afmatting.cli, "load_matter", lambda model, device=None: stand_in)
    parser = argparse.ArgumentParser()
    add_eval_subcommand(parser.add_subparsers(dest="command"))
    out_csv = tmp_path / "rows.csv"
    args = parser.parse_args(
        ["eval", "--data", str(saved), "--model", "stand-in", "--region", "whole", "--csv", str(out_csv), "--quiet"]
    )
    assert args.func is cmd_eval
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "SAD" in printed and "region=whole" in printed
    with out_csv.open() as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == dataset["name"] and float(rows[0]["SAD"]) > 0
