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
        max_side, refine, trimap_options: as in :func:`afmatting.two_stage.matte_from_prior`.
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
                              trimap_options=trimap_options)
    report("two_stage", 1.0)
    result.extra.update(prompt_mask=mask, segment_seconds=seconds)
    return result
