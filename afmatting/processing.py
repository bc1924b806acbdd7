"""Pre- and post-processing shared by ``predict``, adaptation, refinement, evaluation, the app and the data transforms.

What ``max_side`` means (the one definition; every function and command line that takes it follows it):

* a positive int of at least :data:`MIN_MAX_SIDE`: the network (or the refinement's finest level) sees the image
  scaled down so that its long side is at most that many pixels; smaller images are never enlarged, and the alpha
  always comes back at the input's full size;
* ``None``: full resolution (on command lines: the word ``full``);
* anything else (0, negative or fractional numbers, strings in Python) is refused with
  :class:`~afmatting.errors.InvalidSizeError` naming the value.

Tensor conventions (see docs/DESIGN.md): image float (3, H, W) in [0, 1]; trimap float (1, H, W) in {0, 0.5, 1};
alpha float (1, H, W) in [0, 1]; batched forms add a leading B.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InvalidImageError, InvalidSizeError, InvalidTrimapError
from .io import describe, load_image
from .trimap import BACKGROUND, FOREGROUND, load_trimap, trimap_to_float

#: default bound on the network input's long side (the alpha always comes back at full size)
DEFAULT_MAX_SIDE = 1024
#: the smallest ``max_side`` accepted (below it a network's strides leave nothing to see)
MIN_MAX_SIDE = 8
#: how command lines spell ``max_side=None``
FULL_RESOLUTION = "full"


def check_max_side(max_side, what: str = "max_side") -> int | None:
    """Validate ``max_side`` (see the module doc): returns it as an int, or None for full resolution."""
    if max_side is None:
        return None
    if isinstance(max_side, bool) or not isinstance(max_side, (int, np.integer)):
        raise InvalidSizeError(
            f"{what} must be a whole number of pixels or None (full resolution), got {max_side!r}."
        )
    if max_side < MIN_MAX_SIDE:
        raise InvalidSizeError(
            f"{what} must be at least {MIN_MAX_SIDE} pixels, got {max_side}; for full resolution pass None "
            f"(on the command line: {FULL_RESOLUTION})."
        )
    return int(max_side)


def parse_max_side(text: str, what: str = "--max-side") -> int | None:
    """A command-line ``max_side``: a whole number of pixels, or ``full`` for full resolution (None)."""
    text = str(text).strip().lower()
    if text == FULL_RESOLUTION:
        return None
    try:
        value = int(text)
    except ValueError:
        raise InvalidSizeError(
            f"{what} takes a whole number of pixels or '{FULL_RESOLUTION}', got {text!r}."
        ) from None
    return check_max_side(value, what)


def max_side_argument(text: str) -> int | None:
    """``argparse`` type for ``--max-side`` options: :func:`parse_max_side` with argparse's usage error."""
    try:
        return parse_max_side(text)
    except InvalidSizeError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def network_size(h: int, w: int, max_side: int | None) -> tuple[int, int]:
    """The (h, w) the network sees: (h, w) scaled down so that the long side is at most ``max_side`` (never up)."""
    max_side = check_max_side(max_side)
    if max_side is None or max(h, w) <= max_side:
        return h, w
    scale = max_side / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def prepare_inputs(image, trimap, trimap_input: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Read one image (float32 (H, W, 3) in [0, 1]) and its trimap (uint8 (H, W) {0, 128, 255}, or None), checking
    the trimap against the model kind (``trimap_input``)."""
    check_trimap_kind(image, trimap, trimap_input)
    img = load_image(image)
    return img, load_trimap(trimap, shape=img.shape[:2]) if trimap_input else None


def check_trimap_kind(image, trimap, trimap_input: bool) -> None:
    """InvalidTrimapError when a trimap-input model gets no trimap for ``image``, or a trimap-free one gets one."""
    if trimap_input and trimap is None:
        raise InvalidTrimapError(
            f"This model needs a trimap (it was trained with trimap input) but none was given for "
            f"{describe(image)}. Pass trimap=..., or use a trimap-free model."
        )
    if not trimap_input and trimap is not None:
        raise InvalidTrimapError(
            "This model is trimap-free: it takes the image only. Drop the trimap, or load a trimap-input model."
        )


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 0..255 or float in [0, 1] -> float32 tensor (3, H, W) in [0, 1] (a copy)."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return torch.from_numpy(np.array(image, copy=True)).permute(2, 0, 1).float().div_(255.0)
    return torch.from_numpy(np.array(image, dtype=np.float32, copy=True)).permute(2, 0, 1)


def trimap_to_tensor(trimap: np.ndarray) -> torch.Tensor:
    """uint8 (H, W) {0, 128, 255} -> float32 tensor (1, H, W) {0, 0.5, 1}."""
    return torch.from_numpy(trimap_to_float(trimap))[None]


def alpha_to_tensor(alpha: np.ndarray) -> torch.Tensor:
    """(H, W) uint8 0..255 or float in [0, 1] -> float32 tensor (1, H, W) in [0, 1]."""
    alpha = np.asarray(alpha)
    values = alpha.astype(np.float32) / 255.0 if alpha.dtype == np.uint8 else alpha.astype(np.float32)
    return torch.from_numpy(values)[None]


def to_uint8(x: np.ndarray, rows_per_chunk: int = 256) -> np.ndarray:
    """float (H, W, ...) in [0, 1] -> uint8 0..255 with rounding (values outside [0, 1] are clipped).

    Converted a block of rows at a time, so the float temporaries stay small for any image size.
    """
    x = np.asarray(x)
    if x.ndim == 0:
        return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    work_dtype = np.result_type(x.dtype, np.float32)  # float64 stays float64: the same rounding as one pass
    out = np.empty(x.shape, dtype=np.uint8)
    for start in range(0, x.shape[0], rows_per_chunk):
        block = np.clip(np.asarray(x[start:start + rows_per_chunk], dtype=work_dtype), 0.0, 1.0)
        block *= 255.0
        block += 0.5
        out[start:start + rows_per_chunk] = block  # float -> uint8 truncates: the +0.5 rounds
    return out


def resize_tensor(x: torch.Tensor, size, mode: str = "bilinear") -> torch.Tensor:
    """Resize (B, C, h, w) to ``size`` (H, W): ``"bilinear"`` (antialiased when shrinking) or ``"nearest"`` (labels
    such as trimaps). The tensor itself comes back when it already has that size."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if mode == "nearest":
        return F.interpolate(x, size=tuple(size), mode="nearest")
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False, antialias=shrink)


def resize_to_network(img: np.ndarray, tri: np.ndarray | None, size: tuple[int, int]):
    """Numpy image (H, W, 3) float in [0, 1] and trimap (H, W) uint8 (or None) -> tensors (3, h, w) in [0, 1] and
    (1, h, w) {0, 0.5, 1} (or None) at the network size ``size`` = (h, w): antialiased bilinear / nearest."""
    # a view of the image, not image_to_tensor's copy: the resize (or the clamp) makes the new tensor
    view = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)).permute(2, 0, 1)[None]
    x = resize_tensor(view, size)[0].clamp(0, 1)
    t = resize_tensor(trimap_to_tensor(tri)[None], size, "nearest")[0] if tri is not None else None
    return x, t


def apply_known_region(alpha: np.ndarray, trimap: np.ndarray | None) -> np.ndarray:
    """The known-region rule: alpha float (H, W) with the trimap's known pixels copied in (0 on background, 1 on
    foreground); ``trimap`` uint8 (H, W) {0, 128, 255} or None (alpha returned unchanged)."""
    if trimap is None:
        return alpha
    alpha = alpha.copy()
    alpha[trimap == BACKGROUND] = 0.0
    alpha[trimap == FOREGROUND] = 1.0
    return alpha


def check_network_inputs(image, trimap, trimap_input: bool) -> None:
    """The input contract of a matting network's call, shared by :class:`~afmatting.model.AFMatting` and
    :class:`~afmatting.onnx_model.OnnxMattingModel`: ``image`` (B, 3, H, W), and for ``trimap_input`` models a
    ``trimap`` (B, 1, H, W) of the image's batch and size (None otherwise). Raises InvalidImageError /
    InvalidTrimapError naming the shapes."""
    if image.ndim != 4 or image.shape[1] != 3:
        raise InvalidImageError(f"image must be (B, 3, H, W); got {tuple(image.shape)}.")
    if trimap_input:
        if trimap is None:
            raise InvalidTrimapError("This model takes a trimap (trimap_input=True); pass trimap=(B, 1, H, W).")
        if trimap.ndim != 4 or trimap.shape[0] != image.shape[0] or trimap.shape[1] != 1 \
                or tuple(trimap.shape[-2:]) != tuple(image.shape[-2:]):
            raise InvalidTrimapError(f"trimap must be (B, 1, H, W) = {(image.shape[0], 1, *image.shape[-2:])}; "
                                     f"got {tuple(trimap.shape)}.")
    elif trimap is not None:
        raise InvalidTrimapError("This model is trimap-free (trimap_input=False); do not pass a trimap.")


@torch.inference_mode()
def run_network(model, images: torch.Tensor, trimaps: torch.Tensor | None, out_size: tuple[int, int]) -> np.ndarray:
    """Run ``model`` on (B, 3, h, w) images (and (B, 1, h, w) trimaps) on its device -> alpha float32 numpy
    (B, H, W) in [0, 1], resized (bilinear) to ``out_size`` = (H, W)."""
    device = model.device
    alpha = model(images.to(device), trimaps.to(device) if trimaps is not None else None)
    alpha = resize_tensor(alpha, tuple(out_size))
    return alpha[:, 0].clamp(0, 1).float().cpu().numpy()


def network_alphas(model, images, trimaps, max_side: int | None, *, batch_size: int = 1,
                   on_batch=None) -> list[np.ndarray]:
    """The one network pass (``predict``'s batches, adaptation and the two-stage path all run it).

    Args:
        model: a network: ``trimap_input``, ``device`` and a call on tensors (see :func:`check_network_inputs`).
        images: float32 (H, W, 3) arrays in [0, 1] (as :func:`prepare_inputs` returns them); sizes may differ.
        trimaps: uint8 (H, W) {0, 128, 255} arrays, one per image, or Nones (trimap-free models).
        max_side: the network sees each image bounded by it (see the module doc).
        batch_size: images of one network size run together, this many at a time (results equal one-by-one runs:
            a batch never needs padding).
        on_batch: optional callback ``(images_done, images_total)`` after each batch.

    Returns:
        one float32 (H, W) alpha in [0, 1] per image, at its own size, the known-region rule applied.
    """
    alphas: list[np.ndarray | None] = [None] * len(images)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, img in enumerate(images):
        groups.setdefault(network_size(*img.shape[:2], max_side), []).append(i)
    done = 0
    for size, indices in groups.items():
        for start in range(0, len(indices), max(1, batch_size)):
            chunk = indices[start:start + max(1, batch_size)]
            xs, ts = zip(*(resize_to_network(images[i], trimaps[i], size) for i in chunk))
            x = torch.stack(xs)
            t = torch.stack(ts) if trimaps[chunk[0]] is not None else None
            out_sizes = [tuple(images[i].shape[:2]) for i in chunk]
            if all(s == out_sizes[0] for s in out_sizes):
                batch = list(run_network(model, x, t, out_sizes[0]))
            else:  # one network size, several original sizes: resize each back on its own
                batch = [run_network(model, x[k:k + 1], None if t is None else t[k:k + 1], s)[0]
                         for k, s in enumerate(out_sizes)]
            for i, alpha in zip(chunk, batch):
                alphas[i] = apply_known_region(alpha, trimaps[i])
            done += len(chunk)
            if on_batch is not None:
                on_batch(done, len(images))
    return alphas
