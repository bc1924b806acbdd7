"""Folder runs over several processes: ``accelerate launch -m afmatting.cli matte ...`` (or ``torchrun`` / ``mpirun``).

A plain ``afmatting matte`` is one process and never imports accelerate (an optional dependency, installed with
``afmatting[train]``). When a launcher started more than one process (its environment says so: ``WORLD_SIZE``, or
an MPI world size, above 1), :func:`current_processes` sets up accelerate's ``PartialState`` and the run is split.

The contract a folder run follows over N processes (one process is the case N = 1, with no communication):

* **Same calls, same order.** Every process calls :meth:`Processes.broadcast` once (the main process's plan or its
  refusal), :meth:`Processes.gather` once (each process's exit code and counts) and :meth:`Processes.wait` once
  (so that the main process has printed before anyone exits: a launcher stops the others as soon as one exits
  non-zero), whatever happened in between: a refused plan, a process that cannot load its model or whose images
  fail still reaches them, so nobody waits forever. A process that dies instead (an exception that is not an
  image's own error, a kill) is seen by the launcher, which stops the others and exits non-zero.
* **One plan.** The main process decides the output plan (inputs, collisions, existing files) and its batches, and
  broadcasts them: the others never look at the output folder themselves, so a file the main process has just
  written cannot change their plan, and only the main process prints a refusal.
* **Whole batches are split, not images.** The input list is cut into batches of ``batch_size`` consecutive
  images (an image skipped by a resumed run leaves a gap in its batch; the others keep their batch-mates), and
  :meth:`Processes.split` hands each process a contiguous run of batches (accelerate's ``split_between_processes``:
  the shares are disjoint and, concatenated in process order, give the list back). An image therefore meets the
  same batch-mates whatever N is, and its outputs are byte-identical to a one-process run with the same
  ``--batch-size`` and the same threads per process (``OMP_NUM_THREADS``, which ``accelerate launch`` sets from
  its ``--num_cpu_threads_per_process``: by default the caller's ``OMP_NUM_THREADS``, else 1): the network's float
  result can depend, in the last bits, on a batch's content and on how its sums are split between threads, and a
  last bit can flip a rounded grey level.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

from .errors import AFMattingError

#: environment variables in which launchers give the number of processes (torchrun/accelerate, then MPI flavours)
WORLD_SIZE_VARIABLES = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


class DistributedSetupError(AFMattingError):
    """A multi-process launch that cannot be set up (accelerate missing, or fewer processes joined than launched)."""


def launched_process_count(environ=None) -> int:
    """How many processes the launcher started (1 for a plain command: no launcher variable, or a bad value)."""
    environ = os.environ if environ is None else environ
    counts = []
    for name in WORLD_SIZE_VARIABLES:
        try:
            counts.append(int(environ.get(name, "1")))
        except ValueError:
            continue
    return max(counts, default=1)


def batches(items: Sequence, batch_size: int, positions: Sequence[int] | None = None) -> list[list]:
    """``items`` grouped into batches, the unit of work split between processes: the items whose position (their
    index in the whole run's input list; default 0, 1, ...) divided by ``batch_size`` is the same, in order.

    With positions, an item keeps its batch-mates when others are left out (a resumed run skips finished images),
    so its result does not depend on what was done before.
    """
    if batch_size < 1:
        raise AFMattingError(f"batch_size must be at least 1, got {batch_size}.")
    positions = range(len(items)) if positions is None else positions
    grouped: dict[int, list] = {}
    for item, position in zip(items, positions, strict=True):
        grouped.setdefault(position // batch_size, []).append(item)
    return list(grouped.values())


class Processes:
    """One process, alone: the interface a folder run uses, without communication.

    Attributes: ``index`` (0 .. count-1), ``count`` (number of processes), ``is_main`` (index 0), ``device`` (the
    torch device this process should run on, or None: the caller's choice).
    """

    index, count, is_main, device = 0, 1, True, None

    def broadcast(self, value: Any) -> Any:
        """The main process's ``value`` (picklable), on every process; the others' ``value`` is ignored."""
        return value

    def split(self, items: Sequence) -> list:
        """This process's contiguous share of ``items`` (alone: all of them); computed locally, no communication."""
        return list(items)

    def gather(self, value: Any) -> list:
        """Every process's ``value`` (picklable), in process order, on every process."""
        return [value]

    def wait(self) -> None:
        """Return when every process has called ``wait`` (a barrier)."""

    def close(self) -> None:
        """Release the communication (nothing to do alone)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(index={self.index}, count={self.count})"


class AccelerateProcesses(Processes):
    """The processes of one launch, through accelerate's ``PartialState`` (gloo on CPU, NCCL on GPUs)."""

    def __init__(self, state):
        self.state = state
        self.index, self.count = state.process_index, state.num_processes
        self.is_main = state.is_main_process
        self.device = state.device

    def broadcast(self, value: Any) -> Any:
        from accelerate.utils import broadcast_object_list

        box = [value if self.is_main else None]
        broadcast_object_list(box, from_process=0)
        return box[0]

    def split(self, items: Sequence) -> list:
        with self.state.split_between_processes(list(items)) as share:
            return list(share)

    def gather(self, value: Any) -> list:
        from accelerate.utils import gather_object

        return list(gather_object([value]))

    def wait(self) -> None:
        self.state.wait_for_everyone()

    def close(self) -> None:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


def current_processes(cpu: bool = False, environ=None) -> Processes:
    """The processes of this run: :class:`Processes` (alone) unless a launcher started several, then
    :class:`AccelerateProcesses`.

    ``cpu``: run every process on the CPU (gloo) even where an accelerator exists; it is also chosen when
    accelerate's launcher asked for it (``ACCELERATE_USE_CPU``) or when this machine has no accelerator.
    Raises DistributedSetupError when accelerate is not installed or fewer processes joined than were launched
    (so that no image is matted twice by processes that each believe they are alone).
    """
    environ = os.environ if environ is None else environ
    launched = launched_process_count(environ)
    if launched <= 1:
        return Processes()
    try:
        from accelerate import PartialState
    except ImportError:
        raise DistributedSetupError(
            f"This command was launched as {launched} processes, which needs accelerate: pip install "
            f"'afmatting[train]' (or run it as one process)."
        ) from None
    cpu = cpu or environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes") or not _has_accelerator()
    try:
        state = PartialState(cpu=cpu)
    except (ValueError, RuntimeError) as e:  # e.g. WORLD_SIZE set by hand, without a launcher's MASTER_ADDR
        raise DistributedSetupError(f"Cannot join the {launched} launched processes: {e}") from None
    if state.num_processes != launched:
        raise DistributedSetupError(
            f"{launched} processes were launched but accelerate joined {state.num_processes} "
            f"({state.distributed_type}) on device {state.device}; pass --device cpu to split the run on CPUs."
        )
    return AccelerateProcesses(state)


def _has_accelerator() -> bool:
    import torch

    if hasattr(torch, "accelerator"):
        return torch.accelerator.is_available()
    return torch.cuda.is_available()
