"""Refinement side by side with closed-form matting on the alphamatting.com training set, in one run.

Every row runs on the same image one after the other (so a busy machine slows all rows alike), and each row's time is
also reported as a ratio to closed-form matting's on the same images. Scores: DIM metrics in the trimap's unknown
region (SAD, MSE x1e3, Grad, Conn).

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 .venv/bin/python benchmarks/refinement.py --json docs/results_refinement.json

Rows:
* ``closed-form``: pymatting's ``estimate_alpha_cf`` (benchmark-only dependency), the classical anchor;
* ``network``: the bundled trimap model alone (``predict(..., refine=False)``);
* ``default``: ``predict(...)``, i.e. the network + the band solver (:mod:`afmatting.refine`); time includes the
  network;
* ``laplacian, flat prior``: the band solver with a flat 0.5 matte instead of the network's (what the network adds);
* ``+ DDC`` (``--ddc``, first ``--ddc-limit`` images): the default solver with the DDC term added (what DDC adds);
* ``adam 100`` / ``band DDC`` (``--adam-limit`` images): today's-before gradient refinement (``benchmarks/baselines/refine_adam.py``, 100 steps)
  against the band solver of the same known + DDC objective (IRLS, pull to the network's matte, no Laplacian).
``--sweep`` re-solves with other prior weights λ (Trimap1, network predictions reused).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's afmatting and benchmarks

from afmatting import AFMatting  # noqa: E402
from afmatting.data import folder_examples, read_alpha_value, read_image_value, read_trimap_value  # noqa: E402
from afmatting.metrics import compute_metrics, mean_metrics  # noqa: E402
from afmatting.refine import RefineSettings, refine_alpha  # noqa: E402
from benchmarks.baselines.refine_adam import refine_alpha_adam  # noqa: E402
from benchmarks.baselines.refine_ddc import refine_alpha_ddc  # noqa: E402
from benchmarks.common import SHARED_DATA, classical_matte  # noqa: E402

KEYS = ("SAD", "MSE", "Grad", "Conn")
#: β of the ``+ DDC`` row (sums over pairs; the Laplacian's scale) and of the ``band DDC`` row
DDC_WEIGHT = 1e-4
BAND_DDC = dict(settings=RefineSettings(laplacian_weight=0.0, prior_weight=1e-4), ddc_weight=1e-2)


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def run(root, trimaps, limit, ddc, ddc_limit, adam_limit, sweep):
    model = AFMatting.from_pretrained("afmatting/lite0-trimap")
    cf = classical_matte("cf")
    rows = {}  # (trimap, row) -> list of per-image dicts

    def add(trimap_name, row, name, alpha, gt, trimap, seconds, cf_seconds):
        scores = compute_metrics(np.clip(alpha, 0, 1), gt, trimap)
        rows.setdefault((trimap_name, row), []).append(
            {"name": name, **{k: scores[k] for k in KEYS}, "time_s": seconds, "time_ratio": seconds / cf_seconds})

    for trimap_name in trimaps:
        for index, ex in enumerate(folder_examples(root, trimap_dir=trimap_name, limit=limit)):
            image, trimap = read_image_value(ex["image"]), read_trimap_value(ex["trimap"])
            gt = read_alpha_value(ex["alpha"])
            name = ex["name"]
            alpha, t_cf = timed(cf, image, trimap)
            add(trimap_name, "closed-form", name, alpha, gt, trimap, t_cf, t_cf)
            net, t_net = timed(model.predict, image, trimap=trimap, refine=False)
            add(trimap_name, "network", name, net.alpha, gt, trimap, t_net, t_cf)
            result, t_default = timed(model.predict, image, trimap=trimap)
            add(trimap_name, "default (network + band solver)", name, result.alpha, gt, trimap, t_default, t_cf)
            flat = np.full(trimap.shape, 0.5, np.float32)
            alpha, t = timed(refine_alpha, image, trimap, flat)
            add(trimap_name, "laplacian, flat prior (no network)", name, alpha, gt, trimap, t, t_cf)
            if ddc and index < ddc_limit:
                alpha, t = timed(refine_alpha_ddc, image, trimap, net.alpha, ddc_weight=DDC_WEIGHT)
                add(trimap_name, f"default + DDC (β={DDC_WEIGHT:g}), first {ddc_limit}", name, alpha, gt, trimap,
                    t + t_net, t_cf)
                add(trimap_name, f"default, first {ddc_limit}", name, result.alpha, gt, trimap, t_default, t_cf)
            if index < adam_limit:
                alpha, t = timed(refine_alpha_adam, image, trimap, net.alpha, 100)
                add(trimap_name, f"adam 100 steps/level, first {adam_limit}", name, alpha, gt, trimap, t + t_net,
                    t_cf)
                alpha, t = timed(refine_alpha_ddc, image, trimap, net.alpha, **BAND_DDC)
                add(trimap_name, f"band DDC solver, first {adam_limit}", name, alpha, gt, trimap, t + t_net, t_cf)
                add(trimap_name, f"network, first {adam_limit}", name, net.alpha, gt, trimap, t_net, t_cf)
            if sweep and trimap_name == trimaps[0]:
                for lam in sweep:
                    alpha, t = timed(refine_alpha, image, trimap, net.alpha, RefineSettings(prior_weight=lam))
                    add(trimap_name, f"sweep λ={lam:g}", name, alpha, gt, trimap, t + t_net, t_cf)
            print(f"{trimap_name} {name}: cf {t_cf:.2f}s, default {t_default:.2f}s", file=sys.stderr, flush=True)
    return rows


def summarise(rows):
    out = {}
    for (trimap_name, row), items in rows.items():
        means = mean_metrics(items, KEYS + ("time_s", "time_ratio"))
        # the time ratio of a row: its total time over closed-form's total on the same images
        cf_total = sum(r["time_s"] / r["time_ratio"] for r in items)
        means["time_ratio"] = sum(r["time_s"] for r in items) / cf_total
        means["count"] = len(items)
        out.setdefault(row, {})[trimap_name] = means
    return out


def markdown(summary, trimaps):
    head = "| row | " + " | ".join(f"{t} {k}" for t in trimaps for k in KEYS) + " | s/img | time vs closed-form |"
    lines = [head, "|---" * (2 + len(trimaps) * len(KEYS) + 1) + "|"]
    for row, by_trimap in summary.items():
        cells = []
        for t in trimaps:
            m = by_trimap.get(t)
            cells += [f"{m[k]:.2f}" if m else "" for k in KEYS]
        first = next(iter(by_trimap.values()))
        lines.append(f"| {row} | " + " | ".join(cells) + f" | {first['time_s']:.2f} | {first['time_ratio']:.2f}x |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=str(SHARED_DATA / "alphamatting"))
    p.add_argument("--trimaps", nargs="+", default=["trimap1", "trimap2"])
    p.add_argument("--limit", type=int, default=None, help="only the first N images")
    p.add_argument("--ddc", action="store_true", help="also the default + DDC row")
    p.add_argument("--ddc-limit", type=int, default=9)
    p.add_argument("--adam-limit", type=int, default=3, help="images for the Adam vs band-DDC rows (0: none)")
    p.add_argument("--sweep", default="", help="comma-separated prior weights λ to re-solve with (first trimap)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    if not Path(args.root).is_dir():
        print(f"error: '{args.root}' is not a folder (the alphamatting set, see ../shared/README.md)", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(args.threads)
    sweep = [float(x) for x in args.sweep.split(",") if x]
    rows = run(args.root, args.trimaps, args.limit, args.ddc, args.ddc_limit, args.adam_limit, sweep)
    summary = summarise(rows)
    table = markdown(summary, args.trimaps)
    print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"command": "python benchmarks/refinement.py " + " ".join(argv if argv is not None else sys.argv[1:]),
             "summary": summary, "rows": {f"{t}|{r}": v for (t, r), v in rows.items()}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
