"""The one inference path used by the Python API, the CLI, the app and evaluation.

``predict(model, image, trimap=None)``: read the input, bound its size by ``max_side`` (its one meaning is in
:mod:`afmatting.processing`), run the network, resize the alpha back to the original size, apply the known-region
rule for trimap models, and wrap it in a :class:`~afmatting.result.MattingResult`.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from .adapt import adapt_and_predict
from .errors import AFMattingError, InvalidTrimapError, ModelOutputError
from .processing import DEFAULT_MAX_SIDE, check_max_side, check_trimap_kind, network_alphas, prepare_inputs
from .prompted import prompted_predict
from .refine import refine_alpha
from .result import MattingResult, name_of
from .two_stage import two_stage_predict

__all__ = ["DEFAULT_MAX_SIDE", "MattingResult", "STAGES", "predict"]

#: the stages ``predict`` reports to ``on_progress``, in the order they run
STAGES = ("adapt", "select", "network", "two_stage", "refine")


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
    two_stage: bool | None = None,
    trimap_model=None,
    saliency="auto",
    clicks=None,
    box=None,
    progress: bool = False,
    on_progress=None,
    keep_guesses: bool = False,
    start_from: str | None = None,
):
    """Matte one image, or a list of images in batches.

    Args:
        model: a network: an :class:`~afmatting.model.AFMatting` or an
            :class:`~afmatting.onnx_model.OnnxMattingModel` (:func:`afmatting.loading.load_model` loads either).
        image: a path, bytes, PIL image or numpy array (uint8/uint16/float; grey, RGB or RGBA), or a list of them.
        trimap: for trimap-input models, a trimap (path, PIL or array, values 0/128/255, the image's size) or a list
            of them; refused for trimap-free models.
        max_side: the network sees the image scaled so that its long side is at most this (alpha is resized back);
            None: full resolution (see :mod:`afmatting.processing`).
        device: run on this device (the model is moved there); default the model's device.
        batch_size: images of the same network size are run together, this many at a time.
        adapt_steps: test-time adaptation steps (trimap models only; see :mod:`afmatting.adapt`).
        refine: refine the matte per image (the matting Laplacian's colour-line prior with a pull towards the
            network's matte, solved on the unknown pixels; see :mod:`afmatting.refine`): with a trimap, the
            network's matte; on the two-stage path, its second matte. On by default; ``False`` returns the
            network's matte alone.
        two_stage: trimap-free models only. True: the two-stage path of :mod:`afmatting.two_stage` (the network finds
            the subject, an automatic trimap is built from its matte, ``trimap_model`` mattes and refinement
            finishes); False: the trimap-free network alone (the fast option). None (default): True when a
            ``trimap_model`` is given.
        trimap_model: the two-stage path's trimap-input network (:func:`afmatting.loading.load_matter` pairs the
            bundled trimap-free model with the bundled trimap model).
        saliency: the two-stage path's salient-object mask: ``"auto"`` (the bundled U²-Net-p where onnxruntime is
            installed), True, False, or a callable (see :func:`afmatting.two_stage.two_stage_predict`).
        clicks: prompted matting (:mod:`afmatting.prompted`): ``[(x, y), (x, y, label), ...]`` in the image's
            pixels, label 1 (default) on the subject, 0 off it. The bundled MobileSAM turns the clicks (and
            ``box``) into a mask of the subject, which replaces the automatic path's first stage; the second stage
            (automatic trimap, trimap model: ``model`` itself when it takes a trimap, else ``trimap_model``,
            refinement) finishes. One image only, without a trimap.
        box: ``(x0, y0, x1, y1)`` around the subject, in the image's pixels (with or without clicks).
        keep_guesses: on the two-stage path, keep each first-stage network's matte in ``extra["guesses"]`` (see
            :func:`afmatting.two_stage.two_stage_predict`; :func:`afmatting.two_stage.matte_from_guess` starts
            the second stage from one of them).
        start_from: on the two-stage path, one first-stage network's key ("ours", "modnet", "u2netp") whose matte
            alone starts the second stage, instead of the networks' vote (see
            :func:`afmatting.two_stage.two_stage_predict`).
        progress: show progress bars (images; adaptation steps).
        on_progress: optional callback ``on_progress(stage, fraction)``: ``stage`` one of :data:`STAGES`
            (``select``: the prompted path's segmenter),
            ``fraction`` in [0, 1] the share of that stage done (each stage that runs reports 0 when it starts and 1
            when it ends, and fractions in between where it can: the network per batch, refinement per level).

    Returns:
        a MattingResult (a list of them for a list input) with ``.alpha`` float32 (H, W) in [0, 1] at the input size.
    """
    max_side = check_max_side(max_side)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise AFMattingError(f"batch_size must be a whole number >= 1, got {batch_size!r}.")
    report = on_progress or _ignore_progress
    if clicks is not None or box is not None:
        return _predict_prompted(model, image, trimap, clicks, box, trimap_model, max_side, refine, device,
                                 report)
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
        if trimap_model is not None:
            trimap_model.to(device)
    model.eval()
    if adapt_steps and not model.trimap_input:
        raise AFMattingError("Test-time adaptation needs a trimap-input model and a trimap: the trimap's known "
                             "pixels anchor the fit.")
    if two_stage is None:
        two_stage = trimap_model is not None and not model.trimap_input
    if start_from is not None and not two_stage:
        raise AFMattingError(f"start_from={start_from!r} picks a first-stage network of the two-stage path, which "
                             f"this call does not run (a trimap-free model, no trimap, with its trimap model).")
    if two_stage:
        if model.trimap_input:
            raise AFMattingError("two_stage=True is for trimap-free models; this model takes a trimap.")
        if trimap_model is None:
            raise AFMattingError("two_stage=True needs trimap_model=... (a trimap-input network); "
                                 "afmatting.load_matter pairs the bundled trimap-free model with its partner.")
        results = []
        report("two_stage", 0.0)
        for k, (im, tr) in enumerate(zip(images, trimaps)):
            check_trimap_kind(im, tr, trimap_input=False)
            # two_stage_predict reads the image itself: reading it here too would hold two full-size copies
            result = two_stage_predict(model, im, trimap_model=trimap_model, max_side=max_side, refine=refine,
                                       saliency=saliency, keep_guesses=keep_guesses,
                                       start_from=start_from,
                                       on_step=lambda f, k=k: report("two_stage", (k + f) / len(images)))
            result.name = name_of(im)
            results.append(result)
            report("two_stage", (k + 1) / len(images))
    elif adapt_steps:
        results = []
        report("adapt", 0.0)
        for k, (im, tr) in enumerate(zip(images, trimaps)):
            results.append(adapt_and_predict(model, im, tr, steps=adapt_steps, max_side=max_side,
                                             progress=progress))
            report("adapt", (k + 1) / len(images))
    else:
        results = _predict_batched(model, images, trimaps, max_side, batch_size, progress, report)
    if refine and model.trimap_input:
        _refine_all(results, report)
    for result in results:
        check_finite_alpha(result.alpha, model, result.name)
    return results[0] if single else results


def _predict_prompted(model, image, trimap, clicks, box, trimap_model, max_side, refine, device,
                      report) -> MattingResult:
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
                              refine=refine, on_progress=report)
    result.name = name_of(image)
    check_finite_alpha(result.alpha, second, result.name)
    return result


def _ignore_progress(stage: str, fraction: float) -> None:
    """The progress callback of a call nobody watches."""


def _refine_all(results: list[MattingResult], report) -> None:
    """Refine each result's alpha in place (:func:`afmatting.refine.refine_alpha`), reporting levels done."""
    report("refine", 0.0)
    for k, result in enumerate(results):
        start = time.perf_counter()

        def on_level(index: int, count: int, iterations: int, k=k) -> None:
            report("refine", (k + (index + 1) / count) / len(results))

        result.alpha = refine_alpha(result.image, result.trimap, result.alpha, on_level=on_level)
        result.extra.update(refined=True, refine_seconds=time.perf_counter() - start)
    report("refine", 1.0)


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


def _predict_batched(model, images, trimaps, max_side, batch_size, progress, report) -> list[MattingResult]:
    prepared = [prepare_inputs(im, tr, model.trimap_input) for im, tr in zip(images, trimaps)]
    bar = _progress(len(images), progress)
    report("network", 0.0)

    def on_batch(done: int, total: int) -> None:
        report("network", done / total)
        if bar is not None:
            bar.n = done
            bar.refresh()

    alphas = network_alphas(model, [img for img, _ in prepared], [tri for _, tri in prepared], max_side,
                            batch_size=batch_size, on_batch=on_batch)
    if bar is not None:
        bar.close()
    return [MattingResult(image=img, alpha=alpha, trimap=tri, name=name_of(im))
            for (img, tri), alpha, im in zip(prepared, alphas, images)]


def _progress(total: int, enabled: bool):
    if not enabled or total <= 1:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="matting", unit="img")
