"""The optional U²-Net-p salient-object segmenter (afmatting.saliency) and its place in the two-stage path."""

import numpy as np
import pytest

from afmatting.errors import AFMattingError, CheckpointError, InvalidImageError
from afmatting.saliency import (bundled_segmenter, BUNDLED_SALIENCY_MODEL, SALIENCY_INPUT_SIDE, SalientObjectSegmenter,
                                onnxruntime_available, saliency_input, saliency_output)
from afmatting.two_stage import resolve_saliency

needs_onnx = pytest.mark.skipif(not onnxruntime_available() or not BUNDLED_SALIENCY_MODEL.is_file(),
                                reason="onnxruntime (afmatting[onnx]) or the bundled U2-Net-p file is missing")


def test_input_is_resized_and_normalised(rng):
    image = rng.random((30, 50, 3)).astype(np.float32) * 0.5
    x = saliency_input(image)
    assert x.shape == (1, 3, SALIENCY_INPUT_SIDE, SALIENCY_INPUT_SIDE) and x.dtype == np.float32
    # divided by its maximum, then ImageNet-normalised: undoing the normalisation gives a maximum of exactly 1
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    assert (x[0] * std[:, None, None] + mean[:, None, None]).max() == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(InvalidImageError, match="RGB"):
        saliency_input(image[..., 0])


def test_output_is_min_max_normalised_and_resized():
    raw = np.linspace(-3, 5, 320 * 320, dtype=np.float32).reshape(320, 320)
    out = saliency_output(raw, (40, 70))
    assert out.shape == (40, 70) and out.min() >= 0 and out.max() <= 1
    assert out[0, 0] < 0.05 and out[-1, -1] > 0.95
    assert (saliency_output(np.ones((8, 8), np.float32), (4, 4)) == 0).all()


def test_missing_file_and_bad_options():
    with pytest.raises(CheckpointError, match="does not exist"):
        SalientObjectSegmenter("/nonexistent/u2netp.onnx")
    with pytest.raises(AFMattingError, match="saliency must be"):
        resolve_saliency("sometimes")
    assert resolve_saliency(False) == [] and resolve_saliency(None) == []


@needs_onnx
def test_bundled_segmenter_finds_the_object(rng):
    """A red disc on a plain grey background: the mask is high on the disc and low on the background."""
    yy, xx = np.mgrid[:120, :160]
    disc = (yy - 60) ** 2 + (xx - 80) ** 2 < 35 ** 2
    image = np.where(disc[..., None], np.array([0.85, 0.15, 0.1]), 0.55) + rng.normal(0, 0.01, (120, 160, 3))
    mask = bundled_segmenter(required=True)(np.clip(image, 0, 1).astype(np.float32))
    assert mask.shape == (120, 160) and mask.dtype == np.float32
    assert mask[disc].mean() > 0.7 and mask[~disc].mean() < 0.3


@needs_onnx
def test_bundled_modnet_mattes_a_person_shaped_subject_and_runs_in_the_default_first_stage(rng):
    """MODNet's contract (sizes, range) on a plain image, and "auto" brings both bundled first-stage networks."""
    from afmatting.modnet import MODNetMatter, bundled_modnet, modnet_size

    assert modnet_size(1000, 600) == (832, 512) and modnet_size(300, 200) == (768, 512)
    assert modnet_size(700, 400) == (672, 384)  # 512 lies between its sides: kept, rounded down to multiples of 32
    image = np.clip(0.5 + rng.normal(0, 0.02, (90, 70, 3)), 0, 1).astype(np.float32)
    matte = bundled_modnet(required=True)(image)
    assert matte.shape == (90, 70) and matte.dtype == np.float32 and 0 <= matte.min() and matte.max() <= 1
    networks = resolve_saliency("auto")
    assert len(networks) == 2 and isinstance(networks[0], MODNetMatter)
    with pytest.raises(CheckpointError, match="does not exist"):
        MODNetMatter("/nonexistent/modnet.onnx")


@needs_onnx
def test_first_stage_sessions_follow_torchs_thread_setting():
    """One setting (``OMP_NUM_THREADS`` / ``torch.set_num_threads``) governs every runtime of the two-stage path:
    onnxruntime's own default would take every core, whatever the user asked for."""
    import torch

    from afmatting.modnet import BUNDLED_MODNET_MODEL, MODNetMatter

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        for network in (SalientObjectSegmenter(BUNDLED_SALIENCY_MODEL), MODNetMatter(BUNDLED_MODNET_MODEL)):
            assert network.session.get_session_options().intra_op_num_threads == 1
        explicit = SalientObjectSegmenter(BUNDLED_SALIENCY_MODEL, threads=2)
        assert explicit.session.get_session_options().intra_op_num_threads == 2
    finally:
        torch.set_num_threads(before)
