"""The bundled default weights: offline loading, real mattes, and the CLI's choice of default model."""

import numpy as np
import pytest
from PIL import Image

from afmatting import AFMatting
from afmatting.bundled import DEFAULT_TRIMAP_FREE_MODEL, DEFAULT_TRIMAP_MODEL, WEIGHTS_DIR, available_bundled_models
from afmatting.trimap import load_trimap

from .conftest import SHARED_DATA

ASSETS = WEIGHTS_DIR.parent / "assets"


@pytest.fixture(scope="module")
def trimap_model():
    return AFMatting.from_pretrained(DEFAULT_TRIMAP_MODEL)


def test_both_bundled_models_ship_small_fp16_safetensors():
    assert set(available_bundled_models()) == {DEFAULT_TRIMAP_MODEL, DEFAULT_TRIMAP_FREE_MODEL}
    from safetensors import safe_open

    total = 0
    for folder in WEIGHTS_DIR.iterdir():
        path = folder / "model.safetensors"
        total += path.stat().st_size
        with safe_open(str(path), "pt") as f:
            dtypes = {str(f.get_tensor(k).dtype) for k in f.keys() if "num_batches" not in k}
        assert dtypes == {"torch.float16"}
        card = (folder / "README.md").read_text()
        assert "Training" in card and "Limitations" in card and "python" in card
    assert total <= 20 * 2**20


def test_bundled_models_load_offline(monkeypatch):
    import huggingface_hub

    def no_network(*a, **k):
        raise AssertionError("a bundled model must not touch the Hub")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_network)
    monkeypatch.setattr("afmatting.model.hf_hub_download", no_network)
    free = AFMatting.from_pretrained(DEFAULT_TRIMAP_FREE_MODEL)
    assert not free.trimap_input
    assert AFMatting.from_pretrained(DEFAULT_TRIMAP_MODEL).trimap_input


def _photo_and_trimap():
    folder = SHARED_DATA / "trimap-only"
    if (folder / "lemur.png").exists():
        return folder / "lemur.png", load_trimap(folder / "lemur_trimap.png")
    # a photo the project ships: a coarse trimap from a centred ellipse (cat's head), wide unknown band
    image = ASSETS / "cat.jpg"
    w, h = Image.open(image).size
    yy, xx = np.mgrid[:h, :w]
    r = ((yy - h / 2) / (h / 2)) ** 2 + ((xx - w / 2) / (w / 2.2)) ** 2
    tri = np.full((h, w), 128, np.uint8)
    tri[r < 0.4] = 255
    tri[r > 1.3] = 0
    return image, tri


def test_trimap_model_gives_clear_foreground_and_background(trimap_model):
    image, tri = _photo_and_trimap()
    alpha = trimap_model.predict(image, trimap=tri, max_side=640).alpha
    unknown = tri == 128
    band = alpha[unknown]
    # a real matte: the unknown band is resolved to mostly clear fg / bg, not a grey 0.5 haze
    assert ((band < 0.1) | (band > 0.9)).mean() > 0.5
    assert 0.05 < (band > 0.5).mean() < 0.95


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
    assert loaded == [DEFAULT_TRIMAP_FREE_MODEL, DEFAULT_TRIMAP_MODEL]
    assert (tmp_path / "a" / "p_alpha.png").exists() and (tmp_path / "b" / "p_cutout.png").exists()
