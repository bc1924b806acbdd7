#!/usr/bin/env python
"""Convert AM-2K, P3M-10K or a generic image/alpha(/trimap) folder into a Hugging Face dataset.

Examples:
    python train/prepare_dataset.py --root AM-2K --out data/am2k                 # layout auto-detected
    python train/prepare_dataset.py --layout p3m --root P3M-10k --out data/p3m10k
    python train/prepare_dataset.py --layout generic --root ../shared/data/am2k-samples \\
        --alpha-dir alpha-pseudo --split-name validation --out data/am2k-samples
    python train/prepare_dataset.py --root AM-2K --push-to-hub user/am2k-trimaps

Columns: image, trimap (generated from the alpha with a fixed seed where the layout has none), alpha, name.
The output folder loads with ``afmatting.data.load_matting_dataset(OUT)`` (or ``datasets.load_from_disk``) and holds
a dataset card (README.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from afmatting.data import (  # noqa: E402
    DEFAULT_TRIMAP_SEED,
    LAYOUTS,
    convert_folder,
    dataset_card,
    dataset_summary,
    detect_layout,
    push_dataset,
    save_dataset,
)
from afmatting.errors import AFMattingError  # noqa: E402

TITLES = {"am2k": "AM-2K (with trimaps)", "p3m": "P3M-10K (with trimaps)", "generic": "Matting dataset"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, help="the dataset folder as downloaded")
    p.add_argument("--layout", choices=LAYOUTS, default="auto", help="folder layout (default: detect)")
    p.add_argument("--out", help="save_to_disk into this folder")
    p.add_argument("--push-to-hub", metavar="REPO_ID", help="push to this Hub dataset repo")
    p.add_argument("--private", action="store_true", help="make the Hub repo private")
    p.add_argument("--image-dir", default="image", help="generic layout: image folder name (default image)")
    p.add_argument("--alpha-dir", default="alpha", help="generic layout: alpha folder name (default alpha)")
    p.add_argument("--trimap-dir", default="trimap", help="generic layout: trimap folder name (default trimap)")
    p.add_argument("--split-name", default="train", help="generic layout without split folders: the split name")
    p.add_argument("--seed", type=int, default=DEFAULT_TRIMAP_SEED, help="base seed of generated trimaps")
    p.add_argument("--num-proc", type=int, default=None, help="worker processes for the conversion")
    p.add_argument("--cache-dir", default=None, help="datasets cache folder for the intermediate Arrow files")
    p.add_argument("--title", default=None, help="dataset card title")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if not args.out and not args.push_to_hub:
        print("error: give --out DIR and/or --push-to-hub REPO_ID", file=sys.stderr)
        return 2
    if args.quiet:
        import datasets

        datasets.disable_progress_bars()
    try:
        layout = args.layout if args.layout != "auto" else detect_layout(args.root, args.image_dir)
        start = time.perf_counter()
        dataset = convert_folder(
            args.root,
            layout,
            image_dir=args.image_dir,
            alpha_dir=args.alpha_dir,
            trimap_dir=args.trimap_dir,
            split_name=args.split_name,
            seed=args.seed,
            num_proc=args.num_proc,
            cache_dir=args.cache_dir,
            progress=not args.quiet,
        )
        card = dataset_card(
            dataset, title=args.title or TITLES[layout], source=Path(args.root).name, layout=layout, seed=args.seed
        )
        if args.out:
            save_dataset(dataset, args.out, card)
        if args.push_to_hub:
            push_dataset(dataset, args.push_to_hub, card, private=args.private or None)
    except AFMattingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(dataset_summary(dataset))
    where = " and ".join(x for x in (args.out and f"'{args.out}'", args.push_to_hub and args.push_to_hub) if x)
    print(f"Done in {time.perf_counter() - start:.1f} s ({layout} layout) -> {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
