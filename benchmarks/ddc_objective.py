"""Is the true matte the minimum of the DDC objective? DDC loss of the ground truth vs a model's prediction.

On the real-GT alphamatting.com set, per image: the DDC loss (K = 11, the paper's setting, pairs over the whole
image) of the ground-truth alpha, of a model's prediction (known pixels from the trimap), and of the flat start (0.5
on the unknown pixels). Where the prediction's loss is already below the ground truth's, minimising DDC further (by
training longer or by test-time refinement) cannot be expected to move the matte towards the truth.

    .venv/bin/python benchmarks/ddc_objective.py --model afmatting/lite0-trimap --trimap trimap1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's afmatting and benchmarks

from afmatting.data import folder_examples  # noqa: E402
from afmatting.io import load_image, load_matte  # noqa: E402
from afmatting.losses import ddc_loss, find_similar_neighbours  # noqa: E402
from afmatting.processing import alpha_to_tensor, image_to_tensor  # noqa: E402
from afmatting.trimap import load_trimap, trimap_to_float  # noqa: E402
from benchmarks.common import SHARED_DATA  # noqa: E402

DEFAULT_ROOT = SHARED_DATA / "alphamatting"


def ddc_of(image: np.ndarray, alphas: dict, kernel_size: int = 11) -> dict:
    """DDC loss of each alpha (float (H, W) in [0, 1]) on one image (float (H, W, 3) in [0, 1]); neighbours shared."""
    x = image_to_tensor(image)[None]
    neighbours = find_similar_neighbours(x, kernel_size=kernel_size)
    return {name: float(ddc_loss(x, alpha_to_tensor(a)[None], kernel_size=kernel_size, neighbours=neighbours))
            for name, a in alphas.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="afmatting/lite0-trimap", help="a trimap-input model (dir, Hub id, bundled)")
    ap.add_argument("--root", default=str(DEFAULT_ROOT))
    ap.add_argument("--trimap", default="trimap1")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args(argv)
    if not Path(args.root).is_dir():
        print(f"alphamatting folder not found: {args.root}", file=sys.stderr)
        return 2
    from afmatting import AFMatting

    model = AFMatting.from_pretrained(args.model)
    print(f"| image | DDC of ground truth | DDC of prediction | DDC of flat start | truth lowest? |")
    print("|---|---:|---:|---:|:---:|")
    lowest = 0
    samples = folder_examples(args.root, trimap_dir=args.trimap, limit=args.limit)
    for row in samples:
        name, image = row["name"], load_image(row["image"])
        trimap, gt = load_trimap(row["trimap"]), load_matte(row["alpha"])
        losses = ddc_of(image, {"gt": gt, "pred": model.predict(image, trimap=trimap).alpha,
                                "flat": trimap_to_float(trimap)})
        truth_lowest = losses["gt"] < losses["pred"]
        lowest += truth_lowest
        print(f"| {name} | {losses['gt']:.5f} | {losses['pred']:.5f} | {losses['flat']:.5f} | "
              f"{'yes' if truth_lowest else 'no'} |", flush=True)
    print(f"\nThe ground truth has a lower DDC loss than the prediction on {lowest} of {len(samples)} images.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
