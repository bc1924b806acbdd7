"""Prompted matting on alphamatting.com photos: the MobileSAM mask alone and after the second stage.

Two sets of prompts, both scored on the whole image: SAD = sum |alpha - gt| / 1000
(:func:`afmatting.metrics.compute_metrics`), for the segmenter's mask (binarised at 0.5, as SAM's masks are) and for
``predict(..., clicks=, box=)``'s matte (mask -> automatic trimap -> trimap model -> refinement).

- ``cases``: prompts a user would give, by hand (a box around both dolls of GT04, one click in GT13's foliage, ...);
- ``set``: every one of the 27 photos twice, with prompts made from the GT alpha by a fixed rule, so that a change
  is judged on all of them rather than on GT04 alone: a box (the bounding box of ``alpha > 0.02`` plus
  :data:`BOX_MARGIN` pixels, clipped to the image) and one click (the subject pixel, ``alpha >= 0.99``, farthest
  from the subject's outline and from the image border). Means and medians per prompt kind.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/prompted.py            # both
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/prompted.py --only cases
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA = PROJECT_ROOT.parent / "shared" / "data" / "alphamatting"

#: photo -> the prompt (image pixels)
CASES = {
    "GT04": dict(box=(120, 0, 740, 562)),  # both dolls, hair included
    "GT13": dict(clicks=[(480, 200, 1)]),  # one click in the foliage
    "GT13+pot": dict(clicks=[(480, 200, 1), (530, 520, 1)]),  # and one on the pot
}
#: pixels added on every side of the GT alpha's bounding box (the ``set`` boxes)
BOX_MARGIN = 5


def box_from_alpha(gt: np.ndarray, margin: int = BOX_MARGIN) -> tuple[float, float, float, float]:
    """float (H, W) GT alpha in [0, 1] -> (x0, y0, x1, y1): the bounding box of alpha > 0.02, grown by ``margin``
    pixels and clipped to the image."""
    ys, xs = np.nonzero(gt > 0.02)
    if ys.size == 0:
        raise ValueError("the alpha has no subject pixels to box")
    h, w = gt.shape
    return (float(max(0, xs.min() - margin)), float(max(0, ys.min() - margin)),
            float(min(w, xs.max() + 1 + margin)), float(min(h, ys.max() + 1 + margin)))


def click_from_alpha(gt: np.ndarray) -> tuple[float, float, int]:
    """float (H, W) GT alpha in [0, 1] -> (x, y, 1): the opaque pixel (alpha >= 0.99) farthest from the subject's
    outline and from the image border (a click in the middle of the subject)."""
    opaque = np.pad(gt >= 0.99, 1)  # the border counts as an outline
    if not opaque.any():
        raise ValueError("the alpha has no opaque pixels to click")
    distance = ndimage.distance_transform_edt(opaque)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(distance)), distance.shape)
    return float(x), float(y), 1


def set_prompts(names, data: Path) -> dict:
    """{"GTxx/box": (photo, prompt), "GTxx/click": (photo, prompt)} for the photos ``names``."""
    from afmatting.io import load_matte

    out = {}
    for name in names:
        gt = load_matte(data / "alpha" / f"{name}.png")
        out[f"{name}/box"] = (name, dict(box=box_from_alpha(gt)))
        out[f"{name}/click"] = (name, dict(clicks=[click_from_alpha(gt)]))
    return out


def score(cases: dict, data: Path, trimap_model, segmenter, quiet: bool = False) -> dict:
    """{case: (photo, prompt)} -> {case: {"mask": SAD, "matte": SAD, "seconds": s}}, printing a row per case."""
    from afmatting.io import load_image, load_matte
    from afmatting.metrics import compute_metrics
    from afmatting.prompted import prompted_predict

    rows = {}
    for case, (name, prompt) in cases.items():
        image = load_image(data / "image" / f"{name}.png")
        gt = load_matte(data / "alpha" / f"{name}.png")
        start = time.perf_counter()
        result = prompted_predict(image, trimap_model=trimap_model, segmenter=segmenter, **prompt)
        seconds = time.perf_counter() - start
        mask = (result.extra["prompt_mask"] > 0.5).astype(np.float32)
        rows[case] = dict(mask=compute_metrics(mask, gt)["SAD"], matte=compute_metrics(result.alpha, gt)["SAD"],
                          seconds=seconds)
        if not quiet:
            shown = {k: (tuple(round(v) for v in val) if k == "box" else
                         [tuple(round(v) for v in c) for c in val]) for k, val in prompt.items()}
            print(f"{case:11s} {str(shown):40s} {rows[case]['mask']:9.1f} {rows[case]['matte']:9.1f} "
                  f"{seconds:8.1f}", flush=True)
    return rows


def summarise(rows: dict) -> dict:
    """{case: row} of the ``set`` -> {"box" / "click": {"mask"/"matte": {"mean", "median"}, "count"}}."""
    out = {}
    for kind in ("box", "click"):
        picked = [row for case, row in rows.items() if case.endswith("/" + kind)]
        if picked:
            out[kind] = dict(count=len(picked), **{
                what: dict(mean=float(np.mean([r[what] for r in picked])),
                           median=float(np.median([r[what] for r in picked]))) for what in ("mask", "matte")})
    return out


def main(argv=None) -> int:
    sys.path.insert(0, str(PROJECT_ROOT))
    from afmatting.loading import load_model
    from afmatting.prompt_segment import bundled_prompt_segmenter

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--only", choices=("cases", "set"), help="run one of the two sets (default: both)")
    p.add_argument("--cases", nargs="*", default=list(CASES), help="which hand-prompted cases")
    p.add_argument("--photos", nargs="*", help="the set's photos (default: all GT*.png)")
    p.add_argument("--json", type=Path, help="also write every row and the set's summary here")
    args = p.parse_args(argv)
    if not (args.data / "image").is_dir():
        print(f"no alphamatting photos at {args.data}", file=sys.stderr)
        return 1
    trimap_model = load_model("afmatting/lite0-trimap")
    segmenter = bundled_prompt_segmenter()
    header = f"{'case':11s} {'prompt':40s} {'mask SAD':>9s} {'matte SAD':>9s} {'seconds':>8s}"
    report = {}
    if args.only in (None, "cases"):
        print(header)
        report["cases"] = score({c: (c.split("+")[0], CASES[c]) for c in args.cases}, args.data, trimap_model,
                                segmenter)
    if args.only in (None, "set"):
        names = args.photos or sorted(p.stem for p in (args.data / "image").glob("GT*.png"))
        print("\n27-photo set: box from the GT alpha's bounding box, one click at the deepest subject pixel")
        print(header)
        report["set"] = score(set_prompts(names, args.data), args.data, trimap_model, segmenter)
        report["set_summary"] = summarise(report["set"])
        for kind, s in report["set_summary"].items():
            print(f"{kind:5s} x{s['count']}: mask SAD mean {s['mask']['mean']:6.2f} median {s['mask']['median']:6.2f}"
                  f" | matte SAD mean {s['matte']['mean']:6.2f} median {s['matte']['median']:6.2f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
