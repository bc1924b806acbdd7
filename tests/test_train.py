"""Training script: every supervision mode, resume, alpha isolation, multi-process launch, output loading."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from afmatting import AFMatting

from .conftest import import_script

ROOT = Path(__file__).resolve().parents[1]
SMOKE = str(ROOT / "train" / "configs" / "smoke.yaml")


train = import_script("train/train.py", "afm_train")

pytestmark = pytest.mark.e2e  # training runs


def run(tmp_path, name, *extra):
    out = tmp_path / name
    train.main(["--config", SMOKE, "--output_dir", str(out), "--log_with", "none", *extra])
    return out


@pytest.mark.parametrize("loss", ["known", "known+dc", "known+ddc", "known+scaled_ddc", "alpha"])
def test_each_loss_mode_trains_and_saves(tmp_path, loss):
    out = run(tmp_path, "run", "--loss", loss, "--max_steps", "3", "--validation_steps", "3")
    model = AFMatting.from_pretrained(out)
    assert model.backbone_name == "test_vit"
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["steps"] == 3 and summary["final_metrics"]["SAD"] >= 0
    card = (out / "README.md").read_text()
    assert loss in card and "SAD" in card
    assert ("no alpha labels" in card) == (loss != "alpha")


@pytest.mark.parametrize("loss", ["known", "known+dc", "known+ddc", "known+scaled_ddc", "alpha"])
def test_loss_decreases_on_a_fixed_batch(loss):
    args = train.parse_args(["--config", SMOKE, "--loss", loss])
    from afmatting.data.synthetic import make_synthetic_dataset
    from afmatting.data import training_dataset

    data = make_synthetic_dataset(2, 0, size=64, seed=1)["train"]
    view = training_dataset(data, "alpha" if loss == "alpha" else "alpha_free", crop_size=64, hflip=False,
                            colour=0.0, scale_range=(1.0, 1.0))
    torch.manual_seed(0)
    batch = torch.utils.data.default_collate([{k: v for k, v in view[i].items() if k != "name"} for i in range(2)])
    torch.manual_seed(0)
    model = AFMatting(backbone="test_vit", detail_widths=(8, 16, 16), fusion_widths=(32, 16, 16, 8)).train()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    first = None
    for _ in range(15):
        loss_value = train.compute_losses(args, batch, model(batch["image"]))["loss"]
        first = float(loss_value.detach()) if first is None else first
        opt.zero_grad()
        loss_value.backward()
        opt.step()
    assert float(loss_value) < 0.8 * first


def test_alpha_free_modes_cannot_see_alpha(tmp_path, monkeypatch):
    import afmatting.data.loading as loading

    def forbidden(*a, **k):
        raise AssertionError("alpha was read during alpha-free training")

    monkeypatch.setattr(loading, "load_matte", forbidden)  # every dataset alpha is read through it
    seen = []
    import afmatting.training.loop as loop

    original = loop.compute_losses

    def spy(args, batch, alpha):
        seen.append(sorted(batch))
        return original(args, batch, alpha)

    monkeypatch.setattr(loop, "compute_losses", spy)
    run(tmp_path, "run", "--loss", "known+ddc", "--max_steps", "2", "--validation_steps", "0")
    assert seen and all("alpha" not in keys for keys in seen)
    assert all("neighbours" in keys for keys in seen)  # DDC neighbours come from the data workers


@pytest.mark.parametrize("steps, checkpoint, min_batches", [
    (6, 3, 1),  # 8 images, batch 2: 4 batches per epoch, the resumed part crosses into epoch 1
    (12, 9, 5),  # the images repeat twice per epoch (8 batches): resumed inside epoch 1
])
def test_resume_matches_uninterrupted_run(tmp_path, steps, checkpoint, min_batches):
    common = ["--max_steps", str(steps), "--checkpointing_steps", str(checkpoint), "--validation_steps", "0",
              "--num_workers", "0", "--min_batches_per_epoch", str(min_batches)]
    full = run(tmp_path, "full", *common)
    interrupted = run(tmp_path, "part", *common, "--stop_after_steps", str(checkpoint + 1))
    assert sorted(p.name for p in (interrupted / "checkpoints").iterdir()) == [f"checkpoint-{checkpoint}"]
    assert not (interrupted / "model.safetensors").exists()
    resumed = run(tmp_path, "part", *common, "--resume_from_checkpoint", "latest")
    a = load_file(str(full / "model.safetensors"))
    b = load_file(str(resumed / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)
    assert json.loads((resumed / "train_summary.json").read_text())["steps"] == steps


def test_small_datasets_repeat_within_an_epoch():
    """A tiny dataset visits each image several times per epoch as different crops, so DataLoader workers (restarted
    at every epoch) do not restart at every step; crops depend only on (seed, epoch, index)."""
    from afmatting.data import training_dataset
    from afmatting.data.synthetic import make_synthetic_dataset

    view = training_dataset(make_synthetic_dataset(3, 0, size=64, seed=1)["train"], "alpha_free", crop_size=32,
                            scale_range=(0.5, 1.5), hflip=True, colour=0.2)
    data = train.EpochSeededDataset(view, seed=7, repeats=4)
    assert len(data) == 12
    first, again, repeat = data[1], data[1], data[1 + 3]
    assert torch.equal(first["image"], again["image"])  # same (epoch, index): same crop
    assert not torch.equal(first["image"], repeat["image"])  # the same image's next visit: another crop
    data.epoch = 1
    assert not torch.equal(first["image"], data[1]["image"])


def test_epoch_length_has_a_floor_of_batches(tmp_path, monkeypatch):
    assert train.epoch_repeats(19, 16, 50) == 43  # the reproduction's 19 photos: 43 x 19 // 16 = 51 batches
    assert train.epoch_repeats(1800, 16, 50) == 1  # AM-2K: 112 batches already
    assert train.epoch_repeats(19, 16, None) == train.epoch_repeats(19, 16, 0) == 1
    made = []

    class Recording(train.EpochSeededDataset):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self.repeats)

    import afmatting.training.loop as loop

    monkeypatch.setattr(loop, "EpochSeededDataset", Recording)
    out = run(tmp_path, "run", "--max_steps", "2", "--validation_steps", "0", "--min_batches_per_epoch", "20")
    assert made == [5]  # smoke: 8 images, batch 2
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["steps"] == 2 and summary["images_per_s"] > 0 and summary["seconds"] > 0


def test_layer_decay_and_no_decay_groups():
    args = train.parse_args(["--config", SMOKE])
    model = AFMatting(backbone="test_vit", detail_widths=(8, 16, 16), fusion_widths=(32, 16, 16, 8))
    groups = train.parameter_groups(model, args)
    by_param = {id(p): g for g in groups for p in g["params"]}
    named = dict(model.named_parameters())
    assert by_param[id(named["backbone.model.pos_embed"])]["weight_decay"] == 0.0
    assert by_param[id(named["decoder.head.1.bias"])]["weight_decay"] == 0.0
    assert by_param[id(named["decoder.head.1.weight"])]["weight_decay"] == args.weight_decay
    first = by_param[id(named["backbone.model.blocks.0.attn.qkv.weight"])]["lr_scale"]
    last = by_param[id(named["backbone.model.blocks.5.attn.qkv.weight"])]["lr_scale"]
    assert first < last < 1.0 and last == pytest.approx(args.layer_decay ** 1)
    cnn = AFMatting(backbone="resnet18", neck_width=16, detail_widths=(8, 16, 16), fusion_widths=(32, 16, 16, 8))
    scales = {g["lr_scale"] for g in train.parameter_groups(cnn, args)}
    assert scales == {args.backbone_lr_scale, 1.0}


def test_lr_schedule_follows_the_paper():
    args = train.parse_args(["--config", SMOKE, "--max_steps", "5625", "--warmup_steps", "250"])
    assert train.lr_multiplier(0, args) == pytest.approx(1 / 250)
    assert train.lr_multiplier(1000, args) == 1.0
    assert train.lr_multiplier(3375, args) == 0.1
    assert train.lr_multiplier(5063, args) == 0.05


def test_bad_config_is_reported(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("learnin_rate: 0.1\n")
    with pytest.raises(SystemExit, match="unknown keys"):
        train.parse_args(["--config", str(bad)])
    with pytest.raises(SystemExit):
        train.parse_args(["--config", SMOKE, "--loss", "nonsense"])


@pytest.mark.slow
def test_accelerate_launch_two_cpu_processes(tmp_path):
    out = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))  # this checkout, not an installed copy
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           str(ROOT / "train" / "train.py"), "--config", SMOKE, "--output_dir", str(out), "--max_steps", "4",
           "--log_with", "none", "--validation_steps", "4"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["steps"] == 4
    AFMatting.from_pretrained(out)


def test_init_from_a_saved_model(tmp_path):
    first = run(tmp_path, "first", "--max_steps", "2", "--validation_steps", "0")
    second = run(tmp_path, "second", "--max_steps", "1", "--validation_steps", "0", "--init_from", str(first),
                 "--learning_rate", "0.0")
    a = load_file(str(first / "model.safetensors"))
    b = load_file(str(second / "model.safetensors"))
    # LR 0: the weights are those loaded (BatchNorm running statistics move with the forward pass)
    for key in a:
        if "running" not in key and "num_batches" not in key:
            torch.testing.assert_close(a[key], b[key], msg=key)


def test_validation_mattes_reach_tensorboard(tmp_path, monkeypatch):
    """Validation logs its first mattes to TensorBoard from the evaluation itself (no second prediction)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    import afmatting.model as model_module

    calls = []
    original = model_module.AFMatting.predict
    monkeypatch.setattr(model_module.AFMatting, "predict",
                        lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    out = run(tmp_path, "run", "--max_steps", "2", "--validation_steps", "2", "--log_with", "tensorboard",
              "--num_val_images_logged", "2")
    events = EventAccumulator(str(out / "afmatting"))
    events.Reload()
    assert len(events.Tags()["images"]) == 2
    assert "val/SAD" in events.Tags()["scalars"]
    assert len(calls) == 2  # smoke config: 2 validation images, each predicted once


def test_timm_layer_decay_does_not_reach_through_features_only():
    """Why train.py keeps its own layer-decay groups: timm's collapse to one LR scale on the features_only backbone,
    ours decay block by block."""
    from types import SimpleNamespace

    from timm.optim import param_groups_layer_decay

    model = AFMatting(backbone="test_vit", fusion_widths=(32, 16, 16, 8), detail_widths=(8, 16, 16))
    timm_scales = {g["lr_scale"] for g in param_groups_layer_decay(model.backbone, weight_decay=0.05,
                                                                   layer_decay=0.65)}
    assert timm_scales == {1.0}
    args = SimpleNamespace(layer_decay=0.65, backbone_lr_scale=0.1, weight_decay=0.05, learning_rate=1e-3)
    ours = {g["lr_scale"] for g in train.parameter_groups(model, args)}
    depth = 1 + max(int(n.split(".blocks.")[1].split(".")[0]) for n, _ in model.backbone.named_parameters()
                    if ".blocks." in n)
    assert ours == {1.0} | {0.65 ** k for k in range(1, depth + 2)}


def test_paper_configs_share_their_recipe_through_base():
    am2k = vars(train.parse_args(["--config", str(ROOT / "train" / "configs" / "am2k_vits_ddc.yaml")]))
    p3m = vars(train.parse_args(["--config", str(ROOT / "train" / "configs" / "p3m_vits_ddc.yaml")]))
    differing = {key for key in am2k if am2k[key] != p3m[key]}
    assert differing == {"config", "dataset", "val_split", "output_dir"}
    assert am2k["backbone"] == "vitmatte_small_patch16.dino" and am2k["max_steps"] == 5625
    assert am2k["learning_rate"] == p3m["learning_rate"] == 5e-4 and am2k["val_region"] == p3m["val_region"] == "whole"
