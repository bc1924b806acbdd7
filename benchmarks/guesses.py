"""What one click on another guess can reach: per photo, the automatic result of the default trimap-free path and the
second stage started from each first-stage network's matte (the app's "Start from one network's guess",
``afmatting matte --start-from``, :func:`afmatting.two_stage.matte_from_guess`), whole-image SAD.

Per set it prints the automatic mean, the mean of the best of the automatic result and the guesses per photo (what
a user who picks the right guess reaches), and how many photos that improves by more than 20 %.

    OMP_NUM_THREADS=1 python benchmarks/guesses.py [--sets alphamatting,hard-edged] [--json guesses.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))


def guess_scores(matter, image: np.ndarray, gt: np.ndarray) -> dict:
    """``{"automatic": SAD, <guess label>: SAD, ...}`` for one photo (float32 (H, W, 3) in [0, 1], GT uint8 (H, W))."""
    from afmatting.metrics import compute_metrics
    from afmatting.two_stage import matte_from_guess

    result = matter.predict(image, keep_guesses=True)
    scores = {"automatic": compute_metrics(result.alpha, gt)["SAD"]}
    for label, guess in result.extra["guesses"].items():
        alpha = matte_from_guess(image, guess, trimap_model=matter.trimap_model).alpha
        scores[label] = compute_metrics(alpha, gt)["SAD"]
    return scores


def summary(rows: list[dict]) -> dict:
    """Per-photo scores -> the automatic mean, the best-of mean, and the photos improved by more than 20 %."""
    automatic = np.array([r["automatic"] for r in rows])
    best = np.array([min(r.values()) for r in rows])
    return {"photos": len(rows), "automatic": float(automatic.mean()), "best_of_guesses": float(best.mean()),
            "improved_20pct": int((best < 0.8 * automatic).sum())}


def main(argv=None) -> int:
    from afmatting import load_matter
    from afmatting.bundled import DEFAULT_TRIMAP_FREE_MODEL
    from benchmarks.matting_sets import DEFAULT_SHARED, SET_NAMES, load_sets

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", default=str(DEFAULT_SHARED), help="the shared data folder")
    parser.add_argument("--sets", default=",".join(SET_NAMES), help="comma-separated sets")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images of each set")
    parser.add_argument("--json", default=None, help="write the per-photo scores and the summaries here")
    args = parser.parse_args(argv)

    matter = load_matter(DEFAULT_TRIMAP_FREE_MODEL)
    report = {}
    for name, photos in load_sets(args.sets.split(","), args.shared, args.limit).items():
        rows = [{"name": photo, **guess_scores(matter, image, gt)} for photo, image, gt in photos]
        report[name] = {"summary": summary([{k: v for k, v in r.items() if k != "name"} for r in rows]),
                        "rows": rows}
        s = report[name]["summary"]
        print(f"{name:13s} {s['photos']:3d} photos: automatic {s['automatic']:7.2f}, best of automatic and the "
              f"guesses {s['best_of_guesses']:7.2f}, {s['improved_20pct']} photos better by > 20 %", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
