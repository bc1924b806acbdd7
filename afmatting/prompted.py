"""Prompted matting: the user says which object is the subject (clicks, a box), the second stage does the edges.

1. the promptable segmenter (:mod:`afmatting.prompt_segment`, the bundled MobileSAM) turns the prompts into a mask
   of the subject;
2. that mask is the prior of the automatic path's second stage (:func:`afmatting.two_stage.matte_from_prior`): an
   automatic trimap around it, the trimap model, refinement.

``predict(model, image, clicks=[(x, y, 1), ...], box=(x0, y0, x1, y1))`` runs this; so do the CLI's ``--click`` /
``--box`` and the app's clicks on the photo.
"""

from __future__ import annotations

import time

from .processing import prepare_inputs
from .prompt_segment import bundled_prompt_segmenter
from .result import MattingResult
from .two_stage import matte_from_prior

#: half-width of the automatic trimap's wide unknown band (near soft structure) around a prompted mask, as a fraction
#: of the image's long side: three times the automatic path's (:data:`afmatting.auto_trimap.DEFAULT_BAND_FRACTION`).
#: MobileSAM covers hair and fur with a confident blob (logits inside GT04's hair as high as on the dolls' faces),
#: so its soft edge alone does not reach the strands; a wider band lets the trimap model decide there. Measured with
#: ``benchmarks/prompted.py`` (whole-image SAD; 27-photo set means box / one click): 0.02 -> GT04 25.7, GT13 80.5,
#: set 15.34 / 20.21; 0.04 -> 23.1, 77.9, 15.17 / 20.21; 0.06 -> 21.7, 78.1, 15.14 / 20.49.
PROMPTED_BAND_FRACTION = 0.06
#: the automatic trimap keeps the prompted mask's holes (``auto_trimap(keep_holes=True)``): MobileSAM's holes are
#: real (the gap between GT04's two dolls), while filling them suits a trimap-free network's matte, whose holes are
#: patches of the subject it missed. Measured with ``benchmarks/prompted.py``: GT04 box 21.8 -> 17.7, GT13 click
#: 78.2 -> 77.1, 27-photo set box 15.35 -> 14.47, one click 20.33 -> 20.36.
PROMPTED_KEEP_HOLES = True


def prompted_predict(image, *, clicks=None, box=None, trimap_model, max_side: int | None = None,
                     refine: bool = True, segmenter=None, trimap_options: dict | None = None,
                     on_progress=None) -> MattingResult:
    """Matte the subject the prompts point at.

    Args:
        image: anything :func:`afmatting.io.load_image` reads.
        clicks: ``[(x, y), (x, y, label), ...]`` in the image's pixels; label 1 (default) the subject, 0 not the
            subject.
        box: ``(x0, y0, x1, y1)`` around the subject, in the image's pixels.
        trimap_model: the trimap-input network of the second stage.
        max_side, refine: as in :func:`afmatting.two_stage.matte_from_prior`.
        trimap_options: keyword arguments for :func:`afmatting.auto_trimap.auto_trimap`, over the prompted path's
            defaults ``band_fraction=PROMPTED_BAND_FRACTION``, ``keep_holes=PROMPTED_KEEP_HOLES``.
        segmenter: ``segmenter(image, clicks=..., box=...) -> mask float32 (H, W) in [0, 1]``; default the bundled
            MobileSAM (:func:`afmatting.prompt_segment.bundled_prompt_segmenter`).
        on_progress: optional ``on_progress(stage, fraction)``: ``select`` (the segmenter) and then ``two_stage``
            (the second stage), each reporting 0 when it starts and 1 when it ends.

    Returns:
        a MattingResult with ``.alpha`` float32 (H, W) in [0, 1], ``.trimap`` the automatic trimap around the
        prompted mask, and in ``.extra`` the mask (``prompt_mask``) and seconds per step.
    """
    report = on_progress or (lambda stage, fraction: None)
    image, _ = prepare_inputs(image, None, trimap_input=False)
    segmenter = segmenter or bundled_prompt_segmenter()
    report("select", 0.0)
    start = time.perf_counter()
    mask = segmenter(image, clicks=clicks, box=box)
    seconds = time.perf_counter() - start
    report("select", 1.0)
    report("two_stage", 0.0)
    result = matte_from_prior(image, mask, trimap_model=trimap_model, max_side=max_side, refine=refine,
                              trimap_options={"band_fraction": PROMPTED_BAND_FRACTION,
                                              "keep_holes": PROMPTED_KEEP_HOLES, **(trimap_options or {})})
    report("two_stage", 1.0)
    result.extra.update(prompt_mask=mask, segment_seconds=seconds)
    return result
