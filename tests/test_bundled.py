"""The bundled default weights: offline loading, real mattes, and the CLI's choice of default model."""

import numpy as np
import pytest
from PIL import Image

from afmatting import AFMatting
from afmatting.bundled import (BUNDLED_MODELS, DEFAULT_TRIMAP_FREE_MODEL, DEFAULT_TRIMAP_MODEL, WEIGHTS_DIR,
                               available_bundled_models)
from afmatting.trimap import load_trimap

from .conftest import SHARED_DATA



@pytest.fixture(scope="module")
def trimap_model():
    return AFMatting.from_pretrained(DEFAULT_TRIMAP_MODEL)


def test_both_bundled_models_ship_small_fp16_safetensors():
    assert set(available_bundled_models()) == {DEFAULT_TRIMAP_MODEL, DEFAULT_TRIMAP_FREE_MODEL}
    from safetensors import safe_open

    total = 0
    for folder in (WEIGHTS_DIR / name for name in BUNDLED_MODELS.values()):
        path = folder / "model.safetensors"
        total += path.stat().st_size
        with safe_open(str(path), "pt") as f:
            dtypes = {str(f.get_tensor(k).dtype) for k in f.keys() if "num_batches" not in k}
        assert dtypes == {"torch.float16"}
        card = (folder / "README.md").read_text()
        assert "Training" in card and "Limitations" in card and "python" in card
    assert total <= 20 * 2**20


def test_the_salient_object_segmenter_ships_with_its_licence():
    from afmatting.saliency import BUNDLED_SALIENCY_MODEL

    assert BUNDLED_SALIENCY_MODEL.stat().st_size <= 5 * 2**20
    assert "Apache License" in (BUNDLED_SALIENCY_MODEL.parent / "LICENSE-APACHE-2.0.txt").read_text()
    assert "u2netp.onnx" in (WEIGHTS_DIR.parent / "assets" / "LICENSES.md").read_text()
    assert sorted(p.name for p in WEIGHTS_DIR.iterdir()) == sorted([*BUNDLED_MODELS.values(), "u2netp", "modnet",
                                                                    "mobile_sam"])


def test_modnet_ships_with_its_licence_and_every_onnx_file_is_accounted_for():
    from afmatting.modnet import BUNDLED_MODNET_MODEL

    assert BUNDLED_MODNET_MODEL.stat().st_size <= 27 * 2**20
    assert "Apache License" in (BUNDLED_MODNET_MODEL.parent / "LICENSE-APACHE-2.0.txt").read_text()
    licences = (WEIGHTS_DIR.parent / "assets" / "LICENSES.md").read_text()
    for onnx_file in WEIGHTS_DIR.glob("*/*.onnx"):
        assert onnx_file.name in licences or f"{onnx_file.parent.name}/{onnx_file.name}" in licences, onnx_file
    # everything bundled stays under 100 MB
    assert sum(p.stat().st_size for p in WEIGHTS_DIR.rglob("*") if p.is_file()) < 100 * 2**20


def test_bundled_models_load_offline(monkeypatch):
    import huggingface_hub

    def no_network(*a, **k):
        raise AssertionError("a bundled model must not touch the Hub")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_network)
    monkeypatch.setattr("afmatting.hub.hf_hub_download", no_network)
    free = AFMatting.from_pretrained(DEFAULT_TRIMAP_FREE_MODEL)
    assert not free.trimap_input
    assert AFMatting.from_pretrained(DEFAULT_TRIMAP_MODEL).trimap_input


def _photo_and_trimap():
    folder = SHARED_DATA / "trimap-only"
    if not (folder / "lemur.png").exists():
        # the shipped example photos have no hand-made trimap; a guessed one would test the guess, not the model
        pytest.skip(f"needs a real photo with a hand-made trimap: {folder} is absent")
    return folder / "lemur.png", load_trimap(folder / "lemur_trimap.png")


def test_trimap_model_gives_clear_foreground_and_background(trimap_model):
    """In the unknown band, pixels next to known foreground come out opaque and those next to known background
    transparent, and the band is a real matte rather than a uniform haze (an untrained model gives ~0.5 everywhere)."""
    from scipy import ndimage

    image, tri = _photo_and_trimap()
    alpha = trimap_model.predict(image, trimap=tri, max_side=640).alpha
    unknown = tri == 128
    near_fg = unknown & ndimage.binary_dilation(tri == 255, iterations=3)
    near_bg = unknown & ndimage.binary_dilation(tri == 0, iterations=3)
    assert alpha[near_fg].mean() > 0.75
    assert alpha[near_bg].mean() < 0.25
    assert alpha[unknown].std() > 0.15


@pytest.mark.e2e
def test_cli_picks_the_default_model(tmp_path, monkeypatch):
    from afmatting import cli
    from afmatting.model import AFMatting as Model

    loaded = []
    real = Model.from_pretrained.__func__

    def spy(cls, name, **kw):
        loaded.append(name)
        return real(cls, name, **kw)

    monkeypatch.setattr(Model, "from_pretrained", classmethod(spy))
    img = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "p.png")
    tri = np.full((40, 60), 128, np.uint8)
    tri[:5] = 0
    Image.fromarray(tri).save(tmp_path / "t.png")
    assert cli.main(["matte", str(tmp_path / "p.png"), "--out", str(tmp_path / "a"), "--quiet"]) == 0
    assert cli.main(["matte", str(tmp_path / "p.png"), "--trimap", str(tmp_path / "t.png"), "--out",
                     str(tmp_path / "b"), "--quiet"]) == 0
    # the trimap-free default's two-stage path may load the trimap model in between (once per process)
    assert loaded[0] == DEFAULT_TRIMAP_FREE_MODEL and loaded[-1] == DEFAULT_TRIMAP_MODEL
    assert set(loaded) == {DEFAULT_TRIMAP_FREE_MODEL, DEFAULT_TRIMAP_MODEL}
    assert (tmp_path / "a" / "p_alpha.png").exists() and (tmp_path / "b" / "p_cutout.png").exists()
