"""Trimap-free matting across every visible set, whole image: the default path, the network alone, the anchors.

Sets (:mod:`matting_sets`): the 27 alphamatting photos (real ground truth), the AM-2K and P3M samples (pseudo-alphas:
agreement, labelled so), and five sets made from the alphamatting photos (close-up crops at 320 px, composites at
1920 px, hard-edged subjects in busy scenes, on a studio backdrop and small in subject-free scenes). Rows, all in one
process and one run:

* ``default``: ``predict``'s trimap-free default of the bundled model (:mod:`afmatting.two_stage`: our network,
  MODNet and U²-Net-p fused, automatic trimap, trimap model, refinement);
* ``network only``: the bundled trimap-free network alone (``two_stage=False``, ``--no-refine``);
* the anchors through onnxruntime: MODNet, U²-Net-p, U²-Net, ISNet (:mod:`anchors`; fetch them first with
  ``python -m benchmarks.fetch_anchors``; an absent one is left out).

Every runtime of every row runs on the same number of threads: torch's (``OMP_NUM_THREADS``), which the ONNX
networks follow too (:func:`afmatting.saliency.onnx_threads`), so the time ratios compare like with like.
The rows take each photo in turn (so a shared machine's drifting load reaches them all alike). Every row is
scored on the whole image with :func:`afmatting.metrics.compute_metrics` (SAD, MSE, Grad, Conn), mean
and median per set, with seconds per image and per megapixel; ``--csv`` writes one line per image and row.

    OMP_NUM_THREADS=1 python benchmarks/trimap_free.py --json docs/results_trimap_free.json --csv scores.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))  # this checkout's afmatting and benchmarks

from afmatting.data import read_alpha  # noqa: E402
from afmatting.errors import DatasetError  # noqa: E402
from afmatting.io import load_image  # noqa: E402
from afmatting.metrics import compute_metrics, mean_metrics  # noqa: E402

DEFAULT_ROOT = PROJECT_ROOT.parent / "shared" / "data" / "alphamatting"
TABLE_METRICS = ("SAD", "MSE", "Grad", "Conn")
#: the pixel count the per-image time is normalised to (the issue's target: 3 s per 0.5 MP image)
REFERENCE_PIXELS = 500_000


def load_photos(root=DEFAULT_ROOT, limit: int | None = None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``[(name, image float32 (H, W, 3) in [0, 1], ground truth uint8 (H, W)), ...]`` sorted by name."""
    root = Path(root)
    image_dir, alpha_dir = root / "image", root / "alpha"
    for folder in (image_dir, alpha_dir):
        if not folder.is_dir():
            raise DatasetError(f"'{folder}' is not a folder; expected the alphamatting layout image/, alpha/.")
    paths = sorted(p for p in image_dir.iterdir() if p.suffix.lower() == ".png")[:limit]
    if not paths:
        raise DatasetError(f"'{image_dir}' holds no PNG images.")
    out = []
    for path in paths:
        alpha_path = alpha_dir / path.name
        if not alpha_path.is_file():
            raise DatasetError(f"'{alpha_path}' is missing: every image needs an alpha of the same name.")
        out.append((path.stem, load_image(path), read_alpha(str(alpha_path))))
    return out


def score_image(matte_fn, image: np.ndarray, gt: np.ndarray, name: str) -> dict:
    """Run ``matte_fn(image) -> alpha`` on one photo: its whole-image metrics and time. ``matte_fn`` may return a
    :class:`~afmatting.result.MattingResult` instead: its alpha is scored and its steps' seconds (``extra``'s
    ``*_seconds``) are kept."""
    start = time.perf_counter()
    out = matte_fn(image)
    elapsed = time.perf_counter() - start
    steps = {k: float(v) for k, v in getattr(out, "extra", {}).items() if k.endswith("_seconds")}
    pred = np.asarray(getattr(out, "alpha", out), dtype=np.float32)
    scores = compute_metrics(np.clip(pred, 0.0, 1.0), gt)
    per_ref = elapsed * REFERENCE_PIXELS / (gt.shape[0] * gt.shape[1])
    return {"name": name, **scores, "time_s": elapsed, "time_s_per_0.5MP": per_ref, **steps}


#: the default path's steps, as :func:`afmatting.two_stage.two_stage_predict` times them
STEPS = ("first_stage_seconds", "trimap_seconds", "trimap_model_seconds", "refine_seconds")


def summarise(rows: list[dict]) -> dict:
    """Per-image rows of one method -> their means (and the count); the steps' seconds are averaged over every
    image (0 where a step did not run: the guard's answer skips the second stage)."""
    means = mean_metrics(rows, tuple(TABLE_METRICS) + ("MAD", "time_s", "time_s_per_0.5MP"))
    means["count"] = len(rows)
    for step in STEPS:
        if any(step in r for r in rows):
            means[step] = float(np.mean([r.get(step, 0.0) for r in rows]))
    return means


def step_ratios(results: dict, row: str = "default", baseline: str = "MODNet") -> str:
    """One line per set: each step of ``row`` (seconds per image) as a multiple of ``baseline``'s time on the same
    photos, from one run (what the time target compares)."""
    lines = ["| set | " + " | ".join(s.removesuffix("_seconds").replace("_", " ") for s in STEPS)
             + f" | whole {row} |", "|---|" + "---:|" * (len(STEPS) + 1)]
    for set_name, table in results.items():
        if row not in table or baseline not in table:
            continue
        base = table[baseline]["time_s"]
        cells = [f"{table[row].get(s, 0.0) / base:.2f}x" for s in STEPS] + [f"{table[row]['time_s'] / base:.2f}x"]
        lines.append(f"| {set_name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def score_rows(matte_fn, photos, label: str, quiet: bool = True) -> tuple[dict, list[dict]]:
    """Run ``matte_fn(image) -> alpha`` on every photo; whole-image metrics and times, means and per-image rows."""
    rows = [score_image(matte_fn, image, gt, name) for name, image, gt in photos]
    if not quiet:
        for r in rows:
            print(f"  {label} {r['name']}: SAD {r['SAD']:.2f} ({r['time_s']:.2f} s)", file=sys.stderr, flush=True)
    return summarise(rows), rows


def score_interleaved(fns: dict, photos, quiet: bool = True) -> dict:
    """Every method on each photo in turn (``{label: image -> alpha}``) -> ``{label: per-image rows}``: on a shared
    machine the load drifts, and taking the methods photo by photo exposes them all to the same drift, so their
    time ratios stay fair."""
    rows = {label: [] for label in fns}
    for name, image, gt in photos:
        for label, fn in fns.items():
            r = score_image(fn, image, gt, name)
            rows[label].append(r)
            if not quiet:
                print(f"  {label} {name}: SAD {r['SAD']:.2f} ({r['time_s']:.2f} s)", file=sys.stderr, flush=True)
    return rows


def build_rows(anchor_names=None) -> dict:
    """``{row label: image -> alpha}`` for the rows named in the module doc."""
    from afmatting import load_matter
    from benchmarks.anchors import load_anchors

    matter = load_matter("afmatting/lite0-trimap-free")
    rows = {"default": lambda image: matter.predict(image),  # its steps' seconds are kept (score_image)
            "network only": lambda image: matter.predict(image, two_stage=False).alpha}
    rows.update(load_anchors(*([anchor_names] if anchor_names else [])))
    return rows


def markdown_table(results: dict) -> str:
    """One line per row: SAD, MSE, Grad, Conn, median SAD, seconds per image and per megapixel."""
    lines = ["| method | " + " | ".join(TABLE_METRICS) + " | median SAD | s / image | s / MP |",
             "|---|" + "---:|" * (len(TABLE_METRICS) + 3)]
    for label, m in results.items():
        cells = [f"{m[k]:.2f}" for k in TABLE_METRICS] + [
            f"{m['median_SAD']:.2f}" if "median_SAD" in m else "-", f"{m['time_s']:.2f}",
            f"{m['s_per_MP']:.2f}" if "s_per_MP" in m else f"{m['time_s_per_0.5MP'] * 2:.2f}"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def median_sad(rows: list[dict]) -> float:
    return float(np.median([r["SAD"] for r in rows]))


def _warm_up(rows: dict) -> None:
    """One untimed call of every row on a small image, so model loading and numba compiling are not timed."""
    rng = np.random.default_rng(0)
    image = rng.random((48, 64, 3)).astype(np.float32)
    for fn in rows.values():
        fn(image)


def main(argv=None) -> int:
    from benchmarks.matting_sets import SET_NAMES, load_sets

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", default=str(DEFAULT_ROOT.parent), help="the shared data folder")
    parser.add_argument("--sets", default=",".join(SET_NAMES), help="comma-separated sets")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images of each set")
    parser.add_argument("--rows", default=None, help="';'-separated row labels to run (default all)")
    parser.add_argument("--json", default=None, help="write means, medians and per-image rows here")
    parser.add_argument("--csv", default=None, help="write one line per image and row here")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    import torch

    sets = load_sets(args.sets.split(","), args.shared, args.limit)
    rows = build_rows()
    threads = torch.get_num_threads()
    print(f"every row on {threads} thread(s) (torch and onnxruntime alike)", file=sys.stderr, flush=True)
    if args.rows:
        wanted = [r.strip() for r in args.rows.split(";")]
        rows = {k: v for k, v in rows.items() if k in wanted}
    _warm_up(rows)
    results, per_image = {}, {}
    for set_name, photos in sets.items():
        for label, image_rows in score_interleaved(rows, photos, quiet=args.quiet).items():
            means = summarise(image_rows)
            pixels = sum(gt.size for _, _, gt in photos)
            means["median_SAD"] = median_sad(image_rows)
            means["s_per_MP"] = sum(r["time_s"] for r in image_rows) / (pixels / 1e6)
            results.setdefault(set_name, {})[label] = means
            per_image.setdefault(set_name, {})[label] = image_rows
            print(f"{set_name} / {label}: SAD {means['SAD']:.2f} (median {means['median_SAD']:.2f}), "
                  f"{means['s_per_MP']:.2f} s/MP", file=sys.stderr, flush=True)
    for set_name, table in results.items():
        print(f"\n### {set_name} ({len(sets[set_name])} images)\n")
        print(markdown_table(table))
    print("\n### the default path's steps, per image, as a multiple of MODNet's time\n")
    print(step_ratios(results))
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["set", "row", "image"] + list(TABLE_METRICS) + ["time_s"])
            for set_name, by_row in per_image.items():
                for label, image_rows in by_row.items():
                    for r in image_rows:
                        writer.writerow([set_name, label, r["name"]] + [f"{r[k]:.4f}" for k in TABLE_METRICS]
                                        + [f"{r['time_s']:.3f}"])
    if args.json:
        info = {"machine": platform.platform(), "cpus": os.cpu_count(),
                "load": " / ".join(f"{v:.1f}" for v in os.getloadavg()), "threads": threads,
                "images": {k: len(v) for k, v in sets.items()}}
        command = "OMP_NUM_THREADS=1 python benchmarks/trimap_free.py " + " ".join(
            sys.argv[1:] if argv is None else argv)
        # the notes (what was tuned on which set, what was tried) are written by hand and kept across reruns
        previous = json.loads(Path(args.json).read_text()) if Path(args.json).exists() else {}
        Path(args.json).write_text(json.dumps({"info": info, "command": command, "notes": previous.get("notes", []),
                                               "means": results, "rows": per_image}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
