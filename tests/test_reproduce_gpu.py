"""benchmarks/reproduce_gpu.py: side-by-side rows with one step count, packaged small, unpacked and loadable (run on
the CPU with the smoke config; the real thing runs on a lent GPU)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from afmatting import AFMatting

from .conftest import import_script

ROOT = Path(__file__).resolve().parents[1]
SMOKE = str(ROOT / "train" / "configs" / "smoke.yaml")
driver = import_script("benchmarks/reproduce_gpu.py", "afm_reproduce_gpu")


@pytest.mark.e2e
def test_rows_train_side_by_side_with_one_step_count(tmp_path):
    runs, out = tmp_path / "runs", tmp_path / "out"
    driver.main(["--rows", "known+ddc", "trimap-free+ddc", "--budget_s", "240", "--probe_steps", "4", "--margin_s", "5",
                 "--max_steps", "6",
                 "--runs_dir", str(runs), "--out", str(out),
                 "--", "--config", SMOKE, "--dataset", "synthetic", "--num_workers", "0", "--log_steps", "2"])
    report = json.loads((runs / "report.json").read_text())
    assert all(code == 0 for code in report["exit_codes"].values())
    assert all(rate > 0 for rate in report["probe"]["images_per_s"].values())
    assert sorted(p.name for p in out.iterdir()) == ["known_ddc.tar", "logs.tar", "trimap-free_ddc.tar"]
    with tarfile.open(out / "known_ddc.tar") as tar:
        assert "final/model.safetensors" in tar.getnames() and "best/model.safetensors" not in tar.getnames()

    unpacked = tmp_path / "unpacked"
    driver.unpack(out, unpacked)
    steps = {row: json.loads((unpacked / row / "train_summary.json").read_text())["steps"]
             for row in ("known_ddc", "trimap-free_ddc")}
    assert set(steps.values()) == {report["steps"]} == {6}  # the same step count for every row
    with safe_open(str(unpacked / "known_ddc" / "model.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys() if f.get_tensor(k).is_floating_point()} == {torch.float16}
    for row in steps:
        assert AFMatting.from_pretrained(unpacked / row).backbone_name == "test_vit"
    assert (unpacked / "probe" / "known_ddc.log").exists()


def test_steady_rate_reads_the_training_summary(tmp_path):
    (tmp_path / "train_summary.json").write_text(json.dumps({"images_per_s": 7.5, "steady_images_per_s": 12.25}))
    assert driver.steady_rate(tmp_path) == 12.25
    assert driver.steady_rate(tmp_path / "failed-run") is None  # no summary: the run did not finish


def test_train_setting_follows_overrides():
    assert driver.train_setting("batch_size", []) == 16  # gpu_efficientnet.yaml
    assert driver.train_setting("batch_size", ["--config", SMOKE]) == 2
    assert driver.train_setting("batch_size", ["--config", SMOKE, "--batch_size", "4"]) == 4
