"""CPU latency and peak memory of ``predict`` for a ~0.4 MP and an 8 MP image.

Each case runs in a fresh subprocess so its peak resident memory (ru_maxrss) is its own. Printed per case:
median latency of ``predict`` (alpha only) over a few runs after a warm-up, the peak RSS of the process and the peak
increase over the RSS measured after the model was built and warmed up. The ViT-S/16 model (the paper's backbone)
is the in-process baseline for the latency ratio.

    python benchmarks/inference.py [--threads 2] [--repeats 5] [--photo ../shared/data/trimap-only/lemur.png]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CASES = [("0.4MP", 548, 730), ("8MP", 2448, 3264)]
#: label -> AFMatting keyword arguments: the bundled CNN models' architecture, and the paper's ViT-S/16 model
MODELS = {
    "efficientnet_lite0 (bundled)": dict(backbone="efficientnet_lite0", detail_widths=(16, 24, 32),
                                         fusion_widths=(96, 48, 24, 12), neck_width=128, head_width=8),
    "vit_small_patch16_224": dict(backbone="vit_small_patch16_224"),
}
BASELINE = "vit_small_patch16_224"

CHILD = r"""
import json, resource, statistics, sys, time
import numpy as np, torch
torch.set_num_threads({threads})
from afmatting import AFMatting
from afmatting.io import load_image
def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
torch.manual_seed(0)
model = AFMatting(**{kwargs!r}).eval()
h, w = {h}, {w}
photo = {photo!r}
if photo:
    import torch.nn.functional as F
    x = torch.from_numpy(load_image(photo)).permute(2, 0, 1)[None]
    img = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)[0].permute(1, 2, 0).numpy()
    img = (img.clip(0, 1) * 255).astype(np.uint8)
else:
    img = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
model.predict(img[:64, :64])
base = rss_mib()
times = []
for _ in range({repeats}):
    t = time.perf_counter(); r = model.predict(img); times.append(time.perf_counter() - t)
assert r.alpha.shape == (h, w)
print(json.dumps(dict(latency=statistics.median(times), peak_mib=rss_mib(), peak_increase_mib=rss_mib() - base)))
"""


def run_case(kwargs, h, w, threads, repeats, photo):
    code = CHILD.format(kwargs=kwargs, h=h, w=w, threads=threads, repeats=repeats, photo=photo)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--photo", default="", help="a real photo resized to each case (default: random pixels)")
    args = ap.parse_args()
    rows = {}
    for name, kwargs in MODELS.items():
        for label, h, w in CASES:
            rows[name, label] = run_case(kwargs, h, w, args.threads, args.repeats if label != "8MP" else 3,
                                         args.photo)
    print(f"predict() on CPU, {args.threads} threads, default max_side=1024 (alpha only)")
    print("| model | image | latency s | vs ViT-S | peak RSS MiB | peak increase MiB |")
    print("|---|---|---|---|---|---|")
    for (backbone, label), r in rows.items():
        ratio = r["latency"] / rows[BASELINE, label]["latency"]
        print(f"| {backbone} | {label} | {r['latency']:.3f} | {ratio:.2f}x | {r['peak_mib']:.0f} | "
              f"{r['peak_increase_mib']:.0f} |")


if __name__ == "__main__":
    main()
