"""Benchmark: the paper's DDC formulation (unfold of all K² neighbours) against afmatting's ``ddc_loss``.

Run from the repository root::

    .venv/bin/python benchmarks/ddc_loss.py             # CPU (and CUDA when available), 256² and 512², batch 1 and 4
    .venv/bin/python benchmarks/ddc_loss.py --sizes 256 --batches 1 --devices cpu   # a quick subset

Each (method, size, batch, device) case runs in its own fresh Python process, so one case's allocations cannot hide
another's. In that process:

1. a warm-up forward+backward at 64² loads every kernel and code path;
2. peak memory (its own process): CPU — the process's resident-set high-water mark (VmHWM, reset through
   /proc/self/clear_refs right before the measured step) minus the resident size just before it. glibc is told
   (MALLOC_MMAP_THRESHOLD_=65536) to serve every allocation of 64 KiB or more by mmap, so freed tensors leave the
   resident set at once and the high-water mark is the true peak of live memory, not an allocator cache (this slows
   allocation-heavy code down, so timing runs in another process with the normal allocator). CUDA —
   ``torch.cuda.max_memory_allocated`` minus the allocation before the step. Inputs (image, alpha) are allocated
   before the baseline, so only what the loss itself needs is counted;
3. time (its own process): forward + backward of the loss w.r.t. alpha, the neighbour search included for ours,
   best of ``--repeats`` runs, as wall-clock time and as process CPU time (summed over threads; on a shared machine
   the CPU-time ratio is the steadier comparison, the wall-clock one is what a user waits for).

A third column times ours with the neighbours precomputed (as data-loader workers would deliver them): the loss
alone, its memory counted on top of the stored int8 neighbours.

All methods use zero padding (``padding="zeros"``), so they compute the same number, which the table checks.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's afmatting and benchmarks
from benchmarks.common import reset_peak_memory, status_kib  # noqa: E402

KERNEL = 11


def reference_ddc(image, alpha, kernel_size=KERNEL):
    """The paper's formulation: unfold image and alpha (zero padding), norm, top-K, gather, mean."""
    import torch
    import torch.nn.functional as F

    b, _, h, w = image.shape
    k2 = kernel_size * kernel_size
    pad = kernel_size // 2
    with torch.no_grad():
        patches = F.unfold(image, kernel_size, padding=pad).view(b, 3, k2, h, w)
        dist = (patches - image.unsqueeze(2)).norm(dim=1)
        del patches
        idx = dist.topk(kernel_size, dim=1, largest=False).indices
        d_sel = dist.gather(1, idx)
        del dist
    alpha_unf = F.unfold(alpha, kernel_size, padding=pad).view(b, k2, h, w)
    alpha_sel = alpha_unf.gather(1, idx)
    return ((alpha - alpha_sel) - d_sel).abs().mean()


def ours_ddc(image, alpha, kernel_size=KERNEL):
    from afmatting.losses import ddc_loss

    return ddc_loss(image, alpha, kernel_size=kernel_size, padding="zeros")


def ours_precomputed_ddc(image, alpha, neighbours, kernel_size=KERNEL):
    from afmatting.losses import ddc_loss

    return ddc_loss(image, alpha, kernel_size=kernel_size, neighbours=neighbours)


def run_case(method: str, size: int, batch: int, device: str, repeats: int, threads: int | None, what: str) -> dict:
    """Worker: one case in this (fresh) process; ``what`` is "memory" or "time"; returns a JSON-able dict."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    from afmatting.losses import find_similar_neighbours

    dev = torch.device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    # "ours_pre": the neighbours are input data (computed by data-loader workers), so the step is the loss alone.
    precomputed = {}

    def step(image, alpha):
        if method == "reference":
            loss = reference_ddc(image, alpha)
        elif method == "ours":
            loss = ours_ddc(image, alpha)
        else:
            nb = precomputed.get(image.shape)
            if nb is None:
                nb = precomputed[image.shape] = find_similar_neighbours(image, KERNEL, padding="zeros")
            loss = ours_precomputed_ddc(image, alpha, nb)
        loss.backward()
        alpha.grad = None
        return float(loss)

    gen = torch.Generator().manual_seed(0)
    warm_img = torch.rand(batch, 3, 64, 64, generator=gen).to(dev)
    step(warm_img, torch.rand(batch, 1, 64, 64, generator=gen).to(dev).requires_grad_())
    sync()

    image = torch.rand(batch, 3, size, size, generator=gen).to(dev)
    alpha = torch.rand(batch, 1, size, size, generator=gen).to(dev).requires_grad_()
    if method == "ours_pre":
        precomputed[image.shape] = find_similar_neighbours(image, KERNEL, padding="zeros")

    result = {"method": method, "size": size, "batch": batch, "device": device, "threads": torch.get_num_threads()}
    if what == "memory":
        if dev.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(dev)
            before = torch.cuda.memory_allocated(dev)
            result["loss"] = step(image, alpha)
            sync()
            result["peak_mib"] = (torch.cuda.max_memory_allocated(dev) - before) / 2**20
        else:
            exact = reset_peak_memory()
            before = status_kib("VmRSS")
            result["loss"] = step(image, alpha)
            peak_kib = status_kib("VmHWM") if exact else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            result["peak_mib"] = (peak_kib - before) / 1024
        return result

    times, cpu_times = [], []
    for _ in range(repeats):
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        step(image, alpha)
        sync()
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    result.update(best_s=min(times), median_s=statistics.median(times), cpu_s=min(cpu_times))
    return result


def spawn(method, size, batch, device, repeats, threads) -> dict:
    """Run the memory measurement and the timing of one case, each in a fresh process; merge the results."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = {}
    for what in ("memory", "time"):
        env = dict(os.environ)
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        if what == "memory":
            # every allocation >= 64 KiB by mmap: freed memory leaves the resident set at once (exact peaks), but
            # each allocation then costs page faults, so timing runs in a separate process with the normal allocator
            env["MALLOC_MMAP_THRESHOLD_"] = "65536"
        cmd = [sys.executable, os.path.abspath(__file__), "--case", method, str(size), str(batch), device, what]
        cmd += ["--repeats", str(repeats)]
        if threads:
            cmd += ["--threads", str(threads)]
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
        result.update(json.loads(out.stdout.strip().splitlines()[-1]))
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu, plus cuda when available")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs (the slow CPU reference cases: at most 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's default)")
    parser.add_argument(
        "--case", nargs=5, metavar=("METHOD", "SIZE", "BATCH", "DEVICE", "WHAT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)

    if args.case:
        method, size, batch, device, what = args.case
        print(json.dumps(run_case(method, int(size), int(batch), device, args.repeats, args.threads, what)))
        return

    import torch

    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    print(f"torch {torch.__version__}, K = {KERNEL}, padding = zeros, forward + backward w.r.t. alpha")
    header = (
        "| device | size | batch | reference time (CPU time) | ours time (CPU time) | speed-up wall (CPU) "
        "| reference peak | ours peak | memory ratio | ours, neighbours precomputed: time / peak | loss difference |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for device in devices:
        for size in args.sizes:
            for batch in args.batches:
                # The reference takes seconds per step on CPU: fewer timed runs keep the benchmark short.
                slow = device == "cpu" and size * size * batch > 300_000
                ref_repeats = max(1, min(args.repeats, 2)) if slow else args.repeats
                ref = spawn("reference", size, batch, device, ref_repeats, args.threads)
                ours = spawn("ours", size, batch, device, args.repeats, args.threads)
                pre = spawn("ours_pre", size, batch, device, args.repeats, args.threads)
                print(
                    f"| {device} (threads {ours['threads']}) | {size}² | {batch} "
                    f"| {ref['best_s'] * 1e3:.0f} ms ({ref['cpu_s'] * 1e3:.0f} ms) "
                    f"| {ours['best_s'] * 1e3:.1f} ms ({ours['cpu_s'] * 1e3:.1f} ms) "
                    f"| {ref['best_s'] / ours['best_s']:.1f}× ({ref['cpu_s'] / ours['cpu_s']:.1f}×) "
                    f"| {ref['peak_mib']:.0f} MiB | {ours['peak_mib']:.1f} MiB "
                    f"| {ref['peak_mib'] / max(ours['peak_mib'], 1e-3):.1f}× "
                    f"| {pre['best_s'] * 1e3:.1f} ms / {pre['peak_mib']:.1f} MiB "
                    f"| {max(abs(ref['loss'] - ours['loss']), abs(ref['loss'] - pre['loss'])):.1e} |",
                    flush=True,
                )
    print(
        "times: best wall-clock time of the timed runs, in brackets the best process CPU time (all threads; less "
        "sensitive to other load on the machine); peak: extra memory of one forward+backward (see the docstring)"
    )


if __name__ == "__main__":
    main()
