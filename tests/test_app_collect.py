"""The app's "Save this trimap for fine-tuning": painter pairs land in a folder that ``afmatting finetune`` reads."""

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("gradio")

import gradio as gr  # noqa: E402

from afmatting import AFMatting  # noqa: E402
from afmatting.app.collect import FOLDER_ENV, collection_folder, save_for_finetuning  # noqa: E402
from afmatting.app.config import ASSETS_DIR, DemoConfig  # noqa: E402
from afmatting.app.service import MattingService  # noqa: E402
from afmatting.finetune import pair_inputs  # noqa: E402
from afmatting.trimap import mask_to_trimap  # noqa: E402


@pytest.fixture
def service(tmp_path):
    torch.manual_seed(0)
    folder = tmp_path / "free"
    AFMatting(backbone="test_vit", fusion_widths=(32, 16, 16, 8), detail_widths=(8, 16, 16)).save_pretrained(folder)
    s = MattingService(DemoConfig(model=str(folder)))
    s.store.setup()
    return s


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "upload" / "image.png"  # Gradio's uploads are often all called image.png
    path.parent.mkdir()
    Image.open(ASSETS_DIR / "cat.jpg").convert("RGB").crop((0, 0, 128, 96)).save(path)
    return str(path)


def base_trimap() -> np.ndarray:
    mask = np.zeros((96, 128), bool)
    mask[20:76, 30:100] = True
    return mask_to_trimap(mask, band=6)


def test_saved_pairs_are_what_finetune_reads(service, photo, tmp_path, monkeypatch):
    monkeypatch.setenv(FOLDER_ENV, str(tmp_path / "pairs"))
    for _ in range(2):  # the same upload name twice: two pairs, nothing overwritten
        status = save_for_finetuning(service, photo, {"layers": []}, base_trimap())
    assert "2 pairs" in status and "afmatting finetune" in status
    samples, skipped = pair_inputs(tmp_path / "pairs" / "images", tmp_path / "pairs" / "trimaps")
    assert sorted(s.name for s in samples) == ["image", "image-2"] and not skipped
    saved = np.asarray(Image.open(samples[0].trimap))
    np.testing.assert_array_equal(saved, base_trimap())


def test_nothing_to_save_is_a_clear_message(service, photo, tmp_path, monkeypatch):
    monkeypatch.setenv(FOLDER_ENV, str(tmp_path / "pairs"))
    with pytest.raises(gr.Error, match="no trimap to save"):
        save_for_finetuning(service, photo, {"layers": []}, None)
    with pytest.raises(gr.Error, match="all unknown"):
        save_for_finetuning(service, photo, {"layers": []}, np.full((96, 128), 128, np.uint8))
    assert not (tmp_path / "pairs").exists()


def test_collecting_is_off_on_a_hosted_space_unless_a_folder_is_named(monkeypatch, tmp_path):
    monkeypatch.delenv(FOLDER_ENV, raising=False)
    monkeypatch.setenv("SPACE_ID", "someone/afmatting")
    assert collection_folder() is None
    monkeypatch.setenv(FOLDER_ENV, str(tmp_path))
    assert collection_folder() == tmp_path
