"""Prompted matting on alphamatting.com photos: the MobileSAM mask alone and after the second stage.

Each case is a photo of ``../shared/data/alphamatting`` with a prompt a user would give (a box around both dolls of
GT04, one click in GT13's foliage, ...). Scored on the whole image: SAD = sum |alpha - gt| / 1000
(:func:`afmatting.metrics.compute_metrics`), for the segmenter's mask (binarised at 0.5, as SAM's masks are) and for
``predict(..., clicks=, box=)``'s matte (mask -> automatic trimap -> trimap model -> refinement).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/prompted.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA = PROJECT_ROOT.parent / "shared" / "data" / "alphamatting"

#: photo -> the prompt (image pixels)
CASES = {
    "GT04": dict(box=(120, 0, 740, 562)),  # both dolls, hair included
    "GT13": dict(clicks=[(480, 200, 1)]),  # one click in the foliage
    "GT13+pot": dict(clicks=[(480, 200, 1), (530, 520, 1)]),  # and one on the pot
}


def main(argv=None) -> int:
    sys.path.insert(0, str(PROJECT_ROOT))
    from afmatting.io import load_image, load_matte
    from afmatting.loading import load_model
    from afmatting.metrics import compute_metrics
    from afmatting.prompt_segment import bundled_prompt_segmenter
    from afmatting.prompted import prompted_predict

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--cases", nargs="*", default=list(CASES))
    args = p.parse_args(argv)
    trimap_model = load_model("afmatting/lite0-trimap")
    segmenter = bundled_prompt_segmenter()
    print(f"{'case':10s} {'prompt':40s} {'mask SAD':>9s} {'matte SAD':>9s} {'seconds':>8s}")
    for case in args.cases:
        name = case.split("+")[0]
        prompt = CASES[case]
        image = load_image(args.data / "image" / f"{name}.png")
        gt = load_matte(args.data / "alpha" / f"{name}.png")
        start = time.perf_counter()
        result = prompted_predict(image, trimap_model=trimap_model, segmenter=segmenter, **prompt)
        seconds = time.perf_counter() - start
        mask = (result.extra["prompt_mask"] > 0.5).astype(np.float32)
        mask_sad = compute_metrics(mask, gt)["SAD"]
        matte_sad = compute_metrics(result.alpha, gt)["SAD"]
        print(f"{case:10s} {str(prompt):40s} {mask_sad:9.1f} {matte_sad:9.1f} {seconds:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
