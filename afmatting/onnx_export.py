"""Export an AFMatting model to ONNX, with its pre-processing contract in the file's metadata and a parity check.

The exported graph:

* inputs ``image`` float32 (B, 3, H, W) RGB in [0, 1], not ImageNet-normalised (the graph normalises), and, for
  trimap-input models, ``trimap`` float32 (B, 1, H, W) with 0 = background, 0.5 = unknown, 1 = foreground;
* output ``alpha`` float32 (B, 1, H, W) in [0, 1];
* B, H and W are dynamic: the padding to the backbone's size multiple (replicate, bottom/right) and the crop back
  happen inside the graph, so any H, W >= 1 is accepted.

``--fp16`` runs the network in float16 (inputs and output stay float32). After writing, :func:`check_parity` runs
the file in onnxruntime and PyTorch (float32) on three sizes, one odd and one non-square, and fails loudly above
1e-3 (float32) or 1e-2 (float16), removing the file.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .errors import AFMattingError, MissingDependencyError, OnnxModelError
from .onnx_model import METADATA_FORMAT_VERSION, METADATA_PREFIX, OnnxMattingModel

#: the ONNX opset written by default (Resize, Pad and Slice with dynamic sizes are all in opset >= 13)
DEFAULT_OPSET = 17
#: (height, width) pairs of the parity check: square, odd and non-square, and a large non-square one
PARITY_SIZES = ((320, 320), (513, 771), (1024, 768))
#: largest allowed |onnxruntime - PyTorch| of alpha, by precision
PARITY_TOLERANCE = {"fp32": 1e-3, "fp16": 1e-2}


@dataclass(frozen=True)
class ParityRow:
    """One size of the parity check: the largest |alpha_onnx - alpha_torch| over all pixels."""

    height: int
    width: int
    max_abs_diff: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.tolerance


def import_onnx():
    """The onnx module, or MissingDependencyError saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise MissingDependencyError(
            "Exporting to ONNX needs the onnx package, which is not installed: pip install 'afmatting[onnx]'."
        ) from None
    return onnx


def _import_onnxscript() -> None:
    """The dynamo exporter's dependency, or MissingDependencyError saying how to install it."""
    try:
        import onnxscript  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            "exporter='dynamo' needs the onnxscript package, which is not installed: pip install onnxscript "
            "(or use the default exporter='torchscript')."
        ) from None


def model_config(model) -> dict:
    """The constructor arguments that rebuild ``model`` (what its config.json holds)."""
    config = getattr(model, "_hub_mixin_config", None)
    if config:
        return dict(config)
    return {"backbone": model.backbone_name, "trimap_input": model.trimap_input}


def export_metadata(model, precision: str, opset: int) -> dict[str, str]:
    """The ``afmatting.*`` metadata: model config and pre-processing contract, all values strings."""
    contract = {
        "format_version": METADATA_FORMAT_VERSION,
        "config": json.dumps(model_config(model), sort_keys=True),
        "trimap_input": "true" if model.trimap_input else "false",
        "inputs": "image, trimap" if model.trimap_input else "image",
        "layout": "NCHW",
        "channel_order": "RGB",
        "input_range": "image: float32 in [0, 1], not normalised (the graph subtracts the ImageNet mean and "
                       "divides by its std)",
        "trimap_encoding": "float32 (B, 1, H, W): 0 = background, 0.5 = unknown, 1 = foreground "
                           "(uint8 trimaps 0/128/255 map to 0/0.5/1)",
        "output": "alpha: float32 (B, 1, H, W) in [0, 1], the input's H and W",
        "size_multiple": str(model.pad_multiple),
        "padding": "inside the graph: replicate-pad bottom/right to a multiple of size_multiple, crop back; "
                   "any H, W is accepted",
        "precision": precision,
        "opset": str(opset),
    }
    return {METADATA_PREFIX + k: v for k, v in contract.items()}


class _ExportWrapper(nn.Module):
    """The model as the graph sees it: positional (image[, trimap]) inputs, optionally run in float16."""

    def __init__(self, model: nn.Module, fp16: bool):
        super().__init__()
        self.model = model.half() if fp16 else model
        self.fp16 = fp16

    def forward(self, image: torch.Tensor, trimap: torch.Tensor | None = None) -> torch.Tensor:
        if self.fp16:
            image = image.half()
            trimap = trimap.half() if trimap is not None else None
        return self.model(image, trimap).float()


def export_onnx(
    model,
    path: str | Path,
    *,
    opset: int = DEFAULT_OPSET,
    fp16: bool = False,
    check: bool = True,
    sizes: Sequence[tuple[int, int]] = PARITY_SIZES,
    exporter: str = "torchscript",
    overwrite: bool = False,
) -> list[ParityRow]:
    """Write ``model`` to ``path`` as ONNX (dynamic batch, height, width) and check it against PyTorch.

    The file is written to a temporary file beside ``path``, checked, then renamed onto ``path``: an existing file
    is kept unless ``overwrite`` (and then replaced only by a checked export), a planted symlink is replaced rather
    than written through, and a failed export leaves ``path`` as it was.

    Args:
        model: an :class:`~afmatting.model.AFMatting` (any device; it is copied to the CPU, the original is untouched).
        path: the ``.onnx`` file to write.
        opset: ONNX opset version (>= 13).
        fp16: run the network in float16 inside the graph (inputs and output stay float32).
        check: run :func:`check_parity` on ``sizes`` after writing; on failure nothing is written and
            OnnxModelError names each size's largest difference.
        sizes: (height, width) pairs of the parity check.
        exporter: ``"torchscript"`` (PyTorch's tracing exporter: seconds) or ``"dynamo"`` (``torch.export`` based,
            needs the onnxscript package; minutes on a small CPU, the same onnxruntime speed when measured).
        overwrite: replace an existing ``path`` (default: refuse, naming it).

    Returns:
        the parity rows (empty when ``check`` is False).
    """
    import_onnx()  # a clear MissingDependencyError before any work
    if exporter not in ("torchscript", "dynamo"):
        raise AFMattingError(f"exporter must be 'torchscript' or 'dynamo', got '{exporter}'.")
    if exporter == "dynamo":
        _import_onnxscript()
    if opset < 13:
        raise AFMattingError(f"opset must be >= 13 (dynamic Resize/Pad/Slice), got {opset}.")
    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise AFMattingError(f"The output file must end in .onnx, got '{path}'.")
    if os.path.lexists(path) and not overwrite:
        raise AFMattingError(f"'{path}' already exists; pass --overwrite (overwrite=True) to replace it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".partial.onnx", dir=path.parent)
    os.close(fd)
    try:
        rows = _export_checked(model, Path(partial), opset=opset, fp16=fp16, check=check, sizes=sizes,
                               exporter=exporter)
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(partial, 0o666 & ~mask)  # mkstemp's 0600 -> the mode any new file gets
        os.replace(partial, path)
    finally:
        if os.path.lexists(partial):
            os.unlink(partial)
    return rows


#: longest exporter message repeated in an error (a tracing failure's message can hold the whole graph)
MAX_REASON_CHARS = 300


def _export_checked(model, path: Path, *, opset, fp16, check, sizes, exporter) -> list[ParityRow]:
    """Export to ``path`` (a fresh temporary file), add the metadata and run the parity check (see export_onnx)."""
    onnx = import_onnx()
    reference = copy.deepcopy(model).to("cpu", torch.float32).eval()
    graph_model = _ExportWrapper(copy.deepcopy(reference), fp16).eval()
    inputs = _example_inputs(reference)
    names = ["image", "trimap"] if reference.trimap_input else ["image"]
    dynamic = {name: {0: "batch", 2: "height", 3: "width"} for name in names + ["alpha"]}
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # the TorchScript exporter warns about its own deprecation and about traced shape arithmetic, which
            # the parity check below verifies at other sizes
            warnings.simplefilter("ignore")
            if exporter == "torchscript":
                torch.onnx.export(graph_model, inputs, str(path), dynamo=False, input_names=names,
                                  output_names=["alpha"], dynamic_axes=dynamic, opset_version=opset,
                                  do_constant_folding=True)
            else:
                free = torch.export.Dim.DYNAMIC
                torch.onnx.export(graph_model, inputs, str(path), dynamo=True, input_names=names,
                                  output_names=["alpha"], dynamic_shapes=tuple({0: free, 2: free, 3: free}
                                                                               for _ in names),
                                  opset_version=opset, external_data=False, verbose=False)
    except Exception as e:  # unsupported operators and tracing failures; the message may hold the whole graph
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if len(reason) > MAX_REASON_CHARS:
            reason = reason[:MAX_REASON_CHARS] + " ..."
        raise OnnxModelError(f"Cannot export the '{model_config(reference).get('backbone')}' model to ONNX "
                             f"(opset {opset}): {reason}") from None
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    for key, value in export_metadata(reference, "fp16" if fp16 else "fp32", opset).items():
        proto.metadata_props.add(key=key, value=value)
    proto.producer_name = "afmatting"
    onnx.save(proto, str(path))
    if not check:
        return []
    rows = check_parity(reference, path, sizes=sizes)
    failed = [r for r in rows if not r.passed]
    if failed:
        raise OnnxModelError(
            f"The ONNX export does not match PyTorch (nothing written):\n{format_parity(rows)}\n"
            f"Try another --opset, or float32 if this was --fp16."
        )
    return rows


def _example_inputs(model) -> tuple[torch.Tensor, ...]:
    """Trace inputs: batch 2 and sizes that are not multiples of the size multiple, so that neither the batch nor
    the padding branch is fixed to a trivial value in the traced graph."""
    m = model.pad_multiple
    h, w = 4 * m + 1, 5 * m + 3
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, h, w, generator=generator)
    if not model.trimap_input:
        return (image,)
    return image, _random_trimap(2, h, w, generator)


def _random_trimap(batch: int, h: int, w: int, generator: torch.Generator) -> torch.Tensor:
    """float32 (B, 1, H, W) with values {0, 0.5, 1} in equal shares."""
    return torch.randint(0, 3, (batch, 1, h, w), generator=generator).float() / 2


def check_parity(
    model,
    path: str | Path,
    *,
    sizes: Sequence[tuple[int, int]] = PARITY_SIZES,
    tolerance: float | None = None,
    seed: int = 0,
) -> list[ParityRow]:
    """Largest |alpha| difference between onnxruntime on ``path`` and the float32 PyTorch ``model`` at each size.

    Inputs are seeded uniform noise images (and random trimaps), the hardest case for agreement. ``tolerance``
    defaults to the file's precision: 1e-3 (fp32) or 1e-2 (fp16).
    """
    runner = OnnxMattingModel(path)
    tolerance = PARITY_TOLERANCE[runner.precision] if tolerance is None else float(tolerance)
    reference = copy.deepcopy(model).to("cpu", torch.float32).eval() if _on_gpu_or_half(model) else model.eval()
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for h, w in sizes:
        image = torch.rand(1, 3, h, w, generator=generator)
        trimap = _random_trimap(1, h, w, generator) if reference.trimap_input else None
        with torch.inference_mode():
            expected = reference(image, trimap).numpy()
        got = runner(image, trimap).numpy()
        rows.append(ParityRow(h, w, float(np.abs(got - expected).max()), tolerance))
    return rows


def _on_gpu_or_half(model) -> bool:
    p = next(model.parameters())
    return p.device.type != "cpu" or p.dtype != torch.float32


def format_parity(rows: Sequence[ParityRow]) -> str:
    """A small text table: size, largest difference, tolerance, ok/FAIL."""
    lines = ["  size (HxW)   max |onnx - torch|   tolerance   result"]
    for r in rows:
        lines.append(f"  {r.height:>4}x{r.width:<6}   {r.max_abs_diff:18.2e}   {r.tolerance:9.0e}   "
                     f"{'ok' if r.passed else 'FAIL'}")
    return "\n".join(lines)
