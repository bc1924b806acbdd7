"""The one inference path used by the Python API, the CLI, the app and evaluation.

``predict(model, image, trimap=None)``: read the input, bound its size by ``max_side``, run the network, resize the
alpha back to the original size, apply the known-region rule for trimap models, and wrap it in a MattingResult.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageColor

from .errors import AFMattingError, InvalidImageError, InvalidTrimapError
from .foreground import estimate_foreground
from .io import describe, load_image
from .trimap import BACKGROUND, FOREGROUND, load_trimap, trimap_to_float

#: default bound on the network input's long side (the alpha always comes back at full size)
DEFAULT_MAX_SIDE = 1024


@dataclass
class MattingResult:
    """The matte of one image.

    Attributes:
        image: float32 (H, W, 3) RGB in [0, 1], the input as read.
        alpha: float32 (H, W) in [0, 1], at the input's size.
        trimap: uint8 (H, W) {0, 128, 255} when one was used, else None.
    """

    image: np.ndarray
    alpha: np.ndarray
    trimap: np.ndarray | None = None
    name: str = ""
    extra: dict = field(default_factory=dict)

    @cached_property
    def foreground(self) -> np.ndarray:
        """float32 (H, W, 3) foreground colours in [0, 1], free of the old background's colour (computed once)."""
        return estimate_foreground(self.image, self.alpha)

    def alpha_image(self) -> Image.Image:
        """The alpha as an 8-bit grey PIL image."""
        return Image.fromarray(to_uint8(self.alpha), mode="L")

    def cutout(self) -> Image.Image:
        """RGBA PIL image: estimated foreground colours with the alpha as transparency."""
        rgba = np.concatenate([to_uint8(self.foreground), to_uint8(self.alpha)[..., None]], axis=2)
        return Image.fromarray(rgba, mode="RGBA")

    def composite(self, background="white") -> Image.Image:
        """RGB PIL image of the foreground over ``background``.

        ``background``: a colour (name, '#rrggbb', or an (r, g, b) tuple of 0..255 ints) or an image (path, PIL,
        array), which is resized to cover the input.
        """
        h, w = self.alpha.shape
        bg = background_array(background, (h, w))
        a = self.alpha[..., None]
        return Image.fromarray(to_uint8(a * self.foreground + (1 - a) * bg), mode="RGB")


def to_uint8(x: np.ndarray) -> np.ndarray:
    """float in [0, 1] -> uint8 0..255 with rounding."""
    return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def background_array(background, size: tuple[int, int]) -> np.ndarray:
    """A colour or an image -> float32 (H, W, 3) in [0, 1] of the given (H, W) size (images: resize to cover, crop)."""
    h, w = size
    if isinstance(background, str) and not _is_file(background):
        try:
            rgb = ImageColor.getrgb(background)[:3]
        except ValueError:
            raise InvalidImageError(f"Unknown background colour '{background}' (use a name or '#rrggbb').") from None
        return np.broadcast_to(np.array(rgb, np.float32) / 255.0, (h, w, 3))
    if isinstance(background, (tuple, list)) and len(background) in (3, 4):
        rgb = np.array(background[:3], dtype=np.float32)
        if rgb.max() > 1.0:
            rgb = rgb / 255.0
        return np.broadcast_to(rgb, (h, w, 3))
    bg = load_image(background)
    bh, bw = bg.shape[:2]
    scale = max(h / bh, w / bw)
    nh, nw = max(h, round(bh * scale)), max(w, round(bw * scale))
    t = torch.from_numpy(bg).permute(2, 0, 1)[None]
    t = F.interpolate(t, size=(nh, nw), mode="bilinear", align_corners=False, antialias=scale < 1)
    top, left = (nh - h) // 2, (nw - w) // 2
    return t[0, :, top:top + h, left:left + w].permute(1, 2, 0).clamp(0, 1).numpy()


def _is_file(s: str) -> bool:
    from pathlib import Path

    return Path(s).suffix != "" and Path(s).exists()


def network_size(h: int, w: int, max_side: int | None) -> tuple[int, int]:
    """The (h, w) the network sees: the input scaled down so its long side is at most ``max_side``."""
    if max_side is None or max(h, w) <= max_side:
        return h, w
    if max_side < 8:
        raise ValueError(f"max_side must be at least 8, got {max_side}.")
    scale = max_side / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def prepare_inputs(image, trimap, trimap_input: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Read one image (and its trimap) in the canonical forms, checking the trimap against the model kind."""
    img = load_image(image)
    if trimap_input:
        if trimap is None:
            raise InvalidTrimapError(
                f"This model needs a trimap (it was trained with trimap input) but none was given for "
                f"{describe(image)}. Pass trimap=..., or use a trimap-free model."
            )
        tri = load_trimap(trimap, shape=img.shape[:2])
    else:
        if trimap is not None:
            raise InvalidTrimapError(
                "This model is trimap-free: it takes the image only. Drop the trimap, or load a trimap-input model."
            )
        tri = None
    return img, tri


def resize_to_network(img: np.ndarray, tri: np.ndarray | None, size: tuple[int, int]):
    """Numpy image/trimap -> tensors (3, h, w) and (1, h, w) at the network size (antialiased / nearest)."""
    x = torch.from_numpy(img).permute(2, 0, 1)
    t = torch.from_numpy(trimap_to_float(tri))[None] if tri is not None else None
    if tuple(size) != tuple(img.shape[:2]):
        x = F.interpolate(x[None], size=size, mode="bilinear", align_corners=False, antialias=True)[0].clamp(0, 1)
        if t is not None:
            t = F.interpolate(t[None], size=size, mode="nearest")[0]
    return x, t


def apply_known_region(alpha: np.ndarray, trimap: np.ndarray | None) -> np.ndarray:
    """Copy the trimap's known pixels into the alpha (0 where background, 1 where foreground)."""
    if trimap is None:
        return alpha
    alpha = alpha.copy()
    alpha[trimap == BACKGROUND] = 0.0
    alpha[trimap == FOREGROUND] = 1.0
    return alpha


@torch.inference_mode()
def run_network(model, images: torch.Tensor, trimaps: torch.Tensor | None, out_size: tuple[int, int]) -> np.ndarray:
    """(B, 3, h, w) -> alpha float32 numpy (B, H, W), resized to ``out_size`` on the model's device."""
    device = next(model.parameters()).device
    alpha = model(images.to(device), trimaps.to(device) if trimaps is not None else None)
    if tuple(alpha.shape[-2:]) != tuple(out_size):
        alpha = F.interpolate(alpha, size=out_size, mode="bilinear", align_corners=False)
    return alpha[:, 0].clamp(0, 1).float().cpu().numpy()


def predict(
    model,
    image,
    trimap=None,
    *,
    max_side: int | None = DEFAULT_MAX_SIDE,
    device: str | torch.device | None = None,
    batch_size: int = 4,
    adapt_steps: int = 0,
    refine: bool = True,
    refine_steps: int = 0,
    progress: bool = False,
):
    """Matte one image, or a list of images in batches.

    Args:
        model: an :class:`~afmatting.model.AFMatting`.
        image: a path, bytes, PIL image or numpy array (uint8/uint16/float; grey, RGB or RGBA), or a list of them.
        trimap: for trimap-input models, a trimap (path, PIL or array, values 0/128/255, the image's size) or a list
            of them; refused for trimap-free models.
        max_side: the network sees the image scaled so that its long side is at most this (alpha is resized back).
            None: full resolution.
        device: run on this device (the model is moved there); default the model's device.
        batch_size: images of the same network size are run together, this many at a time.
        adapt_steps: test-time adaptation steps (trimap models only; see :mod:`afmatting.adapt`).
        refine: with a trimap, refine the network's matte per image (the matting Laplacian's colour-line prior with a
            pull towards the network's matte, solved on the unknown pixels; see :mod:`afmatting.refine`). On by
            default; ``False`` returns the network's matte alone. Ignored without a trimap.
        refine_steps: the earlier gradient refinement (Adam steps per level under known + DDC; see
            :mod:`afmatting.refine_adam`), kept for comparison; when > 0 it replaces ``refine``.
        progress: show progress bars (images; adaptation and refinement steps).

    Returns:
        a MattingResult (a list of them for a list input) with ``.alpha`` float32 (H, W) in [0, 1] at the input size.
    """
    single = not isinstance(image, (list, tuple))
    images = [image] if single else list(image)
    if trimap is None:
        trimaps = [None] * len(images)
    elif single:
        trimaps = [trimap]
    else:
        if not isinstance(trimap, (list, tuple)) or len(trimap) != len(images):
            raise InvalidTrimapError(f"Got {len(images)} images; pass a list of as many trimaps (or None).")
        trimaps = list(trimap)
    if device is not None:
        model.to(device)
    model.eval()
    if refine_steps < 0:
        raise AFMattingError(f"refine_steps must be >= 0, got {refine_steps}.")
    if (adapt_steps or refine_steps) and not model.trimap_input:
        raise AFMattingError("Test-time adaptation and refinement need a trimap-input model and a trimap: the "
                             "trimap's known pixels anchor the fit.")
    if adapt_steps:
        from .adapt import adapt_and_predict

        results = [
            adapt_and_predict(model, im, tr, steps=adapt_steps, max_side=max_side, progress=progress)
            for im, tr in zip(images, trimaps)
        ]
    else:
        results = _predict_batched(model, images, trimaps, max_side, batch_size, progress)
    if refine_steps:
        from .refine_adam import refine_alpha_adam

        for result in results:
            start = time.perf_counter()
            result.alpha = refine_alpha_adam(result.image, result.trimap, result.alpha, refine_steps,
                                             max_side=max_side, device=next(model.parameters()).device,
                                             progress=progress)
            result.extra.update(refine_steps=refine_steps, refine_seconds=time.perf_counter() - start)
    elif refine and model.trimap_input:
        from .refine import refine_alpha

        for result in results:
            start = time.perf_counter()
            result.alpha = refine_alpha(result.image, result.trimap, result.alpha)
            result.extra.update(refined=True, refine_seconds=time.perf_counter() - start)
    return results[0] if single else results


def _predict_batched(model, images, trimaps, max_side, batch_size, progress) -> list[MattingResult]:
    prepared = [prepare_inputs(im, tr, model.trimap_input) for im, tr in zip(images, trimaps)]
    results: list[MattingResult | None] = [None] * len(images)
    # group by network size so a batch needs no padding between images (results equal one-by-one runs)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, (img, _) in enumerate(prepared):
        groups.setdefault(network_size(*img.shape[:2], max_side), []).append(i)
    bar = _progress(len(images), progress)
    for size, indices in groups.items():
        for start in range(0, len(indices), max(1, batch_size)):
            chunk = indices[start:start + batch_size]
            xs, ts = zip(*(resize_to_network(*prepared[i], size) for i in chunk))
            x = torch.stack(xs)
            t = torch.stack(ts) if model.trimap_input else None
            # images of one group share a network size but not necessarily an original size
            for i, a in zip(chunk, _run_chunk(model, x, t, [prepared[i][0].shape[:2] for i in chunk])):
                img, tri = prepared[i]
                results[i] = MattingResult(image=img, alpha=apply_known_region(a, tri), trimap=tri,
                                           name=_name_of(images[i]))
            if bar is not None:
                bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return results


def _run_chunk(model, x, t, out_sizes: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    if all(tuple(s) == tuple(out_sizes[0]) for s in out_sizes):
        return list(run_network(model, x, t, tuple(out_sizes[0])))
    return [run_network(model, x[k:k + 1], None if t is None else t[k:k + 1], tuple(s))[0]
            for k, s in enumerate(out_sizes)]


def _name_of(source) -> str:
    from pathlib import Path
    import os

    return Path(os.fspath(source)).stem if isinstance(source, (str, os.PathLike)) else ""


def _progress(total: int, enabled: bool):
    if not enabled or total <= 1:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="matting", unit="img")
