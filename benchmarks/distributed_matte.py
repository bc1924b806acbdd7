"""Throughput of ``afmatting matte`` over a folder: one process against several under ``accelerate launch``.

A catalogue of ``--images`` photos (the AM-2K samples of ../shared/data, or of $AFMATTING_SHARED_DATA, scaled to
``--side`` pixels on the long side and repeated under new names; random pixels where the folder is absent) is matted
by the bundled model, once by one process (``python -m afmatting.cli matte``) and once by ``--processes`` processes
(``accelerate launch --multi_gpu --num_processes N -m afmatting.cli matte ... --device cpu``: its torchrun launcher,
gloo on the CPU), each process with ``--threads`` torch threads. Per mode (the default two-stage path, and
``--single-stage``: the trimap-free network alone), printed: images per second over the matting itself (the time
the command reports: from the plan's broadcast to the gathered counts, the other processes' model loading included)
and over the whole command (start-up, imports, model loading and the process group included), and the ratio of each
against the one-process run of the same invocation.

    python benchmarks/distributed_matte.py [--images 16] [--side 320] [--processes 2] [--threads 1] [--batch-size 1]
                                           [--gpu]

``--gpu`` runs the processes on the accelerators (one per process) instead of ``--device cpu``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("AFMATTING_SHARED_DATA", ROOT.parent / "shared" / "data")) / "am2k-samples" / "image"
MODES = {"default (two-stage)": [], "--single-stage": ["--single-stage"]}
SUMMARY = re.compile(r"(\d+)/(\d+) images matted into .* in ([0-9.]+) s")


def make_catalogue(folder: Path, n: int, side: int) -> None:
    """``n`` PNG photos of at most ``side`` pixels on the long side in ``folder``."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True)
    sources = sorted(SAMPLES.glob("*.jpg")) if SAMPLES.is_dir() else []
    rng = np.random.default_rng(0)
    for i in range(n):
        if sources:
            image = Image.open(sources[i % len(sources)]).convert("RGB")
            image.thumbnail((side, side))
        else:
            image = Image.fromarray(rng.integers(0, 256, (side * 3 // 4, side, 3), dtype=np.uint8))
        image.save(folder / f"photo{i:04d}.png")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_matte(photos: Path, out: Path, extra: list[str], processes: int, threads: int, gpu: bool) -> dict:
    """Run one ``afmatting matte``; returns images done, the matting seconds it reports and the command's wall
    seconds."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONPATH=str(ROOT))
    matte = ["matte", str(photos), "--out", str(out), *extra]  # its summary line carries the matting time
    if processes == 1:
        cmd = [sys.executable, "-m", "afmatting.cli", *matte] + ([] if gpu else ["--device", "cpu"])
    else:
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(free_port()), "-m", "afmatting.cli", *matte]
        cmd += [] if gpu else ["--device", "cpu"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    found = SUMMARY.search(proc.stdout)
    if proc.returncode != 0 or not found:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr[-3000:]}")
    return dict(done=int(found[1]), matting=float(found[3]), wall=wall, command=" ".join(cmd))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--side", type=int, default=320, help="long side of the photos in pixels")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (OMP_NUM_THREADS)")
    parser.add_argument("--batch-size", type=int, default=1, help="afmatting matte --batch-size, every run")
    parser.add_argument("--gpu", action="store_true", help="one accelerator per process instead of the CPU")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated, of: " + ", ".join(MODES))
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="afmatting-distributed-"))
    try:
        photos = work / "photos"
        make_catalogue(photos, args.images, args.side)
        print(f"{args.images} photos, long side {args.side} px ({'AM-2K samples' if SAMPLES.is_dir() else 'random'}); "
              f"{args.threads} thread(s) per process; batch size {args.batch_size}; {'GPU' if args.gpu else 'CPU'}; "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
        print("| mode | processes | images/s (matting) | ratio | images/s (whole command) | ratio |")
        print("|---|---|---|---|---|---|")
        for mode in args.modes.split(","):
            base = None
            for n in (1, args.processes):
                out = work / "out"
                extra = MODES[mode] + ["--batch-size", str(args.batch_size)]
                r = run_matte(photos, out, extra, n, args.threads, args.gpu)
                shutil.rmtree(out)
                rate, overall = r["done"] / r["matting"], r["done"] / r["wall"]
                base = base or (rate, overall)
                print(f"| {mode} | {n} | {rate:.2f} | {rate / base[0]:.2f} | {overall:.2f} | {overall / base[1]:.2f} |",
                      flush=True)
        print(f"load average {os.getloadavg()[0]:.1f} at the end; the last command (temporary folders):\n"
              f"  OMP_NUM_THREADS={args.threads} {r['command']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
