"""Model configs are validated before allocation, weights are checked finite at load, outputs at predict."""

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

from afmatting import AFMatting
from afmatting.errors import CheckpointError, ModelConfigError, ModelOutputError

TINY = dict(backbone="test_vit", detail_widths=[8, 16, 16], fusion_widths=[32, 16, 16, 8])


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("model")
    AFMatting(**TINY).save_pretrained(folder)
    return folder


def with_config(tmp_path, saved_model, config):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes((saved_model / "model.safetensors").read_bytes())
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize("change, key", [
    ({"fusion_widths": [12000, 12000, 24, 12]}, "fusion_widths"),
    ({"detail_widths": [8, -16, 16]}, "detail_widths"),
    ({"neck_width": 0}, "neck_width"),
    ({"head_width": 2.5}, "head_width"),
    ({"fusion_widths": [32, 16, 16]}, "fusion_widths"),
    ({"fusion_widths": "32,16,16,8"}, "fusion_widths"),
    ({"trimap_input": "yes"}, "trimap_input"),
    ({"backbone": "no_such_backbone_v9"}, "backbone"),
    ({"backbone": 17}, "backbone"),
    ({"evil": 1}, "evil"),
])
def test_bad_config_values_are_refused_before_allocation(tmp_path, saved_model, monkeypatch, change, key):
    folder = with_config(tmp_path, saved_model, {**TINY, **change})

    def no_allocation(*args, **kwargs):
        raise AssertionError("a backbone was built for an invalid config")

    monkeypatch.setattr("afmatting.model.create_backbone", no_allocation)
    with pytest.raises(CheckpointError, match=key) as info:
        AFMatting.from_pretrained(folder)
    assert isinstance(info.value, ModelConfigError)
    assert "config.json" in str(info.value)


@pytest.mark.parametrize("config", [[1, 2, 3], "test_vit", 5, None])
def test_config_that_is_not_an_object_is_refused(tmp_path, saved_model, config):
    folder = with_config(tmp_path, saved_model, config)
    with pytest.raises(CheckpointError, match="JSON object"):
        AFMatting.from_pretrained(folder)


def test_constructor_validates_too():
    with pytest.raises(ModelConfigError, match="fusion_widths"):
        AFMatting(backbone="test_vit", fusion_widths=(5000, 16, 16, 8))
    with pytest.raises(ModelConfigError, match="backbone"):
        AFMatting(backbone="resnet18_typo")


def test_corrupted_weight_bytes_are_refused_at_load(tmp_path, saved_model):
    folder = with_config(tmp_path, saved_model, TINY)
    weights = folder / "model.safetensors"
    with safe_open(str(weights), framework="pt") as f:
        key = next(k for k in f.keys() if f.get_tensor(k).is_floating_point() and f.get_tensor(k).numel() >= 4)
    raw = bytearray(weights.read_bytes())
    header_len = int.from_bytes(raw[:8], "little")
    offsets = json.loads(raw[8:8 + header_len])[key]["data_offsets"]
    start = 8 + header_len + offsets[0]
    raw[start:start + 16] = b"\xff" * 16  # all-ones float32 bit patterns are NaN
    weights.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="NaN or infinite") as info:
        AFMatting.from_pretrained(folder)
    assert key in str(info.value)


def test_non_finite_prediction_raises_naming_the_model(tmp_path, saved_model):
    model = AFMatting.from_pretrained(saved_model)
    with torch.no_grad():
        model.decoder.head[-1].bias.fill_(float("nan"))  # weights broken after loading
    with pytest.raises(ModelOutputError, match=str(saved_model)):
        model.predict(np.full((24, 32, 3), 0.5, np.float32))
    unnamed = AFMatting(**TINY).eval()
    with torch.no_grad():
        unnamed.decoder.head[-1].bias.fill_(float("inf"))
        unnamed.decoder.head[-1].weight.fill_(float("inf"))
    with pytest.raises(ModelOutputError, match="test_vit"):
        unnamed.predict(np.full((24, 32, 3), 0.5, np.float32))


def test_non_timm_backbones_are_accepted_by_the_config_check():
    from afmatting.model_config import NON_TIMM_BACKBONES, validate_backbone_name
    from afmatting.vitmatte import VITMATTE_BACKBONES

    assert set(NON_TIMM_BACKBONES) == set(VITMATTE_BACKBONES)
    for name in VITMATTE_BACKBONES:
        assert validate_backbone_name(name) == name
