"""The two-stage trimap-free path: a trimap-free network picks the subject, a trimap model and refinement do the edges.

1. the trimap-free network mattes the image at a moderate size (``first_stage_side``: it only has to find the
   subject, and it finds it better at 512-640 px than at full size, where its receptive field covers less of the
   scene); where onnxruntime is installed, its matte is averaged with the mask of a bundled salient-object
   segmenter (U²-Net-p, trained on binary saliency masks; :mod:`afmatting.saliency`);
2. :func:`afmatting.auto_trimap.auto_trimap` turns that matte into a trimap: the subject's connected regions with
   their holes filled, an unknown band around their outline, and every uncertain pixel unknown;
3. the trimap model mattes the image with that trimap, and :func:`afmatting.refine.refine_alpha` refines the result
   on the image itself (no labels).

``predict(model, image, trimap_model=...)`` runs this for trimap-free models (``two_stage=False`` keeps the single
network, the fast option); the models arrive as arguments (:func:`afmatting.loading.load_matter` pairs the bundled
ones).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from .auto_trimap import auto_trimap
from .errors import AFMattingError
from .processing import network_alphas, prepare_inputs
from .refine import refine_alpha
from .result import MattingResult
from .saliency import bundled_segmenter

#: long side at which the trimap-free network looks for the subject (see the module doc)
DEFAULT_FIRST_STAGE_SIDE = 640

def default_refiner(image: np.ndarray, trimap: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Per-image refinement with the library's defaults: float32 (H, W, 3), uint8 (H, W), float32 (H, W) -> float32
    (H, W) in [0, 1]."""
    return refine_alpha(image, trimap, alpha)


def matte_once(model, image: np.ndarray, trimap: np.ndarray | None, max_side: int | None) -> np.ndarray:
    """One network pass (:func:`afmatting.processing.network_alphas`): float32 (H, W, 3) image (+ uint8 (H, W)
    trimap for trimap models) -> float32 (H, W) alpha in [0, 1] at the image's size (known-region rule applied)."""
    return network_alphas(model, [image], [trimap], max_side)[0]


def resolve_saliency(saliency):
    """``"auto"`` / True / False / None / a callable (see :func:`two_stage_predict`) -> a callable or None."""
    if saliency is None or saliency is False:
        return None
    if saliency is True or saliency == "auto":
        return bundled_segmenter(required=saliency is True)
    if callable(saliency):
        return saliency
    raise AFMattingError(f"saliency must be 'auto', True, False, None or a callable; got {saliency!r}.")


def two_stage_predict(
    free_model,
    image,
    *,
    trimap_model,
    first_stage_side: int | None = DEFAULT_FIRST_STAGE_SIDE,
    max_side: int | None = None,
    refine: bool = True,
    saliency: bool | str | Callable[[np.ndarray], np.ndarray] | None = "auto",
):
    """Matte one image without a trimap, in two stages (see the module doc).

    Args:
        free_model: a trimap-free :class:`~afmatting.model.AFMatting`.
        image: a path, bytes, PIL image or numpy array (anything :func:`afmatting.io.load_image` reads).
        trimap_model: a trimap-input network for stage 3 (:func:`afmatting.loading.load_matter` pairs the bundled
            trimap-free model with the bundled ``afmatting/lite0-trimap``).
        first_stage_side: long side (pixels) at which the trimap-free network sees the image (never above
            ``max_side``); None: full size.
        max_side: long side bound of the trimap model's input (the alpha always comes back at full size).
        refine: refine the trimap model's matte on the image (stage 3's second half).
        saliency: a salient-object mask averaged with the first stage's matte before the trimap is built (it picks
            the subject better than either alone: whole-image SAD 33.5 against 41.7 without it, see
            docs/results.md). ``"auto"`` (default): the bundled U²-Net-p where onnxruntime is installed
            (``afmatting[onnx]``), else none; True: the bundled one, an error without onnxruntime; False / None:
            none; or a callable ``image float32 (H, W, 3) -> mask float32 (H, W) in [0, 1]``.

    Returns:
        a MattingResult with ``.alpha`` float32 (H, W) in [0, 1], ``.trimap`` the automatic trimap, and in ``.extra``
        the first stage's matte (``first_stage_alpha``) and seconds per stage.
    """
    if free_model.trimap_input:
        raise AFMattingError("The two-stage path starts from a trimap-free model; this one needs a trimap.")
    if not trimap_model.trimap_input:
        raise AFMattingError("trimap_model must be a trimap-input model (the second stage mattes with the trimap).")
    side = first_stage_side
    if max_side is not None:
        side = max_side if side is None else min(side, max_side)
    free_model.eval()
    trimap_model.eval()
    image, _ = prepare_inputs(image, None, trimap_input=False)
    timings = {}
    start = time.perf_counter()
    first = matte_once(free_model, image, None, side)
    matte = first
    saliency = resolve_saliency(saliency)
    if saliency is not None:
        mask = np.asarray(saliency(image), dtype=np.float32)
        if mask.shape != matte.shape:
            raise AFMattingError(f"saliency returned shape {mask.shape}; expected the image's {matte.shape}.")
        matte = 0.5 * (matte + np.clip(mask, 0.0, 1.0))
    timings["first_stage_seconds"] = time.perf_counter() - start
    result = matte_from_prior(image, matte, trimap_model=trimap_model, max_side=max_side, refine=refine)
    result.extra.update(first_stage_alpha=first, **timings)
    return result


def matte_from_prior(
    image: np.ndarray,
    prior: np.ndarray,
    *,
    trimap_model,
    max_side: int | None = None,
    refine: bool = True,
    refiner: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None,
    trimap_options: dict | None = None,
) -> MattingResult:
    """The second stage alone: a rough subject matte or mask -> a refined matte.

    Shared by the automatic path (the prior is the first stage's matte) and by prompted selection (the prior is a
    promptable segmenter's mask for the user's clicks).

    Args:
        image: float32 (H, W, 3) RGB in [0, 1] (already prepared by :func:`afmatting.processing.prepare_inputs`).
        prior: float32 (H, W) in [0, 1]: where the subject is.
        trimap_model: a trimap-input model.
        max_side, refine: as in :func:`two_stage_predict`.
        refiner: ``(image, trimap, alpha) -> alpha`` replacing the default :func:`default_refiner`.
        trimap_options: keyword arguments for :func:`afmatting.auto_trimap.auto_trimap`.

    Returns:
        a MattingResult with ``.alpha`` float32 (H, W), ``.trimap`` the automatic trimap, seconds per step in ``.extra``.
    """
    if not trimap_model.trimap_input:
        raise AFMattingError("trimap_model must be a trimap-input model (the second stage mattes with the trimap).")
    timings = {}
    start = time.perf_counter()
    trimap = auto_trimap(prior, **(trimap_options or {}))
    timings["trimap_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    alpha = matte_once(trimap_model, image, trimap, max_side)
    timings["trimap_model_seconds"] = time.perf_counter() - start
    if refine:
        start = time.perf_counter()
        alpha = np.clip((refiner or default_refiner)(image, trimap, alpha), 0.0, 1.0).astype(np.float32, copy=False)
        timings["refine_seconds"] = time.perf_counter() - start
    return MattingResult(image=image, alpha=alpha, trimap=trimap, extra=dict(two_stage=True, **timings))
