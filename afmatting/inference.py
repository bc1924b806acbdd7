"""The one inference path used by the Python API, the CLI, the app and evaluation.

``predict(model, image, trimap=None)``: read the input, bound its size by ``max_side`` (its one meaning is in
:mod:`afmatting.processing`), run the network, resize the alpha back to the original size, apply the known-region
rule for trimap models, and wrap it in a :class:`~afmatting.result.MattingResult`.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import torch

from .adapt import adapt_and_predict
from .errors import AFMattingError, InvalidTrimapError, ModelOutputError
from .processing import (
    DEFAULT_MAX_SIDE,
    apply_known_region,
    check_max_side,
    network_size,
    prepare_inputs,
    resize_to_network,
    run_network,
)
from .refine import refine_alpha
from .refine_adam import refine_alpha_adam
from .prompted import prompted_predict
from .result import MattingResult, name_of
from .two_stage import two_stage_predict, uses_two_stage_by_default

__all__ = ["DEFAULT_MAX_SIDE", "MattingResult", "predict"]


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
    two_stage: bool | None = None,
    trimap_model=None,
    saliency="auto",
    clicks=None,
    box=None,
    progress: bool = False,
):
    """Matte one image, or a list of images in batches.

    Args:
        model: an :class:`~afmatting.model.AFMatting`.
        image: a path, bytes, PIL image or numpy array (uint8/uint16/float; grey, RGB or RGBA), or a list of them.
        trimap: for trimap-input models, a trimap (path, PIL or array, values 0/128/255, the image's size) or a list
            of them; refused for trimap-free models.
        max_side: the network sees the image scaled so that its long side is at most this (alpha is resized back);
            None: full resolution (see :mod:`afmatting.processing`).
        device: run on this device (the model is moved there); default the model's device.
        batch_size: images of the same network size are run together, this many at a time.
        adapt_steps: test-time adaptation steps (trimap models only; see :mod:`afmatting.adapt`).
        refine: with a trimap, refine the network's matte per image (the matting Laplacian's colour-line prior with a
            pull towards the network's matte, solved on the unknown pixels; see :mod:`afmatting.refine`). On by
            default; ``False`` returns the network's matte alone. Without a trimap it refines the two-stage path's
            second matte (see ``two_stage``) and is ignored otherwise.
        refine_steps: the earlier gradient refinement (Adam steps per level under known + DDC; see
            :mod:`afmatting.refine_adam`), kept for comparison; when > 0 it replaces ``refine``.
        two_stage: trimap-free models only. True: the two-stage path of :mod:`afmatting.two_stage` (the network finds
            the subject, an automatic trimap is built from its matte, the trimap model mattes and refinement
            finishes); False: the trimap-free network alone (the fast option). None (default): True for the
            bundled trimap-free model, False for other models.
        trimap_model: the two-stage path's trimap model (default the bundled ``afmatting/lite0-trimap``).
        saliency: the two-stage path's salient-object mask: ``"auto"`` (the bundled U²-Net-p where onnxruntime is
            installed), True, False, or a callable (see :func:`afmatting.two_stage.two_stage_predict`).
        clicks: prompted matting (:mod:`afmatting.prompted`): ``[(x, y), (x, y, label), ...]`` in the image's
            pixels, label 1 (default) on the subject, 0 off it. The bundled MobileSAM turns the clicks (and
            ``box``) into a mask of the subject, which replaces the automatic path's first stage; the second stage
            (automatic trimap, trimap model: ``model`` itself when it takes a trimap, else ``trimap_model``,
            refinement) finishes. One image only, without a trimap.
        box: ``(x0, y0, x1, y1)`` around the subject, in the image's pixels (with or without clicks).
        progress: show progress bars (images; adaptation and refinement steps).

    Returns:
        a MattingResult (a list of them for a list input) with ``.alpha`` float32 (H, W) in [0, 1] at the input size.
    """
    max_side = check_max_side(max_side)
    if clicks is not None or box is not None:
        return _predict_prompted(model, image, trimap, clicks, box, trimap_model, max_side, refine, device)
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
    if two_stage is None:
        two_stage = not model.trimap_input and uses_two_stage_by_default(model)
    if two_stage:
        if model.trimap_input:
            raise AFMattingError("two_stage=True is for trimap-free models; this model takes a trimap.")
        results = []
        for im, tr in zip(images, trimaps):
            img, _ = prepare_inputs(im, tr, trimap_input=False)  # the trimap-free model's rules: no trimap
            result = two_stage_predict(model, img, trimap_model=trimap_model, max_side=max_side, refine=refine,
                                       saliency=saliency)
            result.name = name_of(im)
            results.append(result)
        return results[0] if single else results
    if adapt_steps:
        results = [
            adapt_and_predict(model, im, tr, steps=adapt_steps, max_side=max_side, progress=progress)
            for im, tr in zip(images, trimaps)
        ]
    else:
        results = _predict_batched(model, images, trimaps, max_side, batch_size, progress)
    if refine_steps:
        for result in results:
            start = time.perf_counter()
            result.alpha = refine_alpha_adam(result.image, result.trimap, result.alpha, refine_steps,
                                             max_side=max_side, device=model.device,
                                             progress=progress)
            result.extra.update(refine_steps=refine_steps, refine_seconds=time.perf_counter() - start)
    elif refine and model.trimap_input:
        for result in results:
            start = time.perf_counter()
            result.alpha = refine_alpha(result.image, result.trimap, result.alpha)
            result.extra.update(refined=True, refine_seconds=time.perf_counter() - start)
    for result in results:
        check_finite_alpha(result.alpha, model, result.name)
    return results[0] if single else results


def _predict_prompted(model, image, trimap, clicks, box, trimap_model, max_side, refine, device) -> MattingResult:
    """predict's prompted path: checks, then :func:`afmatting.prompted.prompted_predict`."""
    if isinstance(image, (list, tuple)):
        raise AFMattingError("clicks= and box= point at the subject of one image; got a list of images.")
    if trimap is not None:
        raise AFMattingError("Pass either a trimap or clicks / a box: both say where the subject is.")
    second = model if model.trimap_input else trimap_model
    if second is None:
        raise AFMattingError("Prompted matting needs a trimap-input network for its second stage: pass "
                             "trimap_model=... (or a trimap model as the model).")
    if device is not None:
        second.to(device)
    second.eval()
    result = prompted_predict(image, clicks=clicks, box=box, trimap_model=second, max_side=max_side,
                              refine=refine)
    result.name = name_of(image)
    check_finite_alpha(result.alpha, second, result.name)
    return result


def model_label(model) -> str:
    """How error messages name a model: where it was loaded from, else its backbone."""
    return getattr(model, "name_or_path", None) or f"AFMatting({getattr(model, 'backbone_name', '?')})"


def check_finite_alpha(alpha: np.ndarray, model, image_name: str = "") -> None:
    """Refuse an alpha with NaN or infinite values (a broken model must not yield a silently wrong matte)."""
    if not np.isfinite(alpha).all():
        bad = int(np.count_nonzero(~np.isfinite(alpha)))
        raise ModelOutputError(
            f"The model {model_label(model)} produced {bad} NaN/infinite alpha values"
            + (f" for '{image_name}'" if image_name else "") + ": its weights or inputs are broken."
        )


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
                                           name=name_of(images[i]))
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


def _progress(total: int, enabled: bool):
    if not enabled or total <= 1:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="matting", unit="img")
