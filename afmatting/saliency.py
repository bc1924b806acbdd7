"""An optional salient-object segmenter (U²-Net-p, ONNX) whose mask can join the two-stage path's first stage.

U²-Net-p (Qin et al., 2020; Apache-2.0) was trained on the DUTS saliency masks: binary masks, never alpha mattes.
It runs with onnxruntime, an optional dependency (``pip install afmatting[onnx]``); the ONNX file ships in
``afmatting/weights/u2netp/`` (licence: ``afmatting/assets/LICENSES.md``). The model takes a 320 x 320 RGB
image, normalised per image by its maximum and then with the ImageNet mean and deviation, and returns a saliency map
that is min-max normalised to [0, 1] and resized back to the image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .errors import AFMattingError, CheckpointError, InvalidImageError
from .processing import to_uint8

#: the bundled U²-Net-p (rembg's ``u2netp.onnx``, md5 8e83ca70e441ab06c318d82300c84806)
BUNDLED_SALIENCY_MODEL = Path(__file__).parent / "weights" / "u2netp" / "u2netp.onnx"
#: the network's input side
SALIENCY_INPUT_SIDE = 320
_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def saliency_input(image: np.ndarray, side: int = SALIENCY_INPUT_SIDE) -> np.ndarray:
    """float (H, W, 3) RGB in [0, 1] -> float32 (1, 3, side, side): resized, divided by its maximum, ImageNet-normalised."""
    from PIL import Image

    if image.ndim != 3 or image.shape[2] != 3:
        raise InvalidImageError(f"the saliency model needs an (H, W, 3) RGB image, got shape {image.shape}.")
    pil = Image.fromarray(to_uint8(image))  # in row blocks: no full-size float temporaries
    x = np.asarray(pil.resize((side, side), Image.BILINEAR), np.float32) / 255.0
    x = x / max(float(x.max()), 1e-6)
    x = (x - _IMAGENET_MEAN) / _IMAGENET_STD
    return x.transpose(2, 0, 1)[None].astype(np.float32)


def saliency_output(raw: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The network's (side, side) map -> float32 (H, W) in [0, 1]: min-max normalised, bilinearly resized to ``size``."""
    from PIL import Image

    raw = raw.astype(np.float32)
    span = float(raw.max() - raw.min())
    norm = (raw - raw.min()) / span if span > 0 else np.zeros_like(raw)
    resized = Image.fromarray(norm, mode="F").resize((size[1], size[0]), Image.BILINEAR)
    mask = np.array(resized, dtype=np.float32)
    del resized
    return np.clip(mask, 0.0, 1.0, out=mask)


def onnx_threads(threads: int | None = None) -> int:
    """onnxruntime's intra-op threads: ``threads`` when given, else ``torch.get_num_threads()``. One setting
    (``OMP_NUM_THREADS`` / ``torch.set_num_threads``) then governs every runtime of a path; onnxruntime's own default
    is every core, whatever the user asked for (and a benchmark would time an ONNX network on more cores than ours).
    Read when a session is made: the bundled networks, made once per process, keep the count of their first use."""
    return int(threads) if threads else torch.get_num_threads()


def open_onnx_session(onnx_path, what: str, threads: int | None = None):
    """An onnxruntime CPU session for a first-stage network's ONNX file, with errors that name ``what`` and the file.

    Raises CheckpointError for a missing or unreadable file, AFMattingError where onnxruntime is not installed.
    """
    path = Path(onnx_path)
    if not path.is_file():
        raise CheckpointError(f"{what} '{path}' does not exist.")
    try:
        import onnxruntime
    except ImportError:
        raise AFMattingError(
            f"The {what} needs onnxruntime, an optional dependency: pip install 'afmatting[onnx]'."
        ) from None
    options = onnxruntime.SessionOptions()
    # without these the session keeps its working memory between runs (0.27 GiB for U²-Net-p, grown on the second
    # run by the memory-pattern planner), resident through every later, full-size step of the two-stage path;
    # measured no slower on CPU
    options.enable_mem_pattern = False
    options.enable_cpu_mem_arena = False
    options.intra_op_num_threads = onnx_threads(threads)
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for unreadable files
        raise CheckpointError(f"'{path}' is not a readable ONNX model ({type(e).__name__}: {e}).") from None


class SalientObjectSegmenter:
    """``segmenter(image float32 (H, W, 3) in [0, 1]) -> mask float32 (H, W) in [0, 1]`` from a U²-Net-p ONNX file."""

    #: what a user is shown when picking a first-stage guess (the app)
    label = "Object network (U²-Net-p)"
    #: its name in ``predict(start_from=...)`` / ``afmatting matte --start-from``
    key = "u2netp"

    def __init__(self, onnx_path, threads: int | None = None):
        self.session = open_onnx_session(onnx_path, "saliency model", threads)
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, image: np.ndarray) -> np.ndarray:
        image = np.asarray(image, dtype=np.float32)
        raw = self.session.run(None, {self.input_name: saliency_input(image)})[0]
        return saliency_output(raw[0, 0], image.shape[:2])


_bundled = {}


def onnxruntime_available() -> bool:
    """Whether the optional onnxruntime dependency is installed."""
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def bundled_onnx_network(path: Path, make, what: str, required: bool = False):
    """``make(path)`` for a bundled ONNX file, built once per process, or None where onnxruntime or the file is
    missing (``required=True`` raises instead, naming ``what`` and what is missing)."""
    if path not in _bundled:
        if not path.is_file() or not onnxruntime_available():
            if required:
                missing = ("onnxruntime (pip install 'afmatting[onnx]')" if path.is_file()
                           else f"the bundled file {path}")
                raise AFMattingError(f"{what} needs {missing}.")
            return None
        _bundled[path] = make(path)
    return _bundled[path]


def bundled_segmenter(required: bool = False) -> SalientObjectSegmenter | None:
    """The bundled U²-Net-p segmenter (loaded once per process), or None where onnxruntime or the file is missing.

    ``required=True`` raises instead of returning None, naming what is missing.
    """
    return bundled_onnx_network(BUNDLED_SALIENCY_MODEL, SalientObjectSegmenter, "The salient-object segmenter",
                                required)
