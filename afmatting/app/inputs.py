"""Turning the UI's inputs into arrays: painted trimap layers and background colours (no Gradio)."""

from __future__ import annotations

import re

import numpy as np
from PIL import Image
from scipy import ndimage

from ..errors import AFMattingError
from ..trimap import BACKGROUND, FOREGROUND, UNKNOWN

#: fixed brush colours of the trimap painter, and the class each stands for
BRUSH_COLOURS = {"#22c55e": FOREGROUND, "#3b82f6": UNKNOWN, "#ef4444": BACKGROUND}
#: a layer pixel counts as painted when its opacity is at least this (0..255); anti-aliased rims below it do not
PAINT_MIN_ALPHA = 64
UNPAINTED_CHOICES = {"background": BACKGROUND, "unknown": UNKNOWN}
_SEAM = np.ones((3, 3), dtype=bool)


def _hex_rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return tuple(int(colour[i:i + 2], 16) for i in (0, 2, 4))


def painted_classes(layers, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Painted ImageEditor layers -> (classes uint8 (H, W) in {0, 128, 255}, painted bool (H, W)).

    Each layer is an RGBA image (numpy, PIL or path). A pixel is painted where its opacity is at least
    PAINT_MIN_ALPHA and it lies in a mark at least 3 x 3 pixels wide (an eraser's leftover seams are not paint); it takes the class of the nearest brush colour. Later layers lie on top and win. Layers of
    another size than the photo (the editor may scale) are resized with nearest neighbour. ``classes`` is
    BACKGROUND where nothing is painted.
    """
    h, w = shape
    palette = np.array([_hex_rgb(c) for c in BRUSH_COLOURS], dtype=np.float32)
    levels = np.array(list(BRUSH_COLOURS.values()), dtype=np.uint8)
    classes = np.full((h, w), BACKGROUND, dtype=np.uint8)
    painted_any = np.zeros((h, w), dtype=bool)
    for layer in layers or []:
        if layer is None:
            continue
        img = layer if isinstance(layer, Image.Image) else (
            Image.fromarray(np.asarray(layer)) if isinstance(layer, np.ndarray) else Image.open(layer))
        img = img.convert("RGBA")
        if img.size != (w, h):
            img = img.resize((w, h), Image.NEAREST)
        rgba = np.asarray(img)
        # the eraser leaves dotted seams of half-erased pixels along a stroke's edge: marks thinner than 3 px are
        # not paint (every brush stroke is wider)
        painted = ndimage.binary_opening(rgba[..., 3] >= PAINT_MIN_ALPHA, structure=_SEAM)
        if not painted.any():
            continue
        painted_any |= painted
        rgb = rgba[painted][:, :3].astype(np.float32)
        nearest = ((rgb[:, None, :] - palette[None]) ** 2).sum(-1).argmin(1)
        classes[painted] = levels[nearest]
    return classes, painted_any


def trimap_from_layers(layers, shape: tuple[int, int], unpainted: str = "background") -> np.ndarray | None:
    """Painted ImageEditor layers -> uint8 trimap (H, W) in {0, 128, 255}, or None when nothing is painted.

    Painted pixels take their brush's class (see :func:`painted_classes`); unpainted ones are ``unpainted``
    ('background' or 'unknown').
    """
    if unpainted not in UNPAINTED_CHOICES:
        raise ValueError(f"unpainted must be one of {sorted(UNPAINTED_CHOICES)}, got {unpainted!r}.")
    classes, painted = painted_classes(layers, shape)
    if not painted.any():
        return None
    classes[~painted] = UNPAINTED_CHOICES[unpainted]
    return classes


def parse_colour(value) -> tuple[int, int, int]:
    """A ColorPicker value ('#rrggbb', '#rgb', 'rgb(r, g, b)' or 'rgba(r, g, b, a)', float components allowed)."""
    if not value:
        return (255, 255, 255)
    s = str(value).strip()
    if s.startswith("#"):
        s = s[1:]
        if len(s) in (3, 4):
            s = "".join(ch * 2 for ch in s[:3])
        if len(s) in (6, 8) and re.fullmatch(r"[0-9a-fA-F]+", s):
            return _hex_rgb(s[:6])
    m = re.fullmatch(r"rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)(?:[\s,/]+[\d.%]+)?\s*\)", s)
    if m:
        return tuple(int(round(min(255.0, float(v)))) for v in m.groups())
    raise AFMattingError(f"Unknown background colour {value!r}: pick one with the colour picker.")
