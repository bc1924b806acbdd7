"""The first stage's fusion: several rough subject mattes of one image -> one prior matte and its confidence.

The two-stage path asks three networks where the subject is: our trimap-free network, MODNet (portrait matting,
:mod:`afmatting.modnet`) and U²-Net-p (salient objects, :mod:`afmatting.saliency`). Each fails on its own kind of
photo: ours on small subjects in busy scenes, MODNet on objects that are not people, U²-Net-p on close-ups, where it
still outlines "a salient object". They rarely fail on the same pixels, so the per-pixel **median** of the three
keeps what at least two of them agree on (whole-image SAD on the alphamatting photos: median 27.0, mean 38.2, best
single network 30.8; the other sets are in docs/results.md). With two mattes the median is their mean; with one,
that matte. On a close-up the salient-object and portrait networks outline a fragment or nothing and the median
would erase the subject; :func:`others_missed_subject` tells that case apart (unless two of the others outline the
same small subject: then ours overshot), and the two-stage path then answers with our matte (close-up crops:
23.2 -> 16.1); :func:`colour_backed_miss` does too by looser bounds, where the photo's colours fit our matte at least
as well as the median (crops 15.1 -> 13.9).

Conventions: mattes float32 (H, W) in [0, 1], all of one size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .colour_fit import colour_fit_error
from .errors import AFMattingError
from .processing import network_size, to_uint8


def fuse_mattes(mattes) -> np.ndarray:
    """Per-pixel median of one or more mattes: a sequence of float (H, W) in [0, 1] -> float32 (H, W) in [0, 1]."""
    mattes = [np.asarray(m, dtype=np.float32) for m in mattes]
    if not mattes:
        raise AFMattingError("fuse_mattes needs at least one matte.")
    shape = mattes[0].shape
    for m in mattes:
        if m.ndim != 2 or m.shape != shape:
            raise AFMattingError(f"fuse_mattes needs (H, W) mattes of one size; got shapes {[x.shape for x in mattes]}.")
        if not np.isfinite(m).all():
            raise AFMattingError("fuse_mattes got a matte with NaN or infinite values.")
    if len(mattes) == 1:
        return np.clip(mattes[0], 0.0, 1.0)
    if len(mattes) == 3:
        # median of three without stacking them (a 24 MP photo's stack and sort would cost ~0.6 GB)
        a, b, c = mattes
        low, high = np.minimum(a, b), np.maximum(a, b)
        np.minimum(high, c, out=high)
        np.maximum(low, high, out=low)
        del high
        return np.clip(low, 0.0, 1.0, out=low)
    return np.clip(np.median(np.stack(mattes), axis=0), 0.0, 1.0).astype(np.float32)


#: first-stage mattes whose range (max - min) at a pixel exceeds this disagree there (one says subject, another not)
DISAGREEMENT = 0.7


def first_stage_disputed(mattes, threshold: float = DISAGREEMENT) -> np.ndarray:
    """bool (H, W): where the first-stage mattes (float (H, W) in [0, 1], one size) disagree, their range above
    ``threshold``. One matte: nowhere."""
    mattes = [np.asarray(m, dtype=np.float32) for m in mattes]
    if len(mattes) < 2:
        return np.zeros(mattes[0].shape, dtype=bool)
    low, high = mattes[0].copy(), mattes[0].copy()
    for m in mattes[1:]:
        np.minimum(low, m, out=low)
        np.maximum(high, m, out=high)
    high -= low
    del low
    return high > threshold


#: the other first-stage networks "missed the subject" when the largest area any of them covers is below this
#: fraction of the area our matting network covers; chosen on the crops set (close-ups, where MODNet and U²-Net-p
#: outline a fragment or nothing), checked on the other sets, where it never fires (docs/results.md)
MISSED_SUBJECT_RATIO = 0.3
#: ... and below this fraction of the whole image: they found at most a fragment. A guard, not tuned (no visible
#: photo reaches it; where the rule fires on the crops the largest other area is 0.16): a subject that fills a
#: fifth of the frame or more, found by one of them, is never overruled by ours reaching further (a product on a
#: table ours half-takes, say)
MISSED_SUBJECT_MOST = 0.2


#: ... unless two of them agree with each other: the intersection over union of their masks (alpha > 0.5) at least
#: this. Where they miss a close-up's subject, each outlines its own fragment (on the crops where the rule fires:
#: at most 0.01); where they both find a small subject that ours overshoots (a product in a scene: the small set's
#: GT27-small, ours taking the scene around it, 0.98; a bulb on a wire over a rail yard, ours taking the ground,
#: 0.58), they outline the same one. A round value inside that gap, set from these IoUs: anywhere from 0.02 to 0.58
#: every visible photo scores the same (docs/results.md)
OTHERS_AGREE = 0.25


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two mattes' masks (alpha > 0.5): float (H, W) in [0, 1] each -> float in [0, 1]
    (0 when both masks are empty)."""
    a, b = np.asarray(a) > 0.5, np.asarray(b) > 0.5
    union = int(np.count_nonzero(a | b))
    return int(np.count_nonzero(a & b)) / union if union else 0.0


def others_missed_subject(ours: np.ndarray, others, ratio: float = MISSED_SUBJECT_RATIO,
                          most: float = MISSED_SUBJECT_MOST, agree: float = OTHERS_AGREE) -> bool:
    """Whether the other first-stage networks all found much less subject than ours, each a different fragment:
    the salient-object and portrait networks are trained on whole subjects in a scene, and on a close-up (fur, hair
    or a plant filling the frame) they outline a small fragment or nothing, while a matting network still mattes
    what it sees; a median with them would then erase most of the subject. When two of them outline the same small
    subject, they found one (a product in a scene that ours overshoots): that is not a miss.

    Args:
        ours: float (H, W) in [0, 1], our network's matte.
        others: a sequence of float (H, W) in [0, 1] mattes of the same image (empty: False).
        ratio: the threshold on ``max(mean(other)) / mean(ours)``, in (0, 1].
        most: the threshold on ``max(mean(other))`` itself, in (0, 1].
        agree: two others agree when their :func:`mask_iou` is at least this, in (0, 1].

    Returns:
        True when every other matte's mean (its subject's area, as a fraction of the image) is below both ``ratio``
        times the mean of ours and ``most``, and no two other mattes agree.
    """
    if not 0.0 < ratio <= 1.0 or not 0.0 < most <= 1.0 or not 0.0 < agree <= 1.0:
        raise AFMattingError(f"ratio, most and agree must be in (0, 1], got {ratio}, {most} and {agree}.")
    others = list(others)
    if not others:
        return False
    area = float(np.mean(ours, dtype=np.float64))
    largest = max(float(np.mean(m, dtype=np.float64)) for m in others)
    if not (area > 0 and largest < min(ratio * area, most)):
        return False
    return not any(mask_iou(a, b) >= agree for k, a in enumerate(others) for b in others[k + 1:])


#: a single first-stage matte replaces the median when its colour-fit error is below this fraction of the median's;
#: chosen on the composites set (0.6 -> 293, 0.7 and 0.8 -> 260, 1.0 -> 255 raw SAD; the strictest of the
#: plateau), held out: alphamatting, AM-2K, P3M and hard-edged, where it changes one photo (docs/results.md)
CHOICE_MARGIN = 0.7
#: ... and when it covers at least this fraction of the median's area: on close-ups a salient-object network's
#: fragment (a tenth of the subject) fits its few colours well; chosen on the crops set (0.3-0.7 alike)
CHOICE_MIN_AREA = 0.5
#: long side at which the colour fits are computed (a photo's colour histogram does not need more pixels)
CHOICE_SIDE = 256


def _downsized(plane: np.ndarray, side: int) -> np.ndarray:
    """float32 (H, W) or (H, W, 3) in [0, 1] -> the same, bilinear, long side at most ``side``."""
    # every k-th pixel first (a view), so a 24 MP photo is never copied whole, then a bilinear resize
    step = max(1, max(plane.shape[:2]) // (2 * side))
    plane = plane[::step, ::step]
    h, w = network_size(*plane.shape[:2], side)
    size = (w, h)
    if plane.ndim == 3:
        pil = Image.fromarray(to_uint8(plane))
        return np.asarray(pil.resize(size, Image.BILINEAR), np.float32) / 255.0
    small = Image.fromarray(np.asarray(plane, np.float32), mode="F").resize(size, Image.BILINEAR)
    return np.clip(np.asarray(small, np.float32), 0.0, 1.0)


@dataclass(frozen=True)
class ColourFits:
    """How well the photo's colours explain each first-stage matte and their median
    (:func:`afmatting.colour_fit.colour_fit_error`, lower is better), and each one's area (mean alpha), all computed
    on downsized copies."""

    errors: tuple[float, ...]
    areas: tuple[float, ...]
    median_error: float
    median_area: float


def colour_fits(image: np.ndarray, mattes, side: int = CHOICE_SIDE) -> ColourFits:
    """The :class:`ColourFits` of ``mattes`` (a sequence of float (H, W) in [0, 1], one or more) on ``image`` (float32
    (H, W, 3) RGB in [0, 1]), at long side ``side`` (about 0.01 s for three mattes)."""
    small_image = _downsized(np.asarray(image, np.float32), side)
    small = [_downsized(m, side) for m in mattes]
    median = fuse_mattes(small)
    return ColourFits(errors=tuple(colour_fit_error(small_image, m) for m in small),
                      areas=tuple(float(m.mean()) for m in small),
                      median_error=colour_fit_error(small_image, median), median_area=float(median.mean()))


#: looser bounds for a miss when the photo's colours back our matte (:func:`colour_backed_miss`): the others cover
#: under half of what ours covers and under a third of the photo. Chosen on the crops set, where one close-up sits
#: between the strict bounds above and the photos where ours is wrong: GT24-crop (the others found an ear and the
#: chin: 0.21 of the frame, 0.35 of ours; the median 42.2 whole-image SAD, ours 8.8), next to alphamatting GT26
#: (0.22 and 0.35 as well, but there ours is wrong and fits the colours worse than the median). Held out: every
#: other set, where nothing changes. Round values: from 0.36 to 0.57 (ratio) and above 0.22 (most) every visible
#: photo scores the same (docs/results.md)
COLOUR_BACKED_RATIO = 0.5
COLOUR_BACKED_MOST = 1 / 3


def colour_backed_miss(ours: np.ndarray, others, fits: ColourFits, ratio: float = COLOUR_BACKED_RATIO,
                       most: float = COLOUR_BACKED_MOST) -> bool:
    """Whether the other networks missed the subject by looser bounds, where the photo's colours back ours.

    :func:`others_missed_subject` with ``ratio`` and ``most`` (each other matte under half of our area and a third of
    the photo by default, no two of them outlining the same subject), and our matte's colour-fit error at most the
    median's (``fits.errors[0] <= fits.median_error``: the same test the grey-wash guard makes). A close-up whose
    other networks found a larger fragment (an ear and a chin) then keeps our matte; where ours took the wrong
    region, its colours fit worse than the median's and the vote stands.

    Args:
        ours: float (H, W) in [0, 1], our network's matte.
        others: a sequence of float (H, W) in [0, 1] mattes of the same image.
        fits: the :func:`colour_fits` of ``[ours, *others]``.
        ratio, most: the bounds of :func:`others_missed_subject`, in (0, 1].
    """
    return fits.errors[0] <= fits.median_error and others_missed_subject(ours, others, ratio=ratio, most=most)


def choose_first_stage(image: np.ndarray, mattes, margin: float = CHOICE_MARGIN,
                       min_area: float = CHOICE_MIN_AREA, side: int = CHOICE_SIDE,
                       fits: ColourFits | None = None) -> int | None:
    """Which first-stage matte to trust over the median, if any: the one whose colours explain it clearly better.

    The median keeps what two networks agree on; when two of them take the same wrong region (a composite's
    textured backdrop, a table under a product), it keeps it too. The one that got it right is then the one
    whose foreground and background differ in colour (:func:`afmatting.colour_fit.colour_fit_error`): composites
    356 -> 255 whole-image SAD, the other sets unchanged or better but the crops, 16.1 -> 16.3 (docs/results.md).

    Args:
        image: float32 (H, W, 3) RGB in [0, 1].
        mattes: a sequence of float (H, W) in [0, 1] mattes of the image (fewer than three: None).
        margin: a matte is chosen when its error is below ``margin`` times the median's, in (0, 1].
        min_area: ... and its area at least ``min_area`` times the median's, in [0, 1].
        side: long side of the downsized copies the errors are computed on.
        fits: the :func:`colour_fits` of ``mattes``, when already computed (``side`` is then unused).

    Returns:
        the index of the chosen matte in ``mattes``, or None for the median.
    """
    if not 0.0 < margin <= 1.0 or not 0.0 <= min_area <= 1.0:
        raise AFMattingError(f"margin must be in (0, 1] and min_area in [0, 1]; got {margin} and {min_area}.")
    mattes = list(mattes)
    if len(mattes) < 3:
        return None
    fits = colour_fits(image, mattes, side) if fits is None else fits
    errors = [e if a >= min_area * fits.median_area else np.inf for e, a in zip(fits.errors, fits.areas)]
    best = int(np.argmin(errors))
    return best if errors[best] < margin * fits.median_error else None


def prior_confidence(prior: np.ndarray) -> np.ndarray:
    """How sure a prior matte is, per pixel: float (H, W) in [0, 1] -> float32 ``|2 p - 1|`` (0 at 0.5, 1 at 0 or 1)."""
    return np.abs(2.0 * np.asarray(prior, dtype=np.float32) - 1.0)
