"""``afmatting finetune``: a few steps on tiny photos give a loadable model whose weights changed; bad inputs are one
clear error line each."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from afmatting import AFMatting
from afmatting.cli import main as cli_main
from afmatting.errors import DatasetError
from afmatting.finetune import FINETUNE_RECORD, finetune, pair_inputs, split_holdout
from afmatting.loading import load_matter

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(backbone="test_vit", detail_widths=(8, 16, 16), fusion_widths=(32, 16, 16, 8), neck_width=32,
            head_width=8)
#: a recipe small enough for the test machine (the real one: 256 px crops, batch 4)
FAST = {"crop_size": 48, "batch_size": 2, "val_max_side": 64, "kernel_size": 5, "warmup_steps": 1,
        "learning_rate": 1e-3}


def write_photos(folder: Path, count: int = 5, size: int = 64) -> tuple[Path, Path]:
    """``count`` photos of a bright disc on texture, with trimaps (disc interior 255, a grey band, 0 outside)."""
    images, trimaps = folder / "images", folder / "trimaps"
    images.mkdir(parents=True)
    trimaps.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    for i in range(count):
        r = np.hypot(yy - size / 2 - i, xx - size / 2 + i)
        photo = rng.integers(0, 90, (size, size, 3)).astype(np.uint8)
        photo[r < size / 4] = (230, 200 - 10 * i, 60)
        trimap = np.where(r < size / 4 - 4, 255, np.where(r < size / 4 + 4, 128, 0)).astype(np.uint8)
        Image.fromarray(photo).save(images / f"p{i}.jpg")
        Image.fromarray(trimap).save(trimaps / f"p{i}_trimap.png")
    return images, trimaps


@pytest.fixture
def tiny_base(tmp_path):
    torch.manual_seed(0)
    folder = tmp_path / "base"
    AFMatting(**TINY).save_pretrained(folder)
    return folder


def test_few_steps_give_a_loadable_model_whose_weights_changed(tmp_path, tiny_base):
    images, trimaps = write_photos(tmp_path)
    out = tmp_path / "tuned"
    report = finetune(images, trimaps, out, base=str(tiny_base), steps=3, overrides=FAST, log=lambda *_: None)
    assert report.steps == 3 and len(report.train_names) == 4 and len(report.val_names) == 1
    for key in ("objective", "known", "ddc"):  # before / after on the held-out trimap
        assert np.isfinite(report.before[key]) and np.isfinite(report.after[key])
    before, after = load_file(str(tiny_base / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert before.keys() == after.keys()
    assert any(not torch.equal(before[k], after[k]) for k in before if "num_batches" not in k)
    loaded = AFMatting.from_pretrained(out)
    assert loaded.finetuned_from == str(tiny_base)
    assert not (out / "checkpoints").exists()  # a clean folder to load or push
    record = json.loads((out / FINETUNE_RECORD).read_text())
    assert record["train_images"] == report.train_names and record["held_out_images"] == report.val_names
    card = (out / "README.md").read_text()
    assert "Fine-tuned from" in card and "no alpha labels" in card and report.val_names[0] in card
    alpha = loaded.predict(str(images / "p0.jpg"), two_stage=False).alpha
    assert alpha.shape == (64, 64) and np.isfinite(alpha).all()


def test_a_model_tuned_from_the_bundled_trimap_free_model_keeps_the_two_stage_default(tmp_path):
    bundled = AFMatting.from_pretrained("afmatting/lite0-trimap-free")
    folder = tmp_path / "tuned"
    bundled.save_pretrained(folder)
    (folder / FINETUNE_RECORD).write_text(json.dumps({"base_model": "afmatting/lite0-trimap-free"}))
    matter = load_matter(str(folder))
    assert matter.trimap_model is not None and matter.trimap_model.trimap_input  # the bundled second stage
    (folder / FINETUNE_RECORD).unlink()
    assert load_matter(str(folder)).trimap_model is None  # a plain folder: the network alone


def run_cli(args, capsys) -> tuple[int, list[str]]:
    code = cli_main(["finetune", *map(str, args)])
    return code, capsys.readouterr().err.strip().splitlines()


def test_no_trimaps_is_one_error_line(tmp_path, capsys):
    images, _ = write_photos(tmp_path, count=2)
    empty = tmp_path / "empty"
    empty.mkdir()
    code, err = run_cli([images, "--trimaps", empty, "--out", tmp_path / "o"], capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("error: None of the 2 training images has a trimap")
    code, err = run_cli([images, "--trimaps", tmp_path / "nowhere", "--out", tmp_path / "o"], capsys)
    assert code == 2 and len(err) == 1 and "--trimaps must be a folder" in err[0]


def test_mismatched_sizes_is_one_error_line(tmp_path, capsys):
    images, trimaps = write_photos(tmp_path, count=2)
    Image.new("L", (40, 30), 128).save(trimaps / "p1_trimap.png")
    code, err = run_cli([images, "--trimaps", trimaps, "--out", tmp_path / "o"], capsys)
    assert code == 2 and len(err) == 1
    assert err[0].startswith("error: Size mismatch") and "p1_trimap.png" in err[0] and "40x30" in err[0]


def test_all_unknown_trimap_is_one_error_line(tmp_path, capsys):
    images, trimaps = write_photos(tmp_path, count=2)
    Image.new("L", (64, 64), 128).save(trimaps / "p0_trimap.png")
    code, err = run_cli([images, "--trimaps", trimaps, "--out", tmp_path / "o"], capsys)
    assert code == 2 and len(err) == 1 and "p0_trimap.png' is all unknown" in err[0]


def test_trimaps_without_an_unknown_band_are_refused(tmp_path):
    images, trimaps = write_photos(tmp_path, count=2)
    for i in range(2):
        Image.new("L", (64, 64), 255 * i).save(trimaps / f"p{i}_trimap.png")
    with pytest.raises(DatasetError, match="unknown"):
        pair_inputs(images, trimaps)


def test_images_without_trimaps_are_skipped_and_named(tmp_path):
    images, trimaps = write_photos(tmp_path, count=3)
    (trimaps / "p2_trimap.png").unlink()
    samples, skipped = pair_inputs(images, trimaps)
    assert [s.name for s in samples] == ["p0", "p1"] and skipped == [f"p2.jpg: no trimap in '{trimaps}'"]


def test_holdout_is_reproducible_and_disjoint(tmp_path):
    images, trimaps = write_photos(tmp_path, count=6)
    samples, _ = pair_inputs(images, trimaps)
    train_a, held_a = split_holdout(samples, 2, seed=3)
    train_b, held_b = split_holdout(samples, 2, seed=3)
    assert held_a == held_b and len(held_a) == 2 and not {s.name for s in held_a} & {s.name for s in train_a}


def test_push_to_an_unreachable_hub_fails_before_training(tmp_path, capsys, monkeypatch):
    """The Hub endpoint is a closed local port: the reachability check refuses at once, nothing is trained."""
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "ENDPOINT", "http://127.0.0.1:9")
    images, trimaps = write_photos(tmp_path, count=2)
    code, err = run_cli([images, "--trimaps", trimaps, "--out", tmp_path / "o", "--push-to-hub", "me/model"],
                        capsys)
    assert code == 2 and len(err) == 1 and "Hub is unreachable" in err[0]
    assert not (tmp_path / "o").exists()


@pytest.mark.e2e
def test_command_line_finetunes_the_bundled_model_and_matte_loads_it(tmp_path):
    """The installed command path end to end: `afmatting finetune` (2 steps) then `afmatting matte --model`."""
    images, trimaps = write_photos(tmp_path, count=4, size=96)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    out = tmp_path / "tuned"
    proc = subprocess.run([sys.executable, "-m", "afmatting.cli", "finetune", str(images), "--trimaps", str(trimaps),
                           "--out", str(out), "--steps", "2"], capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| objective (known + 10 x DDC) |" in proc.stdout and f"--model {out}" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "afmatting.cli", "matte", str(images / "p0.jpg"), "--model", str(out),
                           "--out", str(tmp_path / "mattes"), "--save-trimap"],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    trimap = np.asarray(Image.open(tmp_path / "mattes" / "p0_trimap.png"))
    assert trimap.shape == (96, 96) and set(np.unique(trimap)) <= {0, 128, 255}


def test_l2sp_keeps_the_tuned_weights_nearer_the_start(tmp_path, tiny_base):
    """Same photos, steps and seed: with a strong L2-SP pull the weights move less than without it."""
    images, trimaps = write_photos(tmp_path)
    start = load_file(str(tiny_base / "model.safetensors"))

    def drift(weight: float) -> float:
        out = tmp_path / f"tuned-{weight}"
        finetune(images, trimaps, out, base=str(tiny_base), steps=4, overrides={**FAST, "l2sp_weight": weight},
                 log=lambda *_: None)
        tuned = load_file(str(out / "model.safetensors"))
        return sum(float((tuned[k].float() - start[k].float()).pow(2).sum()) for k in start
                   if start[k].is_floating_point() and "running" not in k)

    free, pulled = drift(0.0), drift(1000.0)
    assert 0 < pulled < 0.5 * free


def test_batch_norm_statistics_stay_the_starts_while_the_weights_learn(tmp_path, tiny_base):
    """The recipe keeps every batch-norm layer's running mean and variance from the start (a batch of four band
    crops is not the whole photos they came from; replacing them broke held-out photos); the layers' scale and shift,
    and every other weight, still learn. ``freeze_norm_stats=False`` lets the statistics move, as training from
    scratch does. finetune.json records the recipe actually used, overrides included."""
    images, trimaps = write_photos(tmp_path)
    start = load_file(str(tiny_base / "model.safetensors"))
    statistics = [k for k in start if k.endswith(("running_mean", "running_var"))]
    assert statistics

    def tuned(freeze: bool) -> dict:
        out = tmp_path / f"tuned-{freeze}"
        finetune(images, trimaps, out, base=str(tiny_base), steps=3, log=lambda *_: None,
                 overrides={**FAST, "freeze_norm_stats": freeze})
        assert json.loads((out / FINETUNE_RECORD).read_text())["recipe"]["freeze_norm_stats"] is freeze
        return load_file(str(out / "model.safetensors"))

    frozen = tuned(True)
    assert all(torch.equal(frozen[k], start[k]) for k in statistics)
    assert any(not torch.equal(frozen[k], start[k]) for k in start if k not in statistics and "num_batches" not in k)
    assert any(not torch.equal(tuned(False)[k], start[k]) for k in statistics)


def test_a_tuned_second_stage_saved_with_the_model_is_its_partner(tmp_path):
    """A finetune.json naming a ``trimap-model`` subfolder pairs the network with that model, in load_matter and in
    the app's model store; a name that leaves the folder is refused."""
    from afmatting.app.config import DemoConfig
    from afmatting.app.models import ModelStore
    from afmatting.errors import CheckpointError

    folder = tmp_path / "tuned"
    AFMatting.from_pretrained("afmatting/lite0-trimap-free").save_pretrained(folder)
    torch.manual_seed(1)
    second = AFMatting.from_pretrained("afmatting/lite0-trimap")
    with torch.no_grad():
        next(second.parameters()).add_(0.5)  # distinguishable from the bundled one
    second.save_pretrained(folder / "trimap-model")
    (folder / FINETUNE_RECORD).write_text(json.dumps({"base_model": "afmatting/lite0-trimap-free",
                                                      "trimap_model": "trimap-model"}))
    marker = next(second.parameters())
    for matter in (load_matter(str(folder)), ModelStore(DemoConfig()).matter(str(folder))):
        assert matter.trimap_model is not None and matter.trimap_model.trimap_input
        assert torch.equal(next(matter.trimap_model.parameters()), marker)
    (folder / FINETUNE_RECORD).write_text(json.dumps({"base_model": "afmatting/lite0-trimap-free",
                                                      "trimap_model": "../elsewhere"}))
    with pytest.raises(CheckpointError, match="subfolder"):
        load_matter(str(folder))


@pytest.fixture
def tiny_pipeline(tmp_path):
    """A tiny two-stage pipeline folder: a trimap-free network with its own trimap model in ``trimap-model/``."""
    torch.manual_seed(0)
    folder = tmp_path / "pipeline"
    AFMatting(**TINY).save_pretrained(folder)
    AFMatting(**TINY, trimap_input=True).save_pretrained(folder / "trimap-model")
    (folder / FINETUNE_RECORD).write_text(json.dumps({"base_model": "tiny", "trimap_model": "trimap-model"}))
    return folder


def test_stage_second_tunes_the_trimap_model_and_the_folder_runs_the_default_with_it(tmp_path, tiny_pipeline):
    images, trimaps = write_photos(tmp_path)
    out = tmp_path / "tuned"
    report = finetune(images, trimaps, out, base=str(tiny_pipeline), stage="second", steps=2, overrides=FAST,
                      log=lambda *_: None)
    assert [r.stage for r in report.runs] == ["second"] and "second stage (trimap model)" in report.table()
    before = load_file(str(tiny_pipeline / "trimap-model" / "model.safetensors"))
    after = load_file(str(out / "trimap-model" / "model.safetensors"))
    assert any(not torch.equal(before[k], after[k]) for k in before if "num_batches" not in k)
    first = load_file(str(tiny_pipeline / "model.safetensors"))  # the first stage is kept as it was
    assert all(torch.equal(first[k], v) for k, v in load_file(str(out / "model.safetensors")).items())
    record = json.loads((out / FINETUNE_RECORD).read_text())
    assert record["trimap_model"] == "trimap-model" and record["stage"] == "second"
    assert not (out / "trimap-model" / "checkpoints").exists()
    matter = load_matter(str(out))
    assert not matter.model.trimap_input and matter.trimap_model.trimap_input
    key = next(k for k in after if "num_batches" not in k)
    assert torch.equal(matter.trimap_model.state_dict()[key], after[key])
    result = matter.predict(str(images / "p0.jpg"))  # the two-stage default, with the tuned second stage
    assert result.alpha.shape == (64, 64) and np.isfinite(result.alpha).all()


def test_stage_both_tunes_both_networks(tmp_path, tiny_pipeline):
    images, trimaps = write_photos(tmp_path)
    out = tmp_path / "tuned"
    report = finetune(images, trimaps, out, base=str(tiny_pipeline), stage="both", steps=2, overrides=FAST,
                      log=lambda *_: None)
    assert [r.stage for r in report.runs] == ["first", "second"]
    changed = {}
    for part in ("model.safetensors", "trimap-model/model.safetensors"):
        before, after = load_file(str(tiny_pipeline / part)), load_file(str(out / part))
        changed[part] = any(not torch.equal(before[k], after[k]) for k in before if "num_batches" not in k)
    assert changed["trimap-model/model.safetensors"]
    # the first stage keeps tuned weights only when they clearly help the default path on the held-out photo
    assert changed["model.safetensors"] == (report.runs[0].chosen_step != 0)
    assert load_matter(str(out)).trimap_model is not None


def test_the_default_stage_is_the_first_stage_of_the_bundled_default():
    """docs/results.md: tuning the first stage (statistics kept) improved the held-out photos; the second did not."""
    from afmatting.finetune import resolve_stage

    assert resolve_stage(None, "afmatting/lite0-trimap-free", False) == ("first", None)
    assert resolve_stage(None, "afmatting/lite0-trimap", True) == ("network", None)


def test_a_second_stage_needs_a_model_with_a_two_stage_path(tmp_path, tiny_base, capsys):
    images, trimaps = write_photos(tmp_path)
    code, err = run_cli([images, "--trimaps", trimaps, "--out", tmp_path / "o", "--from", tiny_base, "--stage",
                         "second"], capsys)
    assert code == 2 and len(err) == 1 and "has no trimap model paired with it" in err[0]


def test_the_first_stage_keeps_the_weights_that_do_best_inside_the_default_path(tmp_path, tiny_pipeline):
    """Tuning the first stage scores it inside the default path on the held-out photos at the start and during the
    run; the folder keeps the best of those weights, the start's when tuning made the path worse."""
    images, trimaps = write_photos(tmp_path)
    out = tmp_path / "tuned"
    report = finetune(images, trimaps, out, base=str(tiny_pipeline), stage="first", steps=2, overrides=FAST,
                      log=lambda *_: None)
    run = report.runs[0]
    assert run.stage == "first" and run.chosen_step in (0, 1, 2)
    assert 0 <= run.before["path_known"] <= 1 and run.after["path_known"] <= run.before["path_known"]
    if run.chosen_step:  # kept only for a clear gain
        assert run.after["path_known"] < 0.98 * run.before["path_known"]
    start, kept = load_file(str(tiny_pipeline / "model.safetensors")), load_file(str(out / "model.safetensors"))
    same = all(torch.equal(start[k], kept[k]) for k in start)
    assert same == (run.chosen_step == 0)
    assert "default path's known-region error" in report.table() and not (out / "best").exists()
    assert json.loads((out / FINETUNE_RECORD).read_text())["networks"][0]["chosen_step"] == run.chosen_step


@pytest.mark.parametrize("trend, kept", [("flat", 0), ("worse", 0), ("dip", 2), ("gain", 3)])
def test_the_first_stage_keeps_tuned_weights_only_for_a_clear_gain_in_the_default_path(tmp_path, tiny_pipeline,
                                                                                      monkeypatch, trend, kept):
    """The choice itself, with the default path's score on the held-out photos scripted per validation (the start,
    then steps 1 to 4): a score that stays within 2 % of the start's, or only gets worse, keeps the start's weights
    (docs/results.md, K: a first stage tuned on 6 photos, chosen on 2 the default path already had right, would have
    made the held-out lion worse); otherwise the step with the best score."""
    import afmatting.finetune as finetune_module

    scores = {"flat": [1.0, 1.0, 0.99, 1.0, 1.01], "worse": [1.0, 1.1, 1.2, 1.3, 1.4],
              "dip": [1.0, 1.1, 0.9, 1.2, 1.3], "gain": [1.0, 0.99, 0.97, 0.95, 0.96]}[trend]
    calls = []

    def scripted(samples, trimap_model):
        def score(model):  # the start's validation, then one per step
            calls.append(model)
            return {"path_known": scores[len(calls) - 1]}

        return score

    monkeypatch.setattr(finetune_module, "default_path_scorer", scripted)
    images, trimaps = write_photos(tmp_path)
    out = tmp_path / "tuned"
    report = finetune(images, trimaps, out, base=str(tiny_pipeline), stage="first", steps=4, overrides=FAST,
                      log=lambda *_: None)
    assert len(calls) == 5
    assert report.runs[0].chosen_step == kept
    start, saved = load_file(str(tiny_pipeline / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert all(torch.equal(start[k], saved[k]) for k in start) == (kept == 0)
