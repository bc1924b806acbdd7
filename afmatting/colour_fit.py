"""How well a matte is explained by the image's colours: a label-free check of a subject mask.

A matte that outlines the real subject splits the photo into two groups of colours that differ; one that also
takes part of the background (or leaves part of the subject out) mixes them. Fit one colour histogram to the
matte's foreground (each pixel weighted by α) and one to its background (weighted by 1 − α); each pixel's
posterior ``P(foreground | colour)`` is then what the matte's own colour model says of it. Its mean distance to
α, divided by that of a constant guess at the matte's area ``a`` (``2 a (1 − a)`` for a binary matte), is the
matte's **colour-fit error**: near 0 when the colours alone reproduce the matte, near 1 when they say nothing.
The idea is GrabCut's (Rother et al. 2004) colour model, used here only to compare candidate masks of one
photo (:func:`afmatting.first_stage.choose_first_stage`).

Conventions: image float32 (H, W, 3) RGB in [0, 1]; matte float (H, W) in [0, 1], same H, W.
"""

from __future__ import annotations

import numpy as np

from .errors import AFMattingError

#: histogram bins per channel (8³ = 512 colours: coarse enough that a few thousand pixels fill it)
COLOUR_BINS = 8


def colour_indices(image: np.ndarray, bins: int = COLOUR_BINS) -> np.ndarray:
    """int64 (H, W) in [0, bins³): each pixel's histogram cell, ``bins`` levels per channel."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3 or image.shape[2] != 3:
        raise AFMattingError(f"colour_indices needs an (H, W, 3) image; got shape {image.shape}.")
    q = np.clip((image * bins).astype(np.int64), 0, bins - 1)
    return (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]


def colour_posterior(image: np.ndarray, matte: np.ndarray, bins: int = COLOUR_BINS) -> np.ndarray:
    """float64 (H, W) in (0, 1): ``P(foreground | colour)`` from the two α-weighted colour histograms (each cell
    given half a pixel of each, so an empty cell is 0.5)."""
    matte = np.asarray(matte, dtype=np.float64)
    cells = colour_indices(image, bins)
    if matte.shape != cells.shape:
        raise AFMattingError(f"the matte's shape {matte.shape} is not the image's {cells.shape}.")
    fg = np.bincount(cells.ravel(), weights=matte.ravel(), minlength=bins ** 3) + 0.5
    bg = np.bincount(cells.ravel(), weights=(1.0 - matte).ravel(), minlength=bins ** 3) + 0.5
    return (fg / (fg + bg))[cells]


def colour_fit_error(image: np.ndarray, matte: np.ndarray, bins: int = COLOUR_BINS) -> float:
    """The matte's colour-fit error (see the module doc): ``mean |posterior − α| / (2 a (1 − a))``, ``a`` the
    matte's mean, the denominator floored at 1e-3 (a matte of almost nothing or almost everything scores high:
    the colours cannot vouch for it). Lower is better; 0 when the colours separate the matte exactly."""
    matte = np.asarray(matte, dtype=np.float64)
    if not np.isfinite(matte).all() or matte.min(initial=0.0) < 0.0 or matte.max(initial=0.0) > 1.0:
        raise AFMattingError("colour_fit_error needs a matte with values in [0, 1].")
    area = float(matte.mean())
    error = float(np.abs(colour_posterior(image, matte, bins) - matte).mean())
    return error / max(2.0 * area * (1.0 - area), 1e-3)
