"""The two-stage trimap-free path: a trimap-free network picks the subject, a trimap model and refinement do the edges.

1. the trimap-free network mattes the image at a moderate size (``first_stage_side``: it only has to find the
   subject, and it finds it better at 512-640 px than at full size, where its receptive field covers less of the
   scene); where onnxruntime is installed, it is fused (per-pixel median, :mod:`afmatting.first_stage`) with the
   mattes of two bundled networks that fail on other photos: MODNet (portrait matting, :mod:`afmatting.modnet`) and
   U²-Net-p (salient objects, :mod:`afmatting.saliency`). When those two both find much less subject than ours, each
   a different part (a close-up: they outline a fragment or nothing,
   :func:`afmatting.first_stage.others_missed_subject`, or a larger fragment each where the photo's colours back ours:
   :func:`afmatting.first_stage.colour_backed_miss`; when they outline the same small subject, ours overshot and
   the vote stands), the answer is our network's matte; when one of the three is explained by the photo's colours clearly better than the
   median (two networks took the same wrong region: :func:`afmatting.first_stage.choose_first_stage`), it is used
   alone;
2. :func:`afmatting.auto_trimap.auto_trimap` turns that matte into a trimap: the subject's connected regions with
   their holes filled, an unknown band around their outline (wide near soft structure, narrow along hard edges),
   and every uncertain pixel unknown;
3. the trimap model mattes the image with that trimap (at a moderate size, ``second_stage_side``), blended with
   the fused matte by how sure that matte is, and :func:`afmatting.refine.refine_alpha` refines the result on the
   image itself (no labels), holding it firmly where the fused matte is sure. A mask that is already right and
   sure comes back unchanged; a trimap that is mostly unknown or disputed between the networks (nothing to anchor
   the solve: it would wash out to grey) returns our network's own matte instead, when the photo's colours explain
   that matte at least as well as the median (:func:`afmatting.first_stage.colour_fits`).

``predict(model, image, trimap_model=...)`` runs this for trimap-free models (``two_stage=False`` keeps the single
network, the fast option); the models arrive as arguments (:func:`afmatting.loading.load_matter` pairs the bundled
ones).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from .auto_trimap import auto_trimap, check_matte
from .errors import AFMattingError
from .io import load_matte
from .first_stage import (choose_first_stage, colour_backed_miss, colour_fits, first_stage_disputed, fuse_mattes,
                          others_missed_subject, prior_confidence)
from .modnet import bundled_modnet
from .processing import apply_known_region, network_alphas, prepare_inputs, to_uint8
from .refine import DEFAULT_PRIOR_WEIGHT, refine_alpha
from .result import MattingResult
from .saliency import bundled_segmenter
from .trimap import UNKNOWN

#: long side at which the trimap-free network looks for the subject (see the module doc)
DEFAULT_FIRST_STAGE_SIDE = 640
#: the narrow unknown band along hard, confident edges, as a fraction of the long side (the wide one, where the prior
#: is soft, is auto_trimap's band_fraction); chosen on the alphamatting photos, see docs/results.md
DEFAULT_HARD_BAND_FRACTION = 0.005
#: long side bound of the trimap model's input in the second stage: its matte is blended with the prior and refined
#: at full size, so it only has to place the band's coarse transitions (whole-image SAD on the alphamatting photos:
#: 25.32 at full size, 25.34 at 512, 25.35 at 384; second stage 4.3 s -> 2.6 s a photo there, on a loaded machine;
#: see docs/results.md)
DEFAULT_SECOND_STAGE_SIDE = 512
#: the label of our trimap-free network's matte among ``extra["guesses"]``
OURS_LABEL = "Matting network (ours)"
#: ... and its name in ``start_from``
OURS_KEY = "ours"
#: the share of the two-stage path's time its first stage takes (for progress reports only)
FIRST_STAGE_SHARE = 0.75
#: how far (a fraction of the long side) a correction of the trimap may change the matte around the corrected pixels
#: (:func:`keep_outside_edits`): twice the automatic trimap's wide band, so a stroke's effect fills the band around it
EDIT_REACH = 0.04
#: how much more firmly the refinement holds the prior where it is sure (see matte_from_prior)
DEFAULT_PRIOR_PULL = 30.0
#: an automatic trimap more unknown (or disputed) than this fraction of the image falls back (see matte_from_prior);
#: chosen on the crops set, checked on alphamatting (largest there: 0.59)
DEFAULT_MAX_UNKNOWN = 0.6


def matte_once(model, image: np.ndarray, trimap: np.ndarray | None, max_side: int | None) -> np.ndarray:
    """One network pass (:func:`afmatting.processing.network_alphas`): float32 (H, W, 3) image (+ uint8 (H, W)
    trimap for trimap models) -> float32 (H, W) alpha in [0, 1] at the image's size (known-region rule applied)."""
    return network_alphas(model, [image], [trimap], max_side)[0]


def resolve_saliency(saliency) -> list:
    """``"auto"`` / True / False / None / a callable / a list of callables (see :func:`two_stage_predict`) -> the
    list of extra first-stage networks, each ``image float32 (H, W, 3) -> matte float32 (H, W) in [0, 1]``."""
    if saliency is None or saliency is False:
        return []
    if saliency is True or saliency == "auto":
        required = saliency is True
        found = [bundled_modnet(required=required), bundled_segmenter(required=required)]
        return [f for f in found if f is not None]
    if callable(saliency):
        return [saliency]
    if isinstance(saliency, (list, tuple)) and all(callable(f) for f in saliency):
        return list(saliency)
    raise AFMattingError(f"saliency must be 'auto', True, False, None, a callable or a list of callables; got "
                         f"{saliency!r}.")


def two_stage_predict(
    free_model,
    image,
    *,
    trimap_model,
    first_stage_side: int | None = DEFAULT_FIRST_STAGE_SIDE,
    max_side: int | None = None,
    refine: bool = True,
    saliency: bool | str | Callable[[np.ndarray], np.ndarray] | list | None = "auto",
    on_step: Callable[[float], None] | None = None,
    keep_guesses: bool = False,
    start_from: str | None = None,
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
        saliency: the other first-stage networks, fused with ours by a per-pixel median before the trimap is
            built (:mod:`afmatting.first_stage`). ``"auto"`` (default): the bundled MODNet and U²-Net-p where
            onnxruntime is installed (``afmatting[onnx]``), else none; True: both, an error without onnxruntime;
            False / None: none (our network alone); or a callable / list of callables
            ``image float32 (H, W, 3) -> matte float32 (H, W) in [0, 1]``.
        on_step: optional ``on_step(fraction)``, called after each first-stage network and before the second stage
            with the rough fraction of the work done (in (0, 1), increasing), for a progress bar.
        keep_guesses: keep each first-stage network's matte in ``extra["guesses"]``: ``{label: uint8 (H, W)}``, our
            network first (``OURS_LABEL``), then each other network's ``label`` attribute (or "Network k"), so that
            a user whose subject came out wrong can start the second stage from one of them
            (:func:`matte_from_guess`; the app's "Start from another guess").
        start_from: None (the vote, default) or one first-stage network's ``key`` (:data:`OURS_KEY` "ours", the
            bundled "modnet" and "u2netp"; others "network2", ...): that network's matte alone is the prior (the
            missed-subject rule and the colour choice are skipped). For a photo whose automatic subject is wrong
            where one network had it right; ``afmatting matte --start-from``.

    Returns:
        a MattingResult with ``.alpha`` float32 (H, W) in [0, 1], ``.trimap`` the automatic trimap, and in ``.extra``
        the fused first-stage matte (``prior``, uint8 (H, W) 0..255), seconds per stage and ``first_stage_choice``:
        None when the prior is the median, else the index of the matte trusted alone
        (:func:`afmatting.first_stage.choose_first_stage`; 0 ours, then the ``saliency`` networks in order).
    """
    if free_model.trimap_input:
        raise AFMattingError("The two-stage path starts from a trimap-free model; this one needs a trimap.")
    if not trimap_model.trimap_input:
        raise AFMattingError("trimap_model must be a trimap-input model (the second stage mattes with the trimap).")
    side = _bounded(first_stage_side, max_side)
    free_model.eval()
    trimap_model.eval()
    image, _ = prepare_inputs(image, None, trimap_input=False)
    timings = {}
    start = time.perf_counter()
    networks = resolve_saliency(saliency)
    report = on_step or (lambda fraction: None)
    # the first stage is about three quarters of the time (docs/results.md): each network a share of it
    shares = np.linspace(0.0, FIRST_STAGE_SHARE, len(networks) + 2)[1:]
    first = matte_once(free_model, image, None, side)
    report(float(shares[0]))
    mattes, mask = [first], None
    for network, share in zip(networks, shares[1:]):
        mask = np.asarray(network(image), dtype=np.float32)
        if mask.shape != first.shape:
            raise AFMattingError(f"a first-stage network returned shape {mask.shape}; expected the image's "
                                 f"{first.shape}.")
        mattes.append(np.clip(mask, 0.0, 1.0, out=mask if mask.flags.writeable else None))
        report(float(share))
    guesses = None
    if keep_guesses:
        labels = [OURS_LABEL] + [getattr(n, "label", None) or f"Network {k + 2}" for k, n in enumerate(networks)]
        guesses = {label: to_uint8(m) for label, m in zip(labels, mattes)}
    if start_from is not None:  # the user's choice of network: no vote
        keys = [OURS_KEY] + [getattr(n, "key", None) or f"network{k + 2}" for k, n in enumerate(networks)]
        if start_from not in keys:
            raise AFMattingError(f"start_from={start_from!r} is not one of this run's first-stage networks: "
                                 f"{', '.join(keys)}.")
        missed, choice, fits = False, keys.index(start_from), None
    else:
        # a close-up: the other networks outline a fragment each, or nothing; the median would erase the subject
        missed = others_missed_subject(first, mattes[1:])
        fits = None if missed or len(mattes) < 2 else colour_fits(image, mattes)
        if fits is not None and colour_backed_miss(first, mattes[1:], fits):
            missed, fits = True, None  # a larger fragment each, and the photo's colours back ours
        # two networks can agree on the same wrong region; one whose colours explain it better is trusted alone
        choice = None if fits is None else choose_first_stage(image, mattes, fits=fits)
    guard = DEFAULT_MAX_UNKNOWN
    if missed:
        matte, disputed = first, None
    elif choice is not None:
        matte, disputed = mattes[choice], None
    else:
        matte, disputed = fuse_mattes(mattes), first_stage_disputed(mattes)
        if fits is not None and fits.errors[0] > fits.median_error:
            # the guard answers with our matte; where the median explains the photo's colours better than ours, a
            # wide dispute says the others are right, not ours: the second stage runs (GT26 and GT27 with a first
            # stage fine-tuned on animals: 214 and 141 -> 153 and 41 whole-image SAD; docs/results.md)
            guard = None
    del mattes, mask  # full-size planes: a 24 MP photo's are 96 MB each
    timings["first_stage_seconds"] = time.perf_counter() - start
    if missed:
        start = time.perf_counter()
        trimap = auto_trimap(first, hard_band_fraction=DEFAULT_HARD_BAND_FRACTION)
        timings["trimap_seconds"] = time.perf_counter() - start
        result = _fallback_result(image, first, trimap, first, "subject missed", timings)
    else:
        # where the networks disagree over most of the image (close-ups: the salient-object networks still outline
        # "an object"), the guard answers with our matting network's own matte (unless switched off above)
        result = matte_from_prior(image, matte, trimap_model=trimap_model, max_side=max_side, refine=refine,
                                  disputed=disputed, fallback=first if choice is None else matte, max_unknown=guard)
        result.extra.update(timings, first_stage_choice=choice)
    if guesses:
        result.extra["guesses"] = guesses
    return result


def matte_from_guess(image, guess: np.ndarray, *, trimap_model, max_side: int | None = None,
                     refine: bool = True) -> MattingResult:
    """The second stage from one first-stage network's matte (``two_stage_predict(keep_guesses=True)``'s
    ``extra["guesses"]``), for a photo whose automatic subject came out wrong while one network had it right.

    Args:
        image: anything :func:`afmatting.io.load_image` reads.
        guess: uint8 (H, W) 0..255 or float (H, W) in [0, 1], the image's size.
        trimap_model, max_side, refine: as in :func:`two_stage_predict`.

    Returns:
        :func:`matte_from_prior`'s result for that prior (the guard's answer, where it fires, is the guess itself).
    """
    image, _ = prepare_inputs(image, None, trimap_input=False)
    prior = load_matte(np.asarray(guess), name="guess", dtype=np.float32)
    return matte_from_prior(image, prior, trimap_model=trimap_model, max_side=max_side, refine=refine,
                            fallback=prior)


def matte_from_prior(
    image: np.ndarray,
    prior: np.ndarray,
    *,
    trimap_model,
    max_side: int | None = None,
    refine: bool = True,
    trimap_options: dict | None = None,
    second_stage_side: int | None = DEFAULT_SECOND_STAGE_SIDE,
    prior_pull: float = DEFAULT_PRIOR_PULL,
    max_unknown: float | None = DEFAULT_MAX_UNKNOWN,
    disputed: np.ndarray | None = None,
    fallback: np.ndarray | None = None,
    trimap: np.ndarray | None = None,
    corrects: tuple[np.ndarray, np.ndarray] | None = None,
) -> MattingResult:
    """The second stage alone: a rough subject matte or mask -> a refined matte.

    Shared by the automatic path (the prior is the first stage's matte) and by prompted selection (the prior is a
    promptable segmenter's mask for the user's clicks).

    Args:
        image: float32 (H, W, 3) RGB in [0, 1] (already prepared by :func:`afmatting.processing.prepare_inputs`).
        prior: float32 (H, W) in [0, 1]: where the subject is.
        trimap_model: a trimap-input model.
        max_side, refine: as in :func:`two_stage_predict`.
        trimap_options: keyword arguments for :func:`afmatting.auto_trimap.auto_trimap`.
        second_stage_side: long side bound of the trimap model's input (never above ``max_side``); None: full size.
            The same for a rerun with a corrected ``trimap``, so that what was not painted stays as it was.
        prior_pull: how firmly the prior holds where it is sure: in the unknown region the trimap model's matte is
            blended with the prior by the prior's confidence ``c = |2 p - 1|``, and the refinement's pull towards
            that blend is ``1 + prior_pull * c`` times its default (:data:`afmatting.refine.DEFAULT_PRIOR_WEIGHT`).
            A mask that is already right and sure (binary) therefore comes back unchanged; where the prior is
            unsure the colour lines decide.
        max_unknown: when more than this fraction of the image is unknown in the automatic trimap or ``disputed``,
            the second stage has too little known to go on (it washes out to grey): ``fallback`` is returned
            instead (default: the prior, with the trimap's known pixels applied). None: never (no guard).
        disputed: optional bool (H, W): pixels whose first-stage mattes disagree (counted as unknown by the guard).
        fallback: optional float32 (H, W) in [0, 1]: the guard's answer.
        trimap: optional uint8 (H, W) {0, 128, 255} to use instead of the automatic one (the automatic trimap
            corrected by hand, say): the same second stage then reruns with it, so what the user did not touch stays
            as it was; no guard.
        corrects: with ``trimap``, optional ``(alpha, its_trimap)`` of the result being corrected (float (H, W) in
            [0, 1], uint8 (H, W)): farther than :data:`EDIT_REACH` from every pixel where ``trimap`` differs from
            ``its_trimap``, that alpha is kept (:func:`keep_outside_edits`). Without it a correction of a result
            the guard answered (our network's matte) would rerun the whole second stage and change pixels
            everywhere.

    Returns:
        a MattingResult with ``.alpha`` float32 (H, W), ``.trimap`` the automatic trimap, and in ``.extra`` the prior
        (``prior``, uint8 (H, W) 0..255: a quarter of the memory of a float copy) and seconds per step.
    """
    if not trimap_model.trimap_input:
        raise AFMattingError("trimap_model must be a trimap-input model (the second stage mattes with the trimap).")
    prior = check_matte(prior, "prior")
    if prior.shape != image.shape[:2]:
        raise AFMattingError(f"the prior's shape {prior.shape} is not the image's {image.shape[:2]}.")
    timings = {}
    start = time.perf_counter()
    given = trimap is not None
    if given:
        trimap = np.asarray(trimap, dtype=np.uint8)
        if trimap.shape != prior.shape:
            raise AFMattingError(f"the trimap's shape {trimap.shape} is not the prior's {prior.shape}.")
    else:
        trimap = auto_trimap(prior, **{"hard_band_fraction": DEFAULT_HARD_BAND_FRACTION, **(trimap_options or {})})
    unknown = trimap == UNKNOWN
    timings["trimap_seconds"] = time.perf_counter() - start
    undecided = unknown if disputed is None else unknown | disputed
    if not given and max_unknown is not None and undecided.mean() > max_unknown:
        alpha = apply_known_region(prior.copy(), trimap) if fallback is None else check_matte(fallback, "fallback")
        return _fallback_result(image, prior, trimap, alpha, "mostly unknown", timings)
    start = time.perf_counter()
    alpha = matte_once(trimap_model, image, trimap, _bounded(second_stage_side, max_side))
    confidence = prior_confidence(prior)
    # in the unknown region, alpha <- c * prior + (1 - c) * alpha, computed in place (full-size planes)
    blend = np.subtract(prior, alpha)
    blend *= confidence
    blend += alpha
    np.copyto(alpha, blend, where=unknown)
    del blend
    timings["trimap_model_seconds"] = time.perf_counter() - start
    if refine:
        start = time.perf_counter()
        weight = confidence  # reused in place: λ (1 + prior_pull * c)
        weight *= prior_pull
        weight += 1.0
        weight *= DEFAULT_PRIOR_WEIGHT
        alpha = refine_alpha(image, trimap, alpha, prior_weight=weight)
        del weight
        alpha = np.clip(alpha, 0.0, 1.0).astype(np.float32, copy=False)
        timings["refine_seconds"] = time.perf_counter() - start
    if given and corrects is not None:
        alpha = keep_outside_edits(alpha, *corrects, trimap)
    return MattingResult(image=image, alpha=alpha, trimap=trimap,
                         extra=dict(two_stage=True, prior=to_uint8(prior), **timings))


def _fallback_result(image: np.ndarray, prior: np.ndarray, trimap: np.ndarray, alpha: np.ndarray, reason: str,
                     timings: dict) -> MattingResult:
    """The answer when the second stage is skipped: ``alpha`` (float32 (H, W) in [0, 1], copied) with the automatic
    trimap (kept for the app's brushes) and, in ``.extra``, why (``fallback``: "mostly unknown" or "subject
    missed")."""
    return MattingResult(image=image, alpha=np.array(alpha, dtype=np.float32), trimap=trimap,
                         extra=dict(two_stage=True, mostly_unknown=reason == "mostly unknown", fallback=reason,
                                    prior=to_uint8(prior), **timings))


def keep_outside_edits(new: np.ndarray, old: np.ndarray, old_trimap: np.ndarray, new_trimap: np.ndarray,
                       reach: float = EDIT_REACH) -> np.ndarray:
    """A corrected matte that changes only near the correction: ``new`` within ``reach * max(H, W)`` pixels of
    every pixel where ``new_trimap`` differs from ``old_trimap``, ``old`` elsewhere.

    Args:
        new, old: float (H, W) in [0, 1], the mattes after and before the correction.
        old_trimap, new_trimap: uint8 (H, W) {0, 128, 255}, the trimaps before and after.
        reach: a fraction (>= 0) of the long side.

    Returns:
        float32 (H, W) in [0, 1]. The distance is computed in the changed pixels' bounding box grown by the reach, so
        the memory is that of the edit, not of the photo.
    """
    new = np.asarray(new, dtype=np.float32)
    old = np.asarray(old, dtype=np.float32)
    if not (new.shape == old.shape == np.shape(old_trimap) == np.shape(new_trimap)):
        raise AFMattingError(f"keep_outside_edits needs one size; got {new.shape}, {old.shape}, "
                             f"{np.shape(old_trimap)} and {np.shape(new_trimap)}.")
    changed = np.asarray(old_trimap) != np.asarray(new_trimap)
    out = old.copy()
    if not changed.any():
        return out
    from scipy import ndimage

    radius = reach * max(new.shape)
    pad = int(np.ceil(radius)) + 1
    rows, cols = np.nonzero(changed.any(axis=1))[0], np.nonzero(changed.any(axis=0))[0]
    box = (slice(max(0, rows[0] - pad), rows[-1] + 1 + pad), slice(max(0, cols[0] - pad), cols[-1] + 1 + pad))
    near = ndimage.distance_transform_edt(~changed[box]) <= radius
    out[box][near] = new[box][near]
    return out


def _bounded(side: int | None, max_side: int | None) -> int | None:
    """A network's long side: ``side`` (None: full size) never above ``max_side`` (None: no bound)."""
    if max_side is None:
        return side
    return max_side if side is None else min(side, max_side)
