"""onnxruntime vs PyTorch on the CPU: network latency and peak memory of a bundled model at ~0.4 MP and ~2 MP.

The model is exported once (``export_onnx``, with its parity check) into a temporary folder. Each measurement then
runs in a fresh subprocess: the network is built/loaded, its resident memory (RSS) noted and the peak-RSS mark reset
(Linux ``/proc/self/clear_refs``), then it runs on the measured size once (warm-up) and ``--repeats`` times timed,
on one (1, 3, H, W) input (plus a trimap for trimap models). Printed per case: the median latency over all rounds,
the peak RSS while running and its increase over the RSS after loading (the memory that inference itself needs),
and the speed-up of onnxruntime over PyTorch (PyTorch latency / onnxruntime latency) measured in this same run.

The CPU may be shared: rounds alternate the runtimes (torch, onnx, torch, onnx, ...) so that load changes hit both
alike, and the load average (``os.getloadavg``) before and after is printed with the table.

    python benchmarks/onnx.py [--model afmatting/lite0-trimap-free] [--threads 2] [--repeats 3] [--rounds 3]
                              [--levels all,basic] [--sizes 0.4MP,2MP] [--exporter torchscript|dynamo]
                              [--paired N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# run as a script, this file's folder comes first on sys.path and its name would shadow the onnx package: replace
# that entry with the project root (which also makes this checkout's afmatting the one imported)
sys.path = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))

#: label -> (height, width) of the network input
SIZES = {"0.4MP": (548, 730), "2MP": (1224, 1632)}

CHILD = r"""
import json, statistics, time
import torch
torch.set_num_threads({threads})
def status_mib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
def reset_peak():
    # writing 5 to clear_refs resets VmHWM (the peak RSS) to the current RSS (Linux >= 4.0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
runtime, h, w = {runtime!r}, {h}, {w}
if runtime == "torch":
    from afmatting import AFMatting
    model = AFMatting.from_pretrained({model!r}).eval()
    trimap_input = model.trimap_input
else:
    from afmatting.onnx_model import OnnxMattingModel
    model = OnnxMattingModel({onnx_path!r}, threads={threads}, optimization={level!r})
    trimap_input = model.trimap_input
g = torch.Generator().manual_seed(0)
image = torch.rand(1, 3, h, w, generator=g)
trimap = torch.randint(0, 3, (1, 1, h, w), generator=g).float() / 2 if trimap_input else None
times = []
with torch.inference_mode():
    base = status_mib("VmRSS")
    reset_peak()
    model(image, trimap)  # warm-up (allocator pools, first-run kernel choices); its peak is the one reported
    for _ in range({repeats}):
        t = time.perf_counter(); alpha = model(image, trimap); times.append(time.perf_counter() - t)
assert tuple(alpha.shape) == (1, 1, h, w)
peak = status_mib("VmHWM")
print(json.dumps(dict(times=times, peak_mib=peak, peak_increase_mib=peak - base)))
"""


PAIRED_CHILD = r"""
import json, statistics, time
import torch
torch.set_num_threads({threads})
from afmatting import AFMatting
from afmatting.onnx_model import OnnxMattingModel
h, w = {h}, {w}
model = AFMatting.from_pretrained({model!r}).eval()
runner = OnnxMattingModel({onnx_path!r}, threads={threads}, optimization={level!r})
g = torch.Generator().manual_seed(0)
image = torch.rand(1, 3, h, w, generator=g)
trimap = torch.randint(0, 3, (1, 1, h, w), generator=g).float() / 2 if model.trimap_input else None
pairs = []
with torch.inference_mode():
    model(image, trimap); runner(image, trimap)
    for _ in range({pairs}):
        t0 = time.perf_counter(); model(image, trimap)
        t1 = time.perf_counter(); runner(image, trimap)
        t2 = time.perf_counter()
        pairs.append((t1 - t0, t2 - t1))
print(json.dumps(pairs))
"""


def run_paired(level: str, model: str, onnx_path: str, h: int, w: int, threads: int, pairs: int) -> list:
    """(torch seconds, onnxruntime seconds) of back-to-back runs in one process, ``pairs`` times."""
    code = PAIRED_CHILD.format(level=level, model=model, onnx_path=onnx_path, h=h, w=w, threads=threads,
                               pairs=pairs)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"paired case failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_case(runtime: str, level: str, model: str, onnx_path: str, h: int, w: int, threads: int,
             repeats: int) -> dict:
    """One measurement in a fresh Python process: {'times': [...], 'peak_mib': .., 'peak_increase_mib': ..}."""
    code = CHILD.format(runtime=runtime, level=level, model=model, onnx_path=onnx_path, h=h, w=w, threads=threads,
                        repeats=repeats)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"{runtime} case failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="afmatting/lite0-trimap-free", help="bundled name, directory or Hub id")
    ap.add_argument("--threads", type=int, default=2, help="intra-op threads of both runtimes")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per process")
    ap.add_argument("--rounds", type=int, default=3, help="processes per case, alternating the runtimes")
    ap.add_argument("--levels", default="all",
                    help="onnxruntime graph optimisation levels to measure, comma-separated (all,extended,basic,"
                         "disable)")
    ap.add_argument("--sizes", default=",".join(SIZES), help=f"comma-separated, from {list(SIZES)}")
    ap.add_argument("--paired", type=int, default=0,
                    help="also time N back-to-back (torch, onnxruntime) pairs in one process per size and print "
                         "the median of the per-pair speed-ups (robust to a load that changes between processes)")
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--exporter", choices=("torchscript", "dynamo"), default="torchscript")
    args = ap.parse_args()

    import torch

    from afmatting import AFMatting
    from afmatting.onnx_export import export_onnx, format_parity

    torch.set_num_threads(args.threads)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    levels = [s.strip() for s in args.levels.split(",") if s.strip()]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = str(Path(tmp) / "model.onnx")
        start = time.perf_counter()
        rows = export_onnx(AFMatting.from_pretrained(args.model), onnx_path, opset=args.opset,
                           exporter=args.exporter)
        print(f"exported {args.model} ({args.exporter} exporter, opset {args.opset}) in "
              f"{time.perf_counter() - start:.0f} s incl. parity check; parity with PyTorch:\n{format_parity(rows)}\n")
        runtimes = [("torch", "-")] + [("onnxruntime", level) for level in levels]
        results: dict = {}
        for _ in range(args.rounds):
            for label in sizes:
                h, w = SIZES[label]
                for runtime, level in runtimes:
                    r = run_case(runtime, level, args.model, onnx_path, h, w, args.threads, args.repeats)
                    entry = results.setdefault((label, runtime, level), {"times": [], "peak": [], "increase": []})
                    entry["times"].append(statistics.median(r["times"]))
                    entry["peak"].append(r["peak_mib"])
                    entry["increase"].append(r["peak_increase_mib"])
                    print(f"  {label} {runtime} {level}: {statistics.median(r['times']):.3f} s, peak increase "
                          f"{r['peak_increase_mib']:.0f} MiB (load {os.getloadavg()[0]:.1f})", flush=True)
        paired = {}
        for label in sizes if args.paired else []:
            h, w = SIZES[label]
            paired[label] = run_paired(levels[0], args.model, onnx_path, h, w, args.threads, args.paired)
    load_after = os.getloadavg()

    print(f"{args.model}: network forward on CPU, {args.threads} threads, median of {args.rounds} processes x "
          f"{args.repeats} runs; load average before {load_before[0]:.2f} / after {load_after[0]:.2f} "
          f"({os.cpu_count()} CPUs)")
    print("| image (HxW) | runtime | graph opt. | latency s | speed-up vs torch | peak RSS MiB | peak increase MiB |")
    print("|---|---|---|---|---|---|---|")
    for label in sizes:
        h, w = SIZES[label]
        torch_latency = statistics.median(results[label, "torch", "-"]["times"])
        for runtime, level in runtimes:
            e = results[label, runtime, level]
            latency = statistics.median(e["times"])
            print(f"| {label} ({h}x{w}) | {runtime} | {level} | {latency:.3f} | {torch_latency / latency:.2f}x | "
                  f"{statistics.median(e['peak']):.0f} | {statistics.median(e['increase']):.0f} |")

    for label, pairs in paired.items():
        torch_s = statistics.median(t for t, _ in pairs)
        ort_s = statistics.median(o for _, o in pairs)
        speedup = statistics.median(t / o for t, o in pairs)
        print(f"paired {label}: {len(pairs)} back-to-back runs, torch median {torch_s:.3f} s, onnxruntime "
              f"({levels[0]}) median {ort_s:.3f} s, median per-pair speed-up {speedup:.2f}x")


if __name__ == "__main__":
    main()
