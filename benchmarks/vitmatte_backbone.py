"""ViTMatte-S (windowed attention + global blocks + conv blocks) against the plain global-attention ViT-S/16.

Both models have the same detail-capture decoder and random weights. Two modes:

* default (CPU inference): whole-model forward latency (median of ``--repeats`` runs after one warm-up, the two
  models alternating so that both see the same load on a shared machine) and the peak RSS increase during the forward
  (a thread samples the process RSS every 2 ms; the increase is over the RSS just before the call), at 512² and
  2048², both models in this one process; prints the ViTMatte-S / plain ratios.
  Target: latency ratio <= 0.6 at 2048².

      python benchmarks/vitmatte_backbone.py [--sizes 512 2048] [--repeats 3] [--threads 2]

* ``--train-throughput`` (GPU): training images/s of each model at 512², batch 16: forward + known + DDC loss +
  backward + AdamW step under bf16 autocast, random images and trimaps; ``--warmup`` steps are not timed. Prints
  images/s of each and the ratio. On an H100 the defaults take well under a minute.

      python benchmarks/vitmatte_backbone.py --train-throughput [--device cuda] [--size 512 --batch 16 --steps 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import psutil
import torch

# measure this checkout's afmatting, not whichever copy is installed
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: label -> AFMatting backbone; the decoder is the default (ViTMatte's widths) for both
MODELS = {"plain ViT-S/16": "vit_small_patch16_224", "ViTMatte-S": "vitmatte_small_patch16"}
BASELINE, CANDIDATE = "plain ViT-S/16", "ViTMatte-S"


class PeakRSS:
    """Context manager: ``.increase_mib`` = peak RSS while inside minus the RSS on entry, sampled every 2 ms."""

    def __init__(self, interval_s: float = 0.002):
        self.process = psutil.Process()
        self.interval_s = interval_s
        self.increase_mib = 0.0

    def _sample(self):
        while not self._stop.is_set():
            self._peak = max(self._peak, self.process.memory_info().rss)
            self._stop.wait(self.interval_s)

    def __enter__(self):
        self._start = self._peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self.process.memory_info().rss)
        self.increase_mib = (self._peak - self._start) / 2**20
        return False


def build(backbone: str):
    from afmatting import AFMatting

    torch.manual_seed(0)
    return AFMatting(backbone=backbone)


def forward_once(model, x: torch.Tensor) -> tuple[float, float]:
    """Latency (s) and peak-RSS increase (MiB) of one inference forward of ``model`` on ``x``."""
    with torch.inference_mode(), PeakRSS() as rss:
        t = time.perf_counter()
        model(x)
        seconds = time.perf_counter() - t
    return seconds, rss.increase_mib


def run_inference(args) -> dict:
    torch.set_num_threads(args.threads)
    models = {label: build(name).eval() for label, name in MODELS.items()}
    load = os.getloadavg()
    print(f"CPU: {os.cpu_count()} cores, torch threads {args.threads}, load average before {load[0]:.2f} "
          f"{load[1]:.2f} {load[2]:.2f}; median of {args.repeats} forwards after a warm-up, the two models "
          f"alternating so that both see the same load")
    results = {}
    for size in args.sizes:
        x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
        runs = {label: [] for label in models}
        for label, model in models.items():
            forward_once(model, x)  # warm-up: one-time allocations and kernel selection
        for _ in range(args.repeats):
            for label, model in models.items():
                runs[label].append(forward_once(model, x))
        for label in models:
            times = [t for t, _ in runs[label]]
            results[(label, size)] = r = {"latency_s": statistics.median(times), "all_s": times,
                                          "peak_increase_mib": max(m for _, m in runs[label])}
            print(f"  {label} {size}²: {r['latency_s']:.2f} s (runs {', '.join(f'{t:.2f}' for t in times)}), "
                  f"+{r['peak_increase_mib']:.0f} MiB", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("| image | model | latency s | vs plain | peak RSS increase MiB | vs plain |")
    print("|---|---|---|---|---|---|")
    for size in args.sizes:
        base = results[(BASELINE, size)]
        for label in models:
            r = results[(label, size)]
            print(f"| {size}² | {label} | {r['latency_s']:.2f} | {r['latency_s'] / base['latency_s']:.2f}x "
                  f"| {r['peak_increase_mib']:.0f} | {r['peak_increase_mib'] / max(base['peak_increase_mib'], 1):.2f}x |")
    return results


def train_step_fn(model, optimiser, device: torch.device, use_ddc: bool):
    """One training step on a batch dict: forward under bf16 autocast, known (+ 10 x DDC) loss, backward, AdamW."""
    from afmatting.losses import alpha_free_loss, known_loss

    def step(batch):
        with torch.autocast(device.type, dtype=torch.bfloat16):
            alpha = model(batch["image"])
        if use_ddc:
            loss = alpha_free_loss(batch["image"], alpha.float(), batch["trimap"], ddc_weight=10.0)["loss"]
        else:
            loss = known_loss(alpha.float(), batch["trimap"])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return loss.detach()

    return step


def random_batch(size: int, batch: int, device: torch.device) -> dict:
    """Random images (B, 3, S, S) in [0, 1] and trimaps (B, 1, S, S) in {0, 0.5, 1}."""
    g = torch.Generator().manual_seed(0)
    image = torch.rand(batch, 3, size, size, generator=g)
    trimap = torch.randint(0, 3, (batch, 1, size, size), generator=g).float() / 2
    return {"image": image.to(device), "trimap": trimap.to(device)}


def sync(device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_train_throughput(args) -> dict:
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    batch = random_batch(args.size, args.batch, device)
    rates = {}
    for label, name in MODELS.items():
        model = build(name).to(device).train()
        optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)
        step = train_step_fn(model, optimiser, device, use_ddc=not args.l1_only)
        for _ in range(args.warmup):
            step(batch)
        sync(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        t = time.perf_counter()
        for _ in range(args.steps):
            loss = step(batch)
        sync(device)
        seconds = time.perf_counter() - t
        rates[label] = args.steps * args.batch / seconds
        mem = f", peak GPU memory {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB" if device.type == "cuda" \
            else ""
        print(f"{label}: {rates[label]:.1f} images/s ({args.steps} steps x batch {args.batch} at {args.size}² in "
              f"{seconds:.1f} s, last loss {loss.item():.4f}{mem})", flush=True)
        del model, optimiser
        if device.type == "cuda":
            torch.cuda.empty_cache()
    print(f"ratio {CANDIDATE} / {BASELINE}: {rates[CANDIDATE] / rates[BASELINE]:.2f}x images/s")
    return rates


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 2048], help="inference: square input sides")
    p.add_argument("--repeats", type=int, default=3, help="inference: timed forwards per model and size")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--train-throughput", action="store_true", help="time training steps instead (GPU probe)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="train: device")
    p.add_argument("--size", type=int, default=512, help="train: crop side")
    p.add_argument("--batch", type=int, default=16, help="train: batch size")
    p.add_argument("--steps", type=int, default=20, help="train: timed steps per model")
    p.add_argument("--warmup", type=int, default=3, help="train: untimed steps first (cuDNN autotuning, allocator)")
    p.add_argument("--l1-only", action="store_true", help="train: known loss only (no DDC), to time the models alone")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    return run_train_throughput(args) if args.train_throughput else run_inference(args)


if __name__ == "__main__":
    main()
