"""Time compute_metrics (SAD, MSE, MAD, Grad, Conn) and alpha_to_trimap on one image.

    .venv/bin/python benchmarks/metrics.py [--size 1000] [--repeat 5]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from afmatting.metrics import compute_metrics  # noqa: E402
from afmatting.trimap import alpha_to_trimap  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--size", type=int, default=1000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    n = args.size
    yy, xx = np.mgrid[:n, :n]
    gt = np.clip((0.4 * n - np.hypot(yy - n / 2, xx - n / 2)) / (0.03 * n) + 0.5, 0, 1)
    pred = np.clip(gt + rng.normal(0, 0.05, gt.shape), 0, 1)
    trimap = alpha_to_trimap(gt)
    for label, fn in (
        ("compute_metrics, whole image", lambda: compute_metrics(pred, gt)),
        ("compute_metrics, unknown region", lambda: compute_metrics(pred, gt, trimap)),
        ("alpha_to_trimap", lambda: alpha_to_trimap(gt, seed=1)),
    ):
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        print(f"{label:34s} {n}x{n}: median {np.median(times) * 1000:7.1f} ms, best {min(times) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
