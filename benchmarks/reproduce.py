"""Small-scale reproduction of the paper on this machine, and the bundled default weights.

Steps (each a sub-command; ``all`` runs them in order):

    python benchmarks/reproduce.py data      # real photos of ../shared -> runs/data/shared_samples (trimaps from
                                             # the pseudo-alphas by the paper's recipe; 3 + 3 images held out)
    python benchmarks/reproduce.py train ROW # one row of the table (see ROWS), with train/train.py
    python benchmarks/reproduce.py eval      # every trained row on alphamatting Trimap1/Trimap2 (real GT)
    python benchmarks/reproduce.py table     # docs/results.md (benchmarks/report.py renders it from the JSON)
    python benchmarks/reproduce.py bundle    # copy the shipped rows into afmatting/weights as fp16 (+ cards)

Every row trains the same data, steps and seed with ``train/configs/cpu_efficientnet.yaml`` (EfficientNet-Lite0,
offline ImageNet weights); only the loss differs. The alpha-free rows never see an alpha: the training script drops
the column. The ``alpha`` row is the fine-label baseline, with the pseudo-alphas as its labels.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the library and benchmarks.* of this checkout, also when not installed
SHARED = Path(os.environ.get("AFMATTING_SHARED_DATA", ROOT.parent / "shared" / "data"))
RUNS = ROOT / "runs"
DATA = RUNS / "data" / "shared_samples"
CONFIG = ROOT / "train" / "configs" / "cpu_efficientnet.yaml"
HELD_OUT_PER_SET = 3

#: row name -> extra train.py arguments (the table rows, shared with reproduce_gpu.py as data)
ROWS = json.loads((ROOT / "benchmarks" / "rows.json").read_text())
#: continued rows: each "+more", "+more2", ... trains one more 600-step cosine cycle from the previous row's weights
CYCLE_SUFFIXES = ("+more", "+more2", "+more3", "+more4")
CONTINUED = {
    "known": 2, "known+dc": 3, "alpha": 5,  # equal-steps comparisons (known-only at 2 x 600: its gap is large)
    "known+ddc": 5, "trimap-free+ddc": 5,  # the shipped models
}


def row_dir(row: str) -> Path:
    return RUNS / "reproduce" / row.replace("+", "_")


def _add_continued_rows() -> None:
    for base, cycles in CONTINUED.items():
        previous = base
        for suffix in CYCLE_SUFFIXES[: cycles - 1]:
            row = base + suffix
            ROWS[row] = [*ROWS[base], "--init_from", str(row_dir(previous).relative_to(ROOT))]
            previous = row


_add_continued_rows()
#: bundled model name -> row: the cycle with the best score on the held-out validation photos (training's own
#: validation, agreement with pseudo-alphas), never chosen by the alphamatting test set
BUNDLE = {"lite0-trimap": "known+ddc+more4", "lite0-trimap-free": "trimap-free+ddc+more3"}
STEPS_PER_CYCLE = 600


def split_row(row: str) -> tuple[str, int]:
    """``"known+ddc+more2"`` -> ``("known+ddc", 3)``: the base row and how many 600-step cycles trained it."""
    base = row.split("+more")[0]
    suffix = row[len(base):]
    return base, (CYCLE_SUFFIXES.index(suffix) + 2 if suffix else 1)


def build_data() -> None:
    """am2k-samples + p3m-samples (image + alpha-pseudo) -> DatasetDict(train, validation), saved to DATA."""
    import datasets

    from afmatting.data import convert_folder, save_dataset

    parts = {"train": [], "validation": []}
    for folder in ("am2k-samples", "p3m-samples"):
        converted = convert_folder(SHARED / folder, "generic", image_dir="image", alpha_dir="alpha-pseudo",
                                   split_name="train", progress=False)["train"]
        converted = converted.sort("name")
        n = len(converted)
        parts["train"].append(converted.select(range(n - HELD_OUT_PER_SET)))
        parts["validation"].append(converted.select(range(n - HELD_OUT_PER_SET, n)))
    out = datasets.DatasetDict({k: datasets.concatenate_datasets(v) for k, v in parts.items()})
    save_dataset(out, DATA)
    print(f"saved {DATA}: " + ", ".join(f"{k} {len(v)}" for k, v in out.items()))
    print("held out:", out["validation"]["name"])


def train_row(row: str, extra: list[str]) -> None:
    cmd = [sys.executable, str(ROOT / "train" / "train.py"), "--config", str(CONFIG), "--dataset", str(DATA),
           "--output_dir", str(row_dir(row)), *ROWS[row], *extra]
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


RESULTS_JSON = ROOT / "docs" / "results.json"
CLASSICAL_JSON = ROOT / "docs" / "results_classical.json"
SOLVER_JSON = ROOT / "docs" / "results_ddc_solver.json"
GPU_JSON = ROOT / "docs" / "results_gpu.json"  # benchmarks/reproduce_gpu.py --eval
TRIMAP_FREE_JSON = ROOT / "docs" / "results_trimap_free.json"  # benchmarks/trimap_free.py --json
ADAPT_STEPS = 20
REFINE_STEPS = 200
#: trimap-input rows also scored with test-time adaptation / refinement (Trimap1 only: 20-40 s per image here)
ADAPT_ROWS = ("known+ddc+more", BUNDLE["lite0-trimap"])
REFINE_ROWS = (BUNDLE["lite0-trimap"],)
TEST_TIME = {"adapt": "test-time adaptation ({} steps/image)", "refine": "test-time refinement ({} steps per level)"}


def score_alphamatting(folder, trimaps=("trimap1", "trimap2"), **predict_kwargs) -> dict:
    """Means per trimap of a trained row on the alphamatting.com set (unknown region), through the library's loader
    and :func:`afmatting.evaluation.evaluate`; ``predict_kwargs`` go to ``predict``, except ``refine_steps``: the
    earlier Adam refinement (``benchmarks/baselines/refine_adam.py``) after the network."""
    from afmatting import AFMatting
    from afmatting.evaluation import evaluate_trimaps
    from benchmarks.alphamatting import AdamRefined

    refine_steps = predict_kwargs.pop("refine_steps", 0)
    model = AFMatting.from_pretrained(folder)
    if refine_steps:
        model = AdamRefined(model, refine_steps)
    return evaluate_trimaps(model, SHARED / "alphamatting", trimaps, progress=False, predict_kwargs=predict_kwargs)[0]


def eval_rows(rows: list[str], adapt_steps: int = ADAPT_STEPS, refine_steps: int = REFINE_STEPS) -> None:
    """Each trained row on alphamatting (Trimap1/2, unknown region); the DDC row also with test-time adaptation;
    the trimap-free row on the held-out photos (agreement with pseudo-alphas, whole image)."""
    from afmatting import AFMatting
    from afmatting.data import load_matting_dataset
    from afmatting.evaluation import evaluate

    results = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
    for row in rows:
        folder = row_dir(row)
        if not (folder / "model.safetensors").exists():
            print(f"skipping {row}: not trained ({folder})")
            continue
        if row.startswith("trimap-free"):
            # agreement with pseudo-alphas on held-out photos; it is not scored on alphamatting's trimaps
            held_out = load_matting_dataset(DATA, "validation")
            means, _ = evaluate(AFMatting.from_pretrained(folder), held_out, region="whole", progress=False)
            results[row] = {"held_out_whole": means}
        else:
            results[row] = score_alphamatting(folder)
            for kind, steps, chosen in (("adapt", adapt_steps, ADAPT_ROWS), ("refine", refine_steps, REFINE_ROWS)):
                if row in chosen and steps:
                    results[f"{row} + {kind} {steps}"] = score_alphamatting(folder, trimaps=("trimap1",),
                                                                            **{f"{kind}_steps": steps})
        merge_results({k: v for k, v in results.items() if k == row or k.startswith(f"{row} + ")})
        print(row, json.dumps(results[row]))


def merge_results(rows: dict) -> None:
    """Write ``rows`` into docs/results.json as the file is now: another eval may have written other rows meanwhile."""
    on_disk = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
    on_disk.update(rows)
    RESULTS_JSON.write_text(json.dumps(on_disk, indent=2))


def refine_sweep(step_counts: list[int]) -> None:
    """The shipped trimap model with test-time refinement at other step counts (Trimap1): the cost/quality trade-off
    behind the app's "Refinement steps" slider. Merged into docs/results.json as ``"<row> + refine N"``."""
    row = BUNDLE["lite0-trimap"]
    for steps in step_counts:
        scores = score_alphamatting(row_dir(row), trimaps=("trimap1",), refine_steps=steps)
        merge_results({f"{row} + refine {steps}": scores})
        print(f"{row} + refine {steps}", json.dumps(scores), flush=True)


def bundle() -> None:
    """Copy the shipped rows into afmatting/weights/<name>/ as fp16 safetensors; ``benchmarks/report.py cards``
    then writes their model cards from the measured JSON."""
    import torch

    from afmatting import AFMatting
    from afmatting.bundled import WEIGHTS_DIR

    for name, row in BUNDLE.items():
        model = AFMatting.from_pretrained(row_dir(row))
        target = WEIGHTS_DIR / name
        if target.exists():
            shutil.rmtree(target)
        model.to(torch.float16).save_pretrained(target)
        size = (target / "model.safetensors").stat().st_size / 2**20
        print(f"{name}: {size:.1f} MiB in {target}")


def report(*what: str) -> None:
    """Render from the measured JSON (``benchmarks/report.py``): ``results`` -> docs/results.md, ``cards`` -> the
    bundled models' cards."""
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "report.py"), *what], check=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["data", "train", "eval", "refine-sweep", "table", "bundle", "all"])
    ap.add_argument("row", nargs="?", help=f"train/eval: one of {list(ROWS)}; refine-sweep: steps per level, "
                                           "comma-separated (e.g. 50,100)")
    ap.add_argument("extra", nargs=argparse.REMAINDER, help="more train.py arguments")
    args = ap.parse_args(argv)
    if args.step in ("train", "eval") and args.row is not None and args.row not in ROWS:
        ap.error(f"unknown row '{args.row}'; rows: {', '.join(ROWS)}")
    if args.step == "data":
        build_data()
    elif args.step == "train":
        train_row(args.row, args.extra)
    elif args.step == "eval":
        eval_rows([args.row] if args.row else list(ROWS))
    elif args.step == "refine-sweep":
        refine_sweep([int(n) for n in (args.row or "50,100").split(",")])
    elif args.step == "table":
        report("results")
    elif args.step == "bundle":
        bundle()
        report("cards")
    elif args.step == "all":
        build_data()
        for row in ROWS:
            train_row(row, [])
        eval_rows(list(ROWS))
        bundle()
        report("results", "cards")


if __name__ == "__main__":
    main()
