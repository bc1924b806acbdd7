"""The matte of one image (:class:`MattingResult`) and its rendering: grey alpha, RGBA cut-out, composite."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor

from .errors import InvalidImageError
from .foreground import estimate_foreground
from .io import load_image
from .processing import image_to_tensor, resize_tensor, to_uint8


@dataclass
class MattingResult:
    """The matte of one image.

    Attributes:
        image: float32 (H, W, 3) RGB in [0, 1], the input as read.
        alpha: float32 (H, W) in [0, 1], at the input's size.
        trimap: uint8 (H, W) {0, 128, 255} when one was used, else None.
        name: the input file's stem ("" for arrays and PIL images).
        extra: timings and step counts of adaptation / refinement.
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


def name_of(source) -> str:
    """The name a result of ``source`` carries: a path's stem, else ""."""
    return Path(os.fspath(source)).stem if isinstance(source, (str, os.PathLike)) else ""


def _is_file(s: str) -> bool:
    return Path(s).suffix != "" and Path(s).exists()


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
    t = resize_tensor(image_to_tensor(bg)[None], (nh, nw))
    top, left = (nh - h) // 2, (nw - w) // 2
    return t[0, :, top:top + h, left:left + w].permute(1, 2, 0).clamp(0, 1).numpy()
