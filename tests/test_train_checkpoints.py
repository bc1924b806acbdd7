"""Crash-safe training checkpoints: a kill while saving never breaks ``--resume_from_checkpoint latest``."""

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from afmatting.errors import TrainingConfigError
from afmatting.training import checkpoints as checkpoints_module

from .conftest import import_script

pytestmark = pytest.mark.e2e  # training runs, killed and resumed

ROOT = Path(__file__).resolve().parents[1]
SMOKE = str(ROOT / "train" / "configs" / "smoke.yaml")
COMMON = ["--config", SMOKE, "--log_with", "none", "--max_steps", "6", "--checkpointing_steps", "2",
          "--checkpoints_total_limit", "5", "--validation_steps", "0", "--num_workers", "0"]

train = import_script("train/train.py", "afm_train_checkpoints")


def run_killed_during_second_save(out: Path) -> subprocess.CompletedProcess:
    """Run training in a child process that is SIGKILLed while its second checkpoint (step 4) is being saved:
    after accelerate has written the state files, before the save returns."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        import torch
        torch.set_num_threads(1)
        from accelerate import Accelerator
        original = Accelerator.save_state
        calls = []
        def save_then_die(self, *args, **kwargs):
            original(self, *args, **kwargs)
            calls.append(1)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        Accelerator.save_state = save_then_die
        sys.path.insert(0, {str(ROOT / "train")!r})
        import train
        train.main({COMMON + ["--output_dir", str(out)]!r})
    """)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                          cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"))


def test_kill_while_saving_leaves_latest_resumable(tmp_path, caplog):
    out = tmp_path / "run"
    proc = run_killed_during_second_save(out)
    assert proc.returncode == -9, proc.stderr[-2000:]
    checkpoints = out / "checkpoints"
    # the cut-off save is a hidden partial folder; the only checkpoint-<step> is the complete one
    assert sorted(p.name for p in checkpoints.iterdir() if not p.name.startswith(".")) == ["checkpoint-2"]
    assert (checkpoints / ".checkpoint-4.partial").is_dir()
    assert checkpoints_module.latest_complete_checkpoint(checkpoints).name == "checkpoint-2"

    train.main(COMMON + ["--output_dir", str(out), "--resume_from_checkpoint", "latest"])
    assert json.loads((out / "train_summary.json").read_text())["steps"] == 6
    names = sorted(p.name for p in checkpoints.iterdir())
    assert names == ["checkpoint-2", "checkpoint-4", "checkpoint-6"]  # the partial folder was replaced
    for name in names:
        assert checkpoints_module.checkpoint_problem(checkpoints / name) is None


def test_latest_skips_an_incomplete_newer_checkpoint_with_a_warning(tmp_path, caplog):
    out = tmp_path / "run"
    train.main(COMMON + ["--output_dir", str(out), "--max_steps", "4"])
    checkpoints = out / "checkpoints"
    good = checkpoints / "checkpoint-4"
    # an incomplete checkpoint-6: copied, its weights cut short, no completion marker (as after a kill in an older
    # version, or an interrupted copy)
    bad = checkpoints / "checkpoint-6"
    shutil.copytree(good, bad)
    (bad / checkpoints_module.COMPLETE_MARKER).unlink()
    weights = bad / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    assert "model.safetensors" in checkpoints_module.checkpoint_problem(bad)

    warnings = []
    assert checkpoints_module.latest_complete_checkpoint(checkpoints, warn=warnings.append) == good
    assert len(warnings) == 1 and "checkpoint-6" in warnings[0]

    # through the command line: resumes from step 4 (and trains on to 6) instead of crashing
    with caplog.at_level(logging.WARNING):
        train.main(COMMON + ["--output_dir", str(out), "--resume_from_checkpoint", "latest"])
    assert "incomplete checkpoint" in caplog.text and "checkpoint-6" in caplog.text
    assert json.loads((out / "train_summary.json").read_text())["steps"] == 6


def test_marker_catches_a_truncated_file_and_explicit_incomplete_checkpoint_is_refused(tmp_path):
    out = tmp_path / "run"
    train.main(COMMON + ["--output_dir", str(out), "--max_steps", "2"])
    folder = out / "checkpoints" / "checkpoint-2"
    assert checkpoints_module.checkpoint_problem(folder) is None
    optimizer = folder / "optimizer.bin"
    optimizer.write_bytes(optimizer.read_bytes()[:100])
    assert "optimizer.bin" in checkpoints_module.checkpoint_problem(folder)
    with pytest.raises(TrainingConfigError, match="incomplete") as raised:
        train.main(COMMON + ["--output_dir", str(out), "--resume_from_checkpoint", str(folder)])
    assert "checkpoint-2" in str(raised.value)


def test_corrupt_dataset_image_is_one_error_line(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    for sub in ("image", "alpha"):
        (tmp_path / "data" / sub).mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((32, 32, 3), 40 * i, np.uint8)).save(tmp_path / "data" / "image" / f"{i}.png")
        Image.fromarray(np.full((32, 32), 100, np.uint8)).save(tmp_path / "data" / "alpha" / f"{i}.png")
    broken = tmp_path / "data" / "image" / "1.png"
    broken.write_bytes(broken.read_bytes()[:60])  # truncated
    code = train.run_from_command_line(COMMON + ["--dataset", str(tmp_path / "data"),
                                                 "--output_dir", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error:") and "1.png" in err[0], err
    assert "Traceback" not in "\n".join(err)


def test_script_errors_exit_2_and_bugs_get_a_summary_line_first(tmp_path, capsys, monkeypatch):
    code = train.run_from_command_line(COMMON + ["--output_dir", str(tmp_path / "run"), "--resume_from_checkpoint",
                                                 str(tmp_path / "nowhere" / "checkpoint-3")])
    assert code == 2 and capsys.readouterr().err.strip().startswith("error: checkpoint")

    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug")

    import afmatting.training.loop as loop

    monkeypatch.setattr(loop, "compute_losses", broken)
    code = train.run_from_command_line(COMMON + ["--output_dir", str(tmp_path / "run2")])
    err = capsys.readouterr().err
    assert code == 1
    summary = "error: training failed with RuntimeError: simulated bug\n"
    assert summary in err and "Traceback" in err
    assert err.index(summary) < err.index("Traceback")  # the summary comes first (progress bars may precede it)
