"""Training checkpoints that survive a kill at any moment, and finding the newest complete one to resume from.

A checkpoint is accelerate's ``save_state`` folder ``checkpoint-<step>``, written as ``.checkpoint-<step>.partial``,
completed with :data:`COMPLETE_MARKER` (every file and its size) and renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

__all__ = ["COMPLETE_MARKER", "checkpoint_problem", "checkpoint_step", "complete_checkpoints",
           "latest_complete_checkpoint", "save_checkpoint_atomically"]

#: written last into a checkpoint folder, listing every file with its size: a folder without it was cut off
COMPLETE_MARKER = "checkpoint_complete.json"
#: files accelerate always writes; checkpoints from before the marker existed are judged by these
REQUIRED_STATE_FILES = ("optimizer.bin", "scheduler.bin", "random_states_0.pkl")


def checkpoint_step(folder: Path) -> int | None:
    """The step of a ``checkpoint-<step>`` folder, None for any other name."""
    prefix, _, number = folder.name.partition("-")
    return int(number) if prefix == "checkpoint" and number.isdigit() else None


def checkpoint_problem(folder: Path) -> str | None:
    """Why ``folder`` is not a complete checkpoint (a short phrase), or None when it is complete.

    Complete means: the marker lists every file with its size and they all match. Folders saved before the marker
    existed pass when accelerate's state files are present and every safetensors file's header and length check out.
    """
    marker = folder / COMPLETE_MARKER
    if marker.is_file():
        try:
            sizes = json.loads(marker.read_text())["files"]
        except (ValueError, KeyError, TypeError):
            return f"its {COMPLETE_MARKER} is unreadable"
        for name, size in sizes.items():
            path = folder / name
            if not path.is_file() or path.stat().st_size != size:
                return f"'{name}' is missing or has the wrong size"
        return None
    missing = [name for name in REQUIRED_STATE_FILES if not (folder / name).is_file()]
    weights = sorted(folder.glob("model*.safetensors"))
    if missing or not weights:
        return f"no {COMPLETE_MARKER} and missing {missing or ['model.safetensors']}"
    from safetensors import safe_open

    for path in weights:
        try:
            with safe_open(str(path), framework="pt"):  # checks the header against the file's length
                pass
        except Exception as e:  # noqa: BLE001  (safetensors raises several types for a cut-off file)
            return f"'{path.name}' is unreadable ({type(e).__name__})"
    return None


def complete_checkpoints(checkpoints_dir: Path, warn=None) -> list[Path]:
    """The complete ``checkpoint-<step>`` folders of ``checkpoints_dir``, oldest first; ``warn(message)`` is called
    for each incomplete one."""
    if not checkpoints_dir.is_dir():
        return []
    found = sorted((p for p in checkpoints_dir.iterdir() if p.is_dir() and checkpoint_step(p) is not None),
                   key=checkpoint_step)
    complete = []
    for folder in found:
        problem = checkpoint_problem(folder)
        if problem is None:
            complete.append(folder)
        elif warn is not None:
            warn(f"skipping incomplete checkpoint {folder} ({problem})")
    return complete


def latest_complete_checkpoint(checkpoints_dir: Path, warn=None) -> Path | None:
    """The newest complete checkpoint (incomplete newer ones are skipped, each named through ``warn``)."""
    complete = complete_checkpoints(checkpoints_dir, warn=warn)
    return complete[-1] if complete else None


def save_checkpoint_atomically(accelerator, checkpoints_dir: Path, step: int) -> Path:
    """Save the training state as ``checkpoints_dir/checkpoint-<step>`` so that a kill at any moment leaves either
    no such folder or a complete one: every process writes into a hidden temporary folder, the main process adds the
    completion marker and renames the folder into place (a rename within one file system is atomic)."""
    final = checkpoints_dir / f"checkpoint-{step}"
    partial = checkpoints_dir / f".checkpoint-{step}.partial"
    if accelerator.is_main_process:
        checkpoints_dir.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(partial, ignore_errors=True)  # left by a process killed while saving
    accelerator.wait_for_everyone()
    accelerator.save_state(str(partial))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        files = {p.relative_to(partial).as_posix(): p.stat().st_size for p in partial.rglob("*") if p.is_file()}
        marker = partial / COMPLETE_MARKER
        with open(marker, "w") as f:
            json.dump({"step": step, "files": files}, f)
            f.flush()
            os.fsync(f.fileno())
        if final.exists():  # saved again at the same step (an interrupt right after a scheduled save)
            stale = checkpoints_dir / f".checkpoint-{step}.replaced"
            shutil.rmtree(stale, ignore_errors=True)
            os.replace(final, stale)
            os.replace(partial, final)
            shutil.rmtree(stale, ignore_errors=True)
        else:
            os.replace(partial, final)
    accelerator.wait_for_everyone()
    return final
