"""The reproduction's loss rows at GPU scale: every row trained side by side on one GPU within a time budget.

    python benchmarks/reproduce_gpu.py --budget_s 420 --out DIR

Same data as ``benchmarks/reproduce.py`` (``runs/data/shared_samples``: 19 real photos, trimaps from pseudo-alphas),
same model, seed and optimiser; the paper's 512² crops and batch 16 with bf16
(``train/configs/gpu_efficientnet.yaml``). Every row trains the **same number of steps**, chosen so that all of them
finish inside the budget:

1. probe: all rows train a few steps side by side, and each one's steady images/s is read from its train_summary.json;
2. steps = the slowest row's steps/s x the time left, rounded down to a multiple of 50;
3. train all rows side by side with that step count; a row still running at the deadline is interrupted (the training
   script then saves a checkpoint) so that the packaging below always runs.

Each row's final model (and with ``--with_best`` its best held-out validation model) is written to ``DIR/<row>.tar``
as fp16 safetensors, with the training logs in ``DIR/logs.tar``: small enough to come back from a lent GPU machine.
Unpack with
``python benchmarks/reproduce_gpu.py --unpack DIR`` into ``runs/reproduce_gpu/<row>/``, then score them here with
``python benchmarks/reproduce_gpu.py --eval`` (alphamatting Trimap1/2 on the CPU; held-out photos for the trimap-free
row) into ``docs/results_gpu.json``, which ``python benchmarks/reproduce.py table`` adds to docs/results.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AFMATTING_SHARED_DATA", ROOT.parent / "shared" / "data"))
#: the training data benchmarks/reproduce.py builds from the shared photos (``reproduce.py data``)
DATA = ROOT / "runs" / "data" / "shared_samples"
#: row name -> extra train.py arguments (the same table rows as benchmarks/reproduce.py)
ROWS = json.loads((ROOT / "benchmarks" / "rows.json").read_text())

CONFIG = ROOT / "train" / "configs" / "gpu_efficientnet.yaml"
GPU_RUNS = ROOT / "runs" / "reproduce_gpu"
DEFAULT_ROWS = ("known", "known+dc", "known+ddc", "alpha", "trimap-free+ddc")
RESULTS_GPU_JSON = ROOT / "docs" / "results_gpu.json"


def gpu_row_dir(row: str, runs: Path = GPU_RUNS) -> Path:
    return Path(runs) / row.replace("+", "_")


def train_command(row: str, output_dir: Path, extra: list[str]) -> list[str]:
    return [sys.executable, str(ROOT / "train" / "train.py"), "--config", str(CONFIG), "--dataset", str(DATA),
            "--output_dir", str(output_dir), *ROWS[row], *extra]


def launch(rows, folder: Path, extra: list[str]) -> dict[str, tuple[subprocess.Popen, Path]]:
    """Start one training process per row (side by side); stdout+stderr go to ``folder/<row>.log``."""
    folder.mkdir(parents=True, exist_ok=True)
    procs = {}
    for row in rows:
        log = folder / f"{row.replace('+', '_')}.log"
        out_dir = folder / row.replace("+", "_")
        cmd = train_command(row, out_dir, extra)
        with open(log, "w") as f:
            f.write(" ".join(cmd) + "\n")
            f.flush()
            procs[row] = (subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=ROOT), log)
    return procs


def wait_all(procs, deadline: float) -> dict[str, int | None]:
    """Wait for every process; past the deadline interrupt the rest (SIGINT: the script saves a checkpoint)."""
    while time.time() < deadline and any(p.poll() is None for p, _ in procs.values()):
        time.sleep(2)
    for p, _ in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    grace = time.time() + 45
    while time.time() < grace and any(p.poll() is None for p, _ in procs.values()):
        time.sleep(1)
    for p, _ in procs.values():
        if p.poll() is None:
            p.kill()
    return {row: p.wait() for row, (p, _) in procs.items()}


def train_setting(key: str, train_args: list[str]):
    """A training setting as the rows get it: the last ``--key value`` of the extra arguments, else the config's."""
    import yaml

    config = CONFIG
    for i, arg in enumerate(train_args[:-1]):
        if arg == "--config":
            config = Path(train_args[i + 1])
    value = (yaml.safe_load(config.read_text()) or {}).get(key)
    for i, arg in enumerate(train_args[:-1]):
        if arg == f"--{key}":
            value = yaml.safe_load(train_args[i + 1])
    return value


def steady_rate(run_dir: Path) -> float | None:
    """The images/s of a finished run's last ``log_steps`` window (after start-up), as train.py records it in
    ``train_summary.json``; None when the run wrote no summary (it failed or was stopped)."""
    summary = Path(run_dir) / "train_summary.json"
    if not summary.exists():
        return None
    return json.loads(summary.read_text()).get("steady_images_per_s")


def fp16_bytes(weights: Path) -> bytes:
    import torch
    from safetensors.torch import load_file, save

    tensors = load_file(str(weights))
    return save({k: (v.to(torch.float16) if v.is_floating_point() else v) for k, v in tensors.items()})


def package(row: str, run_dir: Path, out: Path, with_best: bool = False) -> str:
    """``out/<row>.tar``: final/ (and best/) as fp16 safetensors + config + card (or the last checkpoint's weights).
    7 MiB per model: five rows' final models fit what a lent machine sends back (64 MiB), not their best ones too."""
    members: dict[str, bytes] = {}
    for name, folder in (("final", run_dir), ("best", run_dir / "best"))[: 2 if with_best else 1]:
        if (folder / "model.safetensors").exists():
            members[f"{name}/model.safetensors"] = fp16_bytes(folder / "model.safetensors")
            for extra in ("config.json", "README.md"):
                if (folder / extra).exists():
                    members[f"{name}/{extra}"] = (folder / extra).read_bytes()
    if "final/model.safetensors" not in members:
        checkpoints = sorted((run_dir / "checkpoints").glob("checkpoint-*/model.safetensors"),
                             key=lambda p: int(p.parent.name.split("-")[1]))
        if checkpoints:
            members[f"{checkpoints[-1].parent.name}/model.safetensors"] = fp16_bytes(checkpoints[-1])
    for extra in ("train_summary.json", "config.yaml"):
        if (run_dir / extra).exists():
            members[extra] = (run_dir / extra).read_bytes()
    target = out / f"{row.replace('+', '_')}.tar"
    with tarfile.open(target, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return f"{target.name}: {', '.join(members)} ({target.stat().st_size / 2**20:.1f} MiB)"


def run(args) -> None:
    start = time.time()
    deadline = start + args.budget_s
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = list(args.rows)
    report = {"rows": rows, "budget_s": args.budget_s}

    # 1. probe: the same rows, side by side, a few steps each
    runs = Path(args.runs_dir)
    probe_dir = runs / "probe"
    procs = launch(rows, probe_dir, ["--max_steps", str(args.probe_steps), "--validation_steps", "0",
                                     "--log_steps", "10", *args.train_args])
    codes = wait_all(procs, start + args.budget_s / 3)
    probe_s = time.time() - start
    rates = {row: steady_rate(gpu_row_dir(row, probe_dir)) for row in procs}
    report["probe"] = {"seconds": round(probe_s, 1), "exit_codes": codes, "images_per_s": rates}
    print(json.dumps(report["probe"]), flush=True)
    ok = [r for r in rows if codes[r] == 0 and rates[r]]
    if not ok:
        sys.exit("probe failed for every row; see the logs")
    rows = ok

    # 2. one step count for every row: the slowest row must finish (start-up and validations counted in `margin`)
    batch = int(train_setting("batch_size", args.train_args))
    slowest = min(rates[r] for r in rows) / batch  # steps/s
    time_left = deadline - time.time() - probe_s * 0.5 - args.margin_s
    steps = max(50, int(slowest * time_left * 0.9) // 50 * 50)
    if args.max_steps:
        steps = min(steps, args.max_steps)
    report["steps"] = steps
    print(f"training {rows} for {steps} steps each (slowest {slowest:.2f} steps/s, {time_left:.0f} s left)", flush=True)

    # 3. the real runs
    validation = min(steps, max(50, steps // 5 // 50 * 50))
    procs = launch(rows, runs, ["--max_steps", str(steps), "--validation_steps", str(validation),
                                    *args.train_args])
    report["exit_codes"] = wait_all(procs, deadline)
    report["seconds"] = round(time.time() - start, 1)

    # 4. package (always)
    report["packages"] = [package(row, gpu_row_dir(row, runs), out, args.with_best) for row in rows]
    (runs / "report.json").write_text(json.dumps(report, indent=2))
    with tarfile.open(out / "logs.tar", "w") as tar:
        for log in sorted(runs.glob("*.log")) + sorted(probe_dir.glob("*.log")) + [runs / "report.json"]:
            tar.add(log, arcname=str(log.relative_to(runs)))
    print(json.dumps(report, indent=2), flush=True)


def unpack(folder: Path, runs: Path = GPU_RUNS) -> None:
    """``folder/<row>.tar`` -> ``runs/reproduce_gpu/<row>/`` (final model at the top, ``best/`` inside)."""
    for tar_path in sorted(folder.glob("*.tar")):
        target = Path(runs) / tar_path.stem
        if tar_path.stem == "logs":
            target = Path(runs)
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tar_path) as tar:
            for member in tar.getmembers():
                if not member.isfile():
                    continue
                name = member.name[len("final/"):] if member.name.startswith("final/") else member.name
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                (target / name).write_bytes(tar.extractfile(member).read())
        print(f"unpacked {tar_path.name} -> {target}")


def evaluate_rows(rows, runs: Path = GPU_RUNS, results_json: Path = RESULTS_GPU_JSON) -> None:
    """Score the unpacked rows: trimap-input ones on alphamatting (real GT), the trimap-free one on the held-out
    photos (agreement with pseudo-alphas). Writes docs/results_gpu.json with each row's training summary."""
    from afmatting import AFMatting
    from afmatting.data import load_matting_dataset
    from afmatting.evaluation import evaluate, evaluate_trimaps

    runs = Path(runs)
    report = json.loads((runs / "report.json").read_text()) if (runs / "report.json").exists() else {}
    results = {"run": {k: report.get(k) for k in ("budget_s", "steps", "seconds", "probe")}, "rows": {}}
    for row in rows:
        folder = gpu_row_dir(row, runs)
        if not (folder / "model.safetensors").exists():
            print(f"skipping {row}: not unpacked ({folder})")
            continue
        entry = {"summary": json.loads((folder / "train_summary.json").read_text())}
        if row.startswith("trimap-free"):
            held_out = load_matting_dataset(DATA, "validation")
            entry["held_out_whole"], _ = evaluate(AFMatting.from_pretrained(folder), held_out, region="whole",
                                                  progress=False)
        else:
            model = AFMatting.from_pretrained(folder)
            entry.update(evaluate_trimaps(model, SHARED / "alphamatting", ("trimap1", "trimap2"), progress=False)[0])
        results["rows"][row] = entry
        print(row, json.dumps({k: v for k, v in entry.items() if k != "summary"}), flush=True)
    Path(results_json).write_text(json.dumps(results, indent=2))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", nargs="+", default=list(DEFAULT_ROWS), choices=list(ROWS))
    ap.add_argument("--budget_s", type=float, default=420, help="wall-clock seconds for probe + training")
    ap.add_argument("--probe_steps", type=int, default=40)
    ap.add_argument("--max_steps", type=int, help="never train more steps than this, whatever the budget allows")
    ap.add_argument("--margin_s", type=float, default=40, help="seconds kept for start-up, validation and saving")
    ap.add_argument("--with_best", action="store_true", help="also package each row's best validation model")
    ap.add_argument("--runs_dir", default=str(GPU_RUNS), help="where the rows train (and are unpacked)")
    ap.add_argument("--out", default=str(GPU_RUNS / "out"))
    ap.add_argument("--unpack", metavar="DIR", help="unpack DIR/*.tar into runs/reproduce_gpu and stop")
    ap.add_argument("--eval", action="store_true", help="score the unpacked rows here into docs/results_gpu.json")
    ap.add_argument("train_args", nargs=argparse.REMAINDER, help="after --: extra train.py arguments for every row")
    args = ap.parse_args(argv)
    if args.train_args and args.train_args[0] == "--":
        args.train_args = args.train_args[1:]
    if args.unpack:
        unpack(Path(args.unpack), Path(args.runs_dir))
    elif args.eval:
        evaluate_rows(args.rows, Path(args.runs_dir))
    else:
        run(args)


if __name__ == "__main__":
    main()
