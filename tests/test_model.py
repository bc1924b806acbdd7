import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from afmatting import AFMatting, CheckpointError

TINY = dict(fusion_widths=(32, 16, 16, 8), detail_widths=(8, 16, 16), neck_width=32)


@pytest.mark.parametrize("backbone", ["test_vit", "resnet18", "test_convnext", "efficientnet_lite0"])
@pytest.mark.parametrize("trimap_input", [False, True])
def test_forward_any_size(backbone, trimap_input):
    torch.manual_seed(0)
    model = AFMatting(backbone=backbone, trimap_input=trimap_input, **TINY).eval()
    for h, w in [(7, 45), (33, 17), (64, 64)]:
        x = torch.rand(2, 3, h, w)
        t = (torch.randint(0, 3, (2, 1, h, w)).float() / 2) if trimap_input else None
        with torch.no_grad():
            a = model(x, t)
        assert a.shape == (2, 1, h, w)
        assert a.dtype == torch.float32
        assert float(a.min()) >= 0 and float(a.max()) <= 1


def test_decoder_is_sized_from_feature_info():
    model = AFMatting(backbone="resnet18", **TINY)
    # resnet18 deep maps: stride 16 (256 ch) and 32 (512 ch) -> one neck block taking 512 + 256 channels
    assert model.feature_reductions == [16, 32]
    assert model.decoder.neck[0][0].in_channels == 512 + 256
    vit = AFMatting(backbone="test_vit", **TINY)
    assert vit.feature_reductions == [16] and len(vit.decoder.neck) == 0
    assert vit.decoder.fusion[0][0].in_channels == vit.feature_channels[0] + 16  # + 1/8 detail map


def test_trimap_argument_is_checked(tiny_vit, tiny_cnn_trimap):
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(ValueError, match="trimap-free"):
        tiny_vit(x, torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="takes a trimap"):
        tiny_cnn_trimap(x)
    with pytest.raises(ValueError, match="trimap must be"):
        tiny_cnn_trimap(x, torch.zeros(1, 1, 16, 32))


def test_save_load_round_trip(tmp_path, tiny_cnn_trimap):
    tiny_cnn_trimap.save_pretrained(tmp_path / "m")
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == ["README.md", "config.json", "model.safetensors"]
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["backbone"] == "resnet18" and config["trimap_input"] is True
    card = (tmp_path / "m" / "README.md").read_text()
    assert "Training Matting Models without Alpha Labels" in card and "trimap-input" in card
    loaded = AFMatting.from_pretrained(tmp_path / "m")
    assert loaded.trimap_input and not loaded.training
    x = torch.rand(1, 3, 40, 52)
    t = torch.randint(0, 3, (1, 1, 40, 52)).float() / 2
    with torch.no_grad():
        assert torch.equal(tiny_cnn_trimap(x, t), loaded(x, t))


def test_strict_loading_names_the_keys(tmp_path, tiny_vit):
    tiny_vit.save_pretrained(tmp_path / "m")
    state = load_file(str(tmp_path / "m" / "model.safetensors"))
    state.pop("decoder.head.1.bias")
    state["decoder.extra"] = torch.zeros(3)
    save_file(state, str(tmp_path / "m" / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"decoder\.head\.1\.bias.*decoder\.extra|missing"):
        AFMatting.from_pretrained(tmp_path / "m")
    # a config that does not match the weights (other widths) is refused too
    tiny_vit.save_pretrained(tmp_path / "ok")
    config = json.loads((tmp_path / "ok" / "config.json").read_text())
    config["fusion_widths"] = [32, 16, 16, 16]
    (tmp_path / "ok" / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="wrong shapes"):
        AFMatting.from_pretrained(tmp_path / "ok")


def test_missing_or_broken_checkpoints(tmp_path, tiny_vit):
    with pytest.raises(CheckpointError, match="does not exist"):
        AFMatting.from_pretrained(tmp_path / "nope" / "model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="config.json"):
        AFMatting.from_pretrained(tmp_path / "empty")
    tiny_vit.save_pretrained(tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="Cannot read checkpoint"):
        AFMatting.from_pretrained(tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="safetensors only"):
        AFMatting.from_pretrained(tmp_path / "m")


def test_from_pretrained_never_fetches_backbone_weights(tmp_path, monkeypatch):
    model = AFMatting(backbone="efficientnet_lite0", pretrained_backbone=True, **TINY)
    model.save_pretrained(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "config.json").read_text())["pretrained_backbone"] is True
    import afmatting.backbones as backbones

    def fail(*a, **k):
        raise AssertionError("backbone weights were loaded during from_pretrained")

    monkeypatch.setattr(backbones, "load_offline_imagenet_weights", fail)
    loaded = AFMatting.from_pretrained(tmp_path / "m")
    for (k, v), v2 in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(v, v2), k


def test_offline_imagenet_weights_are_loaded():
    random_init = AFMatting(backbone="efficientnet_lite0", **TINY)
    pretrained = AFMatting(backbone="efficientnet_lite0", pretrained_backbone="offline", **TINY)
    w0 = random_init.backbone.conv_stem.weight
    w1 = pretrained.backbone.conv_stem.weight
    assert not torch.equal(w0, w1)
    # ImageNet-trained BN statistics are not the init values (0 mean, 1 var)
    assert float(pretrained.backbone.bn1.running_var.mean()) != 1.0
    four = AFMatting(backbone="efficientnet_lite0", trimap_input=True, pretrained_backbone="offline", **TINY)
    assert torch.equal(four.backbone.conv_stem.weight[:, :3], w1)
    assert float(four.backbone.conv_stem.weight[:, 3].detach().abs().sum()) == 0.0


def test_offline_weights_refused_for_other_backbones():
    with pytest.raises(CheckpointError, match="No offline ImageNet weights"):
        AFMatting(backbone="resnet18", pretrained_backbone="offline")


def test_no_pickle_in_saved_model(tmp_path, tiny_vit):
    tiny_vit.save_pretrained(tmp_path / "m")
    assert not list((tmp_path / "m").glob("*.bin")) and not list((tmp_path / "m").glob("*.pt*"))


def _write_hf_cache(cache, repo_id, src_dir):
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    commit = "0" * 40
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    for f in src_dir.iterdir():
        (snap / f.name).write_bytes(f.read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)


@pytest.mark.e2e
def test_load_from_hf_cache_offline(tmp_path, tiny_vit):
    tiny_vit.save_pretrained(tmp_path / "m")
    cache = tmp_path / "hub"
    _write_hf_cache(cache, "someone/tiny-matting", tmp_path / "m")
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((1, 3, 24, 40), dtype=np.float32))
    code = (
        "import numpy as np, torch, sys\n"
        "from afmatting import AFMatting\n"
        f"m = AFMatting.from_pretrained('someone/tiny-matting', cache_dir={str(cache)!r})\n"
        f"x = torch.from_numpy(np.load({str(tmp_path / 'x.npy')!r}))\n"
        "with torch.no_grad(): print(float(m(x).sum()))\n"
        "try:\n"
        f"    AFMatting.from_pretrained('someone/not-cached', cache_dir={str(cache)!r})\n"
        "except Exception as e: print(type(e).__name__, e)\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    with torch.no_grad():
        expected = float(tiny_vit(torch.from_numpy(np.load(tmp_path / "x.npy"))).sum())
    assert float(lines[0]) == pytest.approx(expected, rel=1e-5)
    assert lines[1].startswith("CheckpointError") and "someone/not-cached" in lines[1]


def test_push_to_hub_uploads_safetensors_and_card(tmp_path, tiny_vit, monkeypatch):
    """push_to_hub goes through huggingface_hub's upload_folder; capture what would be uploaded."""
    import huggingface_hub

    uploaded = {}

    def fake_create_repo(self, repo_id, **kw):
        uploaded["repo"] = repo_id
        return huggingface_hub.RepoUrl(f"https://huggingface.co/{repo_id}")

    def fake_upload_folder(self, *, repo_id, folder_path, **kw):
        uploaded["files"] = sorted(p.name for p in __import__("pathlib").Path(folder_path).iterdir())
        return "commit"

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", fake_create_repo)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", fake_upload_folder)
    tiny_vit.push_to_hub("me/tiny")
    assert uploaded["repo"] == "me/tiny"
    assert uploaded["files"] == ["README.md", "config.json", "model.safetensors"]


def test_loading_policy_lives_in_hub(tmp_path, monkeypatch):
    """One path test, one resolution of names, one translation of Hub errors (used by from_pretrained, the CLI and
    the app)."""
    from huggingface_hub.errors import LocalEntryNotFoundError

    from afmatting import bundled, hub

    assert not hub.looks_like_path("someone/model") and not hub.looks_like_path("model")
    for path_like in ("./m", "/abs/m", "~/m", "a/b/c", "c:\\models\\m"):
        assert hub.looks_like_path(path_like)
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    for name, message in [(tmp_path / "missing", "does not exist"), (tmp_path / "file.txt", "is a file"),
                          (tmp_path / "empty", "no config.json")]:
        with pytest.raises(CheckpointError, match=message):
            hub.resolve_source(name)
        with pytest.raises(CheckpointError, match=message):
            AFMatting.from_pretrained(name)
    assert hub.resolve_source("someone/model") == "someone/model"
    monkeypatch.setattr(bundled, "WEIGHTS_DIR", tmp_path / "no-weights")
    with pytest.raises(CheckpointError, match="not installed"):
        hub.resolve_source(bundled.DEFAULT_TRIMAP_MODEL)
    translated = hub.hub_error(LocalEntryNotFoundError("not cached"), "someone/model")
    assert isinstance(translated, CheckpointError) and "someone/model" in str(translated)
    assert hub.hub_error(RuntimeError("a bug"), "someone/model") is None  # not a Hub error: left alone
