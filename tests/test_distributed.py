"""``afmatting matte`` split across processes (afmatting.distributed): two CPU processes under ``accelerate launch``
write exactly what one process writes, report a failure on any process in the exit code, and resume with
--skip-existing; a plain run never needs accelerate."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from afmatting.cli import main
from afmatting.distributed import DistributedSetupError, Processes, batches, current_processes, launched_process_count

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def free_model(tmp_path_factory, tiny_vit):
    path = tmp_path_factory.mktemp("models") / "free"
    tiny_vit.save_pretrained(path)
    return path


def _photos(folder: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir()
    for i in range(n):  # two sizes: the network batches group by size
        Image.fromarray(rng.integers(0, 256, (24 + 3 * (i % 2), 30, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(args, cwd, processes=2):
    """``accelerate launch`` (its torchrun launcher; --device cpu makes every process use gloo on the CPU). Its exit
    code is 1 when any process exits non-zero (the processes' own codes are not passed through)."""
    pytest.importorskip("accelerate")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))  # this checkout, not an installed copy
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(_free_port()), "-m", "afmatting.cli", "matte", *map(str, args), "--device", "cpu"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_launched_process_count_reads_the_launchers_variables():
    assert launched_process_count({}) == 1
    assert launched_process_count({"WORLD_SIZE": "4"}) == 4
    assert launched_process_count({"OMPI_COMM_WORLD_SIZE": "3", "WORLD_SIZE": "1"}) == 3
    assert launched_process_count({"WORLD_SIZE": "x"}) == 1


def test_batches_are_consecutive_and_cover_the_list():
    assert batches(list(range(5)), 2) == [[0, 1], [2, 3], [4]]
    assert batches([], 3) == []
    # a resumed run skipped items 1 and 2 of 0..5: the others keep their batch-mates
    assert batches(["a", "d", "e", "f"], 2, positions=[0, 3, 4, 5]) == [["a"], ["d"], ["e", "f"]]
    with pytest.raises(Exception, match="at least 1"):
        batches([1], 0)


def test_one_process_needs_no_accelerate(monkeypatch, tmp_path, free_model):
    monkeypatch.setitem(sys.modules, "accelerate", None)  # importing it now fails
    for name in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    photos = _photos(tmp_path / "in", 2)
    assert main(["matte", str(photos), "--out", str(tmp_path / "out"), "--model", str(free_model), "--quiet"]) == 0
    assert len(list((tmp_path / "out").iterdir())) == 4
    alone = current_processes(environ={})
    assert type(alone) is Processes and alone.count == 1 and alone.split([1, 2]) == [1, 2]
    assert alone.broadcast("plan") == "plan" and alone.gather(3) == [3]
    with pytest.raises(DistributedSetupError, match="2 processes.*accelerate"):
        current_processes(environ={"WORLD_SIZE": "2"})


def test_batch_size_writes_the_same_mattes(tmp_path, free_model):
    photos = _photos(tmp_path / "in", 5)
    base = ["matte", str(photos), "--model", str(free_model), "--quiet"]
    assert main(base + ["--out", str(tmp_path / "one")]) == 0
    assert main(base + ["--out", str(tmp_path / "three"), "--batch-size", "3"]) == 0
    one, three = _files(tmp_path / "one"), _files(tmp_path / "three")
    assert one.keys() == three.keys() and len(one) == 10
    for name in one:  # a batch's float result may differ in the last bits: at most one grey level
        a = np.asarray(Image.open(tmp_path / "one" / name), dtype=int)
        b = np.asarray(Image.open(tmp_path / "three" / name), dtype=int)
        assert np.abs(a - b).max() <= 1, name
    assert main(base + ["--out", str(tmp_path / "x"), "--batch-size", "0"]) == 2


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory, free_model):
    """A folder of five photos and a broken file sorted last (in the second process's share at --batch-size 2), and
    what one process writes for it, {name: bytes}."""
    root = tmp_path_factory.mktemp("catalogue")
    photos = _photos(root / "in", 5)
    (photos / "z_broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    args = [photos, "--model", free_model, "--batch-size", "2"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each launched process (OMP_NUM_THREADS=1): float results depend on the threads
    try:
        assert main(["matte", *map(str, args), "--out", str(root / "one"), "--quiet"]) == 1
    finally:
        torch.set_num_threads(threads)
    expected = _files(root / "one")
    assert len(expected) == 10 and "z_broken_alpha.png" not in expected
    return args, expected


@pytest.mark.e2e
def test_two_processes_write_what_one_writes_and_report_failures(tmp_path, catalogue):
    args, expected = catalogue
    run = _launch([*args, "--out", tmp_path / "two"], tmp_path)
    assert run.returncode != 0, run.stdout + run.stderr[-3000:]  # the broken image was the second process's
    assert "z_broken.jpg" in run.stderr
    assert "5/6 images matted" in run.stdout and "by 2 processes in" in run.stdout and "; 1 failed" in run.stdout
    assert _files(tmp_path / "two") == expected  # each output once (no leftovers), byte-identical


@pytest.mark.e2e
@pytest.mark.slow
def test_two_processes_resume_a_stopped_run(tmp_path, catalogue):
    args, expected = catalogue
    out = tmp_path / "two"
    out.mkdir()
    for name, data in expected.items():  # a stopped run: p1 and p3 not done yet
        if not name.startswith(("p1_", "p3_")):
            (out / name).write_bytes(data)
    run = _launch([*args, "--out", out], tmp_path)
    assert run.returncode != 0 and run.stderr.count("already exist") == 1  # refused once, by the main process
    run = _launch([*args, "--out", out, "--skip-existing"], tmp_path)
    assert run.returncode != 0 and "z_broken.jpg" in run.stderr  # still broken
    assert "2/3 images matted" in run.stdout and "1 failed; 3 skipped" in run.stdout
    assert _files(out) == expected
