"""benchmarks/alphamatting.py: the reproduction-table harness on the real-GT alphamatting.com set.

pymatting (the classical rows) is a benchmark-only dependency and is not exercised here.
"""

import json
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from afmatting import AFMatting
from afmatting.metrics import compute_metrics

from .conftest import import_script, shared_path

MAX_SIDE = 192  # keeps the tiny model's runs fast; the harness passes it through to predict


bench = import_script("benchmarks/alphamatting.py", "bench_alphamatting")


def _tiny(trimap_input: bool) -> AFMatting:
    torch.manual_seed(1)
    return AFMatting(backbone="test_vit", trimap_input=trimap_input,
                     fusion_widths=(32, 16, 16, 8), detail_widths=(8, 16, 16)).eval()


@pytest.fixture(scope="module")
def root():
    return shared_path("alphamatting")


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    d = tmp_path_factory.mktemp("am_models")
    _tiny(True).save_pretrained(d / "trimap")
    _tiny(False).save_pretrained(d / "free")
    return d


def test_load_alphamatting_reads_the_real_set(root):
    samples = bench.load_alphamatting(root, "trimap1")
    assert [s[0] for s in samples] == [f"GT{i:02d}" for i in range(1, 28)]
    name, image, trimap, alpha = samples[0]
    assert image.dtype == np.float32 and image.ndim == 3 and image.shape[2] == 3
    assert trimap.dtype == np.uint8 and trimap.shape == image.shape[:2]
    assert alpha.dtype == np.float32 and alpha.shape == image.shape[:2]
    assert set(np.unique(trimap)) == {0, 128, 255}
    # the files themselves: RGB image / 255, alpha stored as 3 equal grey channels, palette trimap
    raw_image = np.asarray(Image.open(root / "image" / "GT01.png").convert("RGB"))
    np.testing.assert_allclose(image, raw_image / 255.0, atol=1e-6)
    raw_alpha = np.asarray(Image.open(root / "alpha" / "GT01.png"))
    assert raw_alpha.ndim == 3 and np.array_equal(raw_alpha[..., 0], raw_alpha[..., 2])
    np.testing.assert_array_equal(np.round(alpha * 255).astype(np.uint8), raw_alpha[..., 0])
    # the ground truth agrees with its trimap: opaque under foreground, transparent under background
    assert alpha[trimap == 255].min() > 0.9 and alpha[trimap == 0].max() < 0.1


def test_trimap2_is_the_wider_band(root):
    tight = bench.load_alphamatting(root, "trimap1", limit=3)
    wide = bench.load_alphamatting(root, "trimap2", limit=3)
    assert [s[0] for s in tight] == [s[0] for s in wide] == ["GT01", "GT02", "GT03"]
    for (_, im1, t1, a1), (_, im2, t2, a2) in zip(tight, wide):
        np.testing.assert_array_equal(im1, im2)
        np.testing.assert_array_equal(a1, a2)
        assert (t2 == 128).sum() > (t1 == 128).sum()


def test_load_alphamatting_names_a_missing_trimap_folder(root):
    with pytest.raises(ValueError, match="trimap9"):
        bench.load_alphamatting(root, "trimap9")


def test_evaluate_model_dir_trimap_model(root, model_dirs):
    results, rows = bench.evaluate_model_dir(model_dirs / "trimap", root, max_side=MAX_SIDE, limit=2,
                                             return_rows=True)
    assert set(results) == {"trimap1", "trimap2"}
    for trimap_name in ("trimap1", "trimap2"):
        means = results[trimap_name]
        assert means["count"] == 2 and [r["name"] for r in rows[trimap_name]] == ["GT01", "GT02"]
        for key in ("SAD", "MSE", "MAD", "Grad", "Conn", "time_s"):
            assert np.isfinite(means[key]) and means[key] > 0
        assert means["SAD"] == pytest.approx(np.mean([r["SAD"] for r in rows[trimap_name]]))
    # the row equals scoring the model's own prediction (given the trimap) in the unknown region
    model = AFMatting.from_pretrained(str(model_dirs / "trimap"))
    name, image, trimap, gt = bench.load_alphamatting(root, "trimap2", limit=1)[0]
    alpha = model.predict(image, trimap=trimap, max_side=MAX_SIDE, refine=False).alpha
    expected = compute_metrics(alpha, gt, trimap)
    for key in ("SAD", "MSE", "Grad", "Conn"):
        assert rows["trimap2"][0][key] == pytest.approx(expected[key], rel=1e-4)
    # the wider trimap scores more pixels: a random model accumulates more absolute error there
    assert results["trimap2"]["SAD"] > results["trimap1"]["SAD"]


def test_evaluate_model_dir_trimap_free_model_is_scored_in_the_unknown_region(root, model_dirs):
    results = bench.evaluate_model_dir(model_dirs / "free", root, trimaps=("trimap1",), max_side=MAX_SIDE, limit=1)
    model = AFMatting.from_pretrained(str(model_dirs / "free"))
    _, image, trimap, gt = bench.load_alphamatting(root, "trimap1", limit=1)[0]
    alpha = model.predict(image, max_side=MAX_SIDE).alpha  # no trimap reaches a trimap-free model
    assert results["trimap1"]["SAD"] == pytest.approx(compute_metrics(alpha, gt, trimap)["SAD"], rel=1e-4)
    assert results["trimap1"]["SAD"] < compute_metrics(alpha, gt)["SAD"]  # not the whole image
    with pytest.raises(ValueError, match="trimap-free"):
        bench.evaluate_model_dir(model_dirs / "free", root, trimaps=("trimap1",), adapt_steps=2, limit=1)


def test_cli_prints_the_table_and_writes_json(root, model_dirs, tmp_path, capsys):
    out = tmp_path / "res.json"
    code = bench.main(["--model", str(model_dirs / "trimap"), "--label", "tiny", "--root", str(root),
                       "--trimaps", "trimap1", "--limit", "1", "--max-side", str(MAX_SIDE), "--json", str(out)])
    assert code == 0
    table = capsys.readouterr().out
    assert "| Method | Trimap1 SAD | Trimap1 MSE | Trimap1 Grad | Trimap1 Conn | Trimap1 s/img |" in table
    data = json.loads(out.read_text())
    (row,) = data["rows"]
    assert row["label"] == "tiny" and row["results"]["trimap1"]["count"] == 1
    assert f"| tiny | {row['results']['trimap1']['SAD']:.2f} |" in table
    assert row["per_image"]["trimap1"][0]["name"] == "GT01"


def test_classical_without_pymatting_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pymatting", None)  # makes `import pymatting` fail
    with pytest.raises(ImportError, match="pip install pymatting"):
        bench.classical_matte_fn("cf")
    with pytest.raises(ValueError, match="knn"):
        bench.classical_matte_fn("poisson")


@pytest.mark.e2e
def test_ddc_solver_row_scores_the_loss_alone(root, tmp_path):
    """The no-network row: known + DDC minimised from a flat start, on a downscaled copy of GT01 (kept in tmp)."""
    small = tmp_path / "am"
    for folder, resample in (("image", Image.BILINEAR), ("alpha", Image.BILINEAR), ("trimap1", Image.NEAREST)):
        (small / folder).mkdir(parents=True)
        Image.open(root / folder / "GT01.png").convert("RGB").resize((160, 107), resample).save(
            small / folder / "GT01.png")
    results, rows = bench.evaluate_ddc_solver(small, ("trimap1",), steps=30, return_rows=True)
    _, image, trimap, gt = bench.load_alphamatting(small, "trimap1")[0]
    flat = np.where(trimap == 255, 1.0, np.where(trimap == 0, 0.0, 0.5))
    assert results["trimap1"]["count"] == 1 and rows["trimap1"][0]["name"] == "GT01"
    assert results["trimap1"]["SAD"] < 0.5 * compute_metrics(flat, gt, trimap)["SAD"]


@pytest.mark.e2e
def test_ddc_objective_table(root, capsys):
    objective = import_script("benchmarks/ddc_objective.py", "bench_ddc_objective")
    assert objective.main(["--root", str(root), "--limit", "1"]) == 0
    out = capsys.readouterr().out
    line = next(s for s in out.splitlines() if s.startswith("| GT01 |"))
    gt_loss, pred_loss, flat_loss = (float(v) for v in line.split("|")[2:5])
    assert gt_loss < flat_loss and pred_loss < flat_loss  # both mattes beat the flat start under DDC
    assert "of 1 images" in out
