"""Small-scale reproduction of the paper on this machine, and the bundled default weights.

Steps (each a sub-command; ``all`` runs them in order):

    python benchmarks/reproduce.py data      # real photos of ../shared -> runs/data/shared_samples (trimaps from
                                             # the pseudo-alphas by the paper's recipe; 3 + 3 images held out)
    python benchmarks/reproduce.py train ROW # one row of the table (see ROWS), with train/train.py
    python benchmarks/reproduce.py eval      # every trained row on alphamatting Trimap1/Trimap2 (real GT)
    python benchmarks/reproduce.py table     # docs/results.md
    python benchmarks/reproduce.py bundle    # copy the shipped rows into afmatting/weights as fp16

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
SHARED = Path(os.environ.get("AFMATTING_SHARED_DATA", ROOT.parent / "shared" / "data"))
RUNS = ROOT / "runs"
DATA = RUNS / "data" / "shared_samples"
CONFIG = ROOT / "train" / "configs" / "cpu_efficientnet.yaml"
HELD_OUT_PER_SET = 3

#: row name -> extra train.py arguments
ROWS = {
    "known": ["--loss", "known"],
    "known+dc": ["--loss", "known+dc"],
    "known+ddc": ["--loss", "known+ddc"],
    "known+scaled_ddc": ["--loss", "known+scaled_ddc"],
    "alpha": ["--loss", "alpha"],
    "trimap-free+ddc": ["--loss", "known+ddc", "--trimap_input", "false", "--val_region", "whole"],
}
#: bundled model name -> row
BUNDLE = {"lite0-trimap": "known+ddc", "lite0-trimap-free": "trimap-free+ddc"}


def row_dir(row: str) -> Path:
    return RUNS / "reproduce" / row.replace("+", "_")


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


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["data", "train", "eval", "table", "bundle"])
    ap.add_argument("row", nargs="?", choices=list(ROWS))
    ap.add_argument("extra", nargs=argparse.REMAINDER, help="more train.py arguments")
    args = ap.parse_args(argv)
    if args.step == "data":
        build_data()
    elif args.step == "train":
        train_row(args.row, args.extra)


if __name__ == "__main__":
    main()
