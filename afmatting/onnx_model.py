"""Running an exported ``.onnx`` afmatting model with onnxruntime, through the same ``predict`` as PyTorch models.

:class:`OnnxMattingModel` offers the small interface that :func:`afmatting.inference.predict` needs from a model:
``trimap_input``, ``device``, ``to``/``eval``, and a call on tensors
``(B, 3, h, w) float32 RGB in [0, 1]`` [+ ``(B, 1, h, w)`` trimap in {0, 0.5, 1}] ``-> (B, 1, h, w)`` alpha in [0, 1].
So resizing, the known-region rule, refinement, foreground estimation and cut-outs are the torch path's own code.

The file's contract (input names, ranges, trimap encoding, size multiple) is read from its metadata, written by
:mod:`afmatting.onnx_export` under keys prefixed ``afmatting.``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from .errors import AFMattingError, MissingDependencyError, ModelConfigError, ModelOutputError, OnnxModelError
from .inference import predict
from .model_config import validate_model_config
from .processing import check_network_inputs
from .saliency import onnx_threads

#: prefix of the metadata keys an afmatting export carries
METADATA_PREFIX = "afmatting."
#: metadata keys the runner needs (without the prefix)
REQUIRED_METADATA = ("format_version", "config", "trimap_input", "size_multiple", "precision")
#: the metadata format this version reads and writes
METADATA_FORMAT_VERSION = "1"


def import_onnxruntime():
    """The onnxruntime module, or MissingDependencyError saying how to install it."""
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependencyError(
            "Running .onnx models needs onnxruntime, which is not installed: pip install 'afmatting[onnx]' "
            "(or pip install onnxruntime)."
        ) from None
    return onnxruntime


def is_onnx_path(name) -> bool:
    """True when ``name`` (str or path) names an ONNX file by its extension; such names never mean a Hub id."""
    return isinstance(name, (str, os.PathLike)) and os.fspath(name).lower().endswith(".onnx")


def execution_providers(device: str | torch.device | None) -> list[str]:
    """onnxruntime providers for a torch-style device name: cpu (default) or cuda[:N] (needs onnxruntime-gpu)."""
    ort = import_onnxruntime()
    kind = torch.device(device).type if device is not None else "cpu"
    if kind == "cpu":
        return ["CPUExecutionProvider"]
    if kind == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise MissingDependencyError(
                "device 'cuda' was asked for an .onnx model, but this onnxruntime has no CUDA provider "
                f"(it has {ort.get_available_providers()}); install onnxruntime-gpu, or use device 'cpu'."
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    raise AFMattingError(f"Unsupported device '{device}' for an .onnx model: use 'cpu' or 'cuda'.")


def create_session(path: str | Path, device: str | torch.device | None = None, threads: int | None = None,
                   optimization: str = "all"):
    """An onnxruntime InferenceSession on ``path``; OnnxModelError for a missing, unreadable or corrupt file.

    ``threads``: intra-op threads (default ``torch.get_num_threads()``, so one setting governs both runtimes).
    ``optimization``: graph optimisation level, one of ``disable``, ``basic``, ``extended``, ``all``.
    """
    ort = import_onnxruntime()
    path = Path(path).expanduser()
    if not path.exists():
        raise OnnxModelError(f"ONNX model '{path}' does not exist.")
    if not path.is_file():
        raise OnnxModelError(f"'{path}' is not a file; pass the path of an .onnx file.")
    levels = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    if optimization not in levels:
        raise AFMattingError(f"Unknown graph optimisation level '{optimization}'; use one of {sorted(levels)}.")
    options = ort.SessionOptions()
    options.graph_optimization_level = levels[optimization]
    options.intra_op_num_threads = onnx_threads(threads)
    options.log_severity_level = 3  # errors only: the shape-inference warnings of dynamic graphs are noise
    try:
        return ort.InferenceSession(str(path), options, providers=execution_providers(device))
    except AFMattingError:
        raise
    except Exception as e:  # onnxruntime raises its own Fail / InvalidProtobuf / InvalidGraph types
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise OnnxModelError(f"Cannot load ONNX model '{path}': the file is corrupt or not an ONNX model "
                             f"({reason}).") from None


def read_metadata(session, path: str | Path) -> dict[str, str]:
    """The ``afmatting.*`` metadata of a loaded file, without the prefix; OnnxModelError when it is not an export."""
    custom = session.get_modelmeta().custom_metadata_map or {}
    meta = {k[len(METADATA_PREFIX):]: v for k, v in custom.items() if k.startswith(METADATA_PREFIX)}
    missing = [k for k in REQUIRED_METADATA if k not in meta]
    if missing:
        raise OnnxModelError(
            f"'{path}' is an ONNX model but not an afmatting export: its metadata lacks "
            f"{', '.join(METADATA_PREFIX + k for k in missing)}. Export models with `afmatting export-onnx`."
        )
    if meta["format_version"] != METADATA_FORMAT_VERSION:
        raise OnnxModelError(f"'{path}' uses afmatting ONNX metadata format {meta['format_version']}; this version "
                             f"reads format {METADATA_FORMAT_VERSION}. Export it again with this afmatting.")
    return meta


#: precisions an export declares
PRECISIONS = ("fp32", "fp16")
#: an output further than this outside [0, 1] breaks the contract (float16 rounding stays far below it)
OUTPUT_RANGE_TOLERANCE = 1e-2


def parse_contract(meta: dict[str, str], path) -> tuple[dict, bool, int, str]:
    """The metadata's (config, trimap_input, size_multiple, precision), each checked; OnnxModelError naming the file
    and the key otherwise (invalid JSON, a config that is not a valid model config, a size multiple that is not a
    positive integer, an unknown precision)."""
    def bad(key, why):
        return OnnxModelError(f"'{path}' has unusable metadata {METADATA_PREFIX}{key}: {why}.")

    try:
        config = json.loads(meta["config"])
    except (json.JSONDecodeError, RecursionError) as e:
        raise bad("config", f"not valid JSON ({e})") from None
    try:
        config = validate_model_config(config, f"the config in '{path}'")
    except ModelConfigError as e:
        raise bad("config", str(e)) from None
    if meta["trimap_input"] not in ("true", "false"):
        raise bad("trimap_input", f"{meta['trimap_input']!r} is not 'true' or 'false'")
    multiple = meta["size_multiple"].strip()
    if not multiple.isdigit() or not 1 <= int(multiple) <= 1024:
        raise bad("size_multiple", f"{meta['size_multiple']!r} is not an integer in 1..1024")
    if meta["precision"] not in PRECISIONS:
        raise bad("precision", f"{meta['precision']!r} is not one of {PRECISIONS}")
    return config, meta["trimap_input"] == "true", int(multiple), meta["precision"]


def _is_dynamic(dim) -> bool:
    """An onnxruntime shape entry is dynamic when it is a name or unknown (None), not a number."""
    return not isinstance(dim, int)


def check_graph(session, path, trimap_input: bool) -> None:
    """The graph's inputs and outputs against the contract: inputs ``image`` (B, 3, H, W) [+ ``trimap`` (B, 1, H,
    W)] and one output ``alpha`` (B, 1, H, W), float32, height and width dynamic (any image size is accepted)."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    names = [i.name for i in inputs]
    expected = ["image", "trimap"] if trimap_input else ["image"]
    if names != expected:
        raise OnnxModelError(f"'{path}' has inputs {names}; its metadata promises {expected}.")
    if [o.name for o in outputs] != ["alpha"]:
        raise OnnxModelError(f"'{path}' has outputs {[o.name for o in outputs]}; an afmatting export has one "
                             f"output named 'alpha'.")
    for arg, channels in zip([*inputs, *outputs], [3, 1, 1] if trimap_input else [3, 1]):
        shape = list(arg.shape or [])
        if arg.type != "tensor(float)" or len(shape) != 4:
            raise OnnxModelError(f"'{path}': {arg.name} is {arg.type} {shape}; the contract is float32 "
                                 f"(B, {channels}, H, W).")
        if not _is_dynamic(shape[1]) and shape[1] != channels:
            raise OnnxModelError(f"'{path}': {arg.name} has {shape[1]} channels; the contract says {channels}.")
        if not (_is_dynamic(shape[2]) and _is_dynamic(shape[3])):
            raise OnnxModelError(f"'{path}': {arg.name} has a fixed size {shape[2]}x{shape[3]}; an afmatting export "
                                 f"takes any height and width. Export it again with `afmatting export-onnx`.")


def check_output(alpha: np.ndarray, expected_shape: tuple, path) -> np.ndarray:
    """One run's alpha against the contract: shape (B, 1, H, W) of the input, finite, in [0, 1] (overshoot up to
    OUTPUT_RANGE_TOLERANCE is clipped); ModelOutputError naming the file otherwise, never a silent resize."""
    if tuple(alpha.shape) != tuple(expected_shape):
        raise ModelOutputError(f"The ONNX model '{path}' returned alpha of shape {tuple(alpha.shape)} for an input "
                               f"needing {tuple(expected_shape)}: it breaks the afmatting contract.")
    if not np.isfinite(alpha).all():
        bad = int(np.count_nonzero(~np.isfinite(alpha)))
        raise ModelOutputError(f"The ONNX model '{path}' produced {bad} NaN/infinite alpha values: its weights or "
                               f"graph are broken.")
    lo, hi = float(alpha.min()), float(alpha.max())
    if lo < -OUTPUT_RANGE_TOLERANCE or hi > 1 + OUTPUT_RANGE_TOLERANCE:
        raise ModelOutputError(f"The ONNX model '{path}' returned alpha in [{lo:.4g}, {hi:.4g}]; the contract is "
                               f"[0, 1].")
    return np.clip(alpha, 0.0, 1.0, out=alpha)


class OnnxMattingModel:
    """An exported afmatting model run by onnxruntime, usable wherever ``predict`` takes a model.

    Args:
        path: the ``.onnx`` file written by :func:`afmatting.onnx_export.export_onnx`.
        device: ``cpu`` (default) or ``cuda`` (needs onnxruntime-gpu). Outputs always come back as CPU tensors.
        threads: intra-op threads (default ``torch.get_num_threads()``).
        optimization: onnxruntime graph optimisation level (``all`` by default).
    """

    def __init__(self, path: str | Path, device: str | torch.device | None = None, threads: int | None = None,
                 optimization: str = "all"):
        self.path = Path(path).expanduser()
        self.threads = threads
        self.optimization = optimization
        self.session = create_session(self.path, device, threads, optimization)
        self.execution_device = torch.device(device) if device is not None else torch.device("cpu")
        self.metadata = read_metadata(self.session, self.path)
        self.config, self.trimap_input, self.pad_multiple, self.precision = parse_contract(self.metadata, self.path)
        check_graph(self.session, self.path, self.trimap_input)

    def __repr__(self) -> str:
        return (f"OnnxMattingModel('{self.path}', backbone={self.config.get('backbone')!r}, "
                f"trimap_input={self.trimap_input}, precision={self.precision!r})")

    @property
    def name_or_path(self) -> str:
        """How error messages name this model: its file."""
        return str(self.path)

    # -------------------------------------------------- what predict() needs from a model
    @property
    def device(self) -> torch.device:
        """Where the outputs live (always the CPU: onnxruntime hands back numpy arrays)."""
        return torch.device("cpu")

    def to(self, device) -> "OnnxMattingModel":
        """Run on another device (``cpu`` or ``cuda``): the session is rebuilt with that device's provider."""
        device = torch.device(device)
        if device != self.execution_device:
            self.session = create_session(self.path, device, self.threads, self.optimization)
            self.execution_device = device
        return self

    def eval(self) -> "OnnxMattingModel":
        """No-op (an exported graph is always in inference mode); returns self like ``nn.Module.eval``."""
        return self

    def __call__(self, image: torch.Tensor, trimap: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 3, H, W) float RGB in [0, 1] (+ (B, 1, H, W) trimap in {0, 0.5, 1}) -> alpha (B, 1, H, W) in [0, 1]."""
        check_network_inputs(image, trimap, self.trimap_input)
        feed = {"image": _as_float32_array(image)}
        if self.trimap_input:
            feed["trimap"] = _as_float32_array(trimap)
        (alpha,) = self.session.run(["alpha"], feed)
        expected = (image.shape[0], 1, image.shape[2], image.shape[3])
        return torch.from_numpy(check_output(np.asarray(alpha, dtype=np.float32), expected, self.path))

    def predict(self, image, trimap=None, **kwargs):
        """Matte one image or a list of images: :func:`afmatting.inference.predict` with this model.

        Test-time adaptation (``adapt_steps``) fine-tunes network weights, which a fixed ONNX graph cannot do;
        refinement (``refine``) works on the matte and is supported.
        """
        if kwargs.get("adapt_steps"):
            raise AFMattingError(
                f"Test-time adaptation fine-tunes the network's weights, which the ONNX model '{self.path.name}' "
                f"cannot do. Use the PyTorch model (its folder, Hub id or bundled name) for --adapt, or use --refine."
            )
        return predict(self, image, trimap=trimap, **kwargs)


def _as_float32_array(x: torch.Tensor) -> np.ndarray:
    """A tensor as a C-contiguous float32 numpy array on the CPU (what onnxruntime's CPU feed wants)."""
    return np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
