"""What the benchmark scripts share: paths, the process's memory from /proc, closed-form matting, Markdown tables.

Scripts put the project root first on ``sys.path`` (so this checkout's ``afmatting`` and ``benchmarks`` are the ones
imported) and then import from here::

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.common import PROJECT_ROOT, SHARED_DATA  # noqa: E402
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from pathlib import Path

import numpy as np

#: the checkout's root folder
PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: the real photos and datasets (read-only; AFMATTING_SHARED_DATA overrides)
SHARED_DATA = Path(os.environ.get("AFMATTING_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
#: where measuring scripts write their JSON by default (benchmarks/report.py renders it)
RESULTS_DIR = PROJECT_ROOT / "docs"


# ------------------------------------------------------------------------------------------------------- memory
def status_kib(field: str) -> int:
    """A field of /proc/self/status in KiB: ``VmRSS`` (resident now) or ``VmHWM`` (resident high-water mark)."""
    with open("/proc/self/status") as fh:
        return int(re.search(rf"{field}:\s+(\d+)", fh.read()).group(1))


def reset_peak_memory() -> bool:
    """Reset VmHWM to the current resident size (writing 5 to /proc/self/clear_refs, Linux >= 4.0); False where the
    kernel refuses, and the peak then counts from the process's start."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


# ------------------------------------------------------------------------------------------------- closed-form
def import_pymatting():
    """pymatting, a benchmark-only dependency, or an error saying how to install it."""
    try:
        import pymatting
    except ImportError:
        raise ImportError("The classical rows need pymatting, a benchmark-only dependency (not installed with "
                          "afmatting): run `.venv/bin/pip install pymatting`.") from None
    return pymatting


def classical_matte(method: str = "cf"):
    """``(image float (H, W, 3) in [0, 1], trimap uint8 (H, W)) -> alpha float64 (H, W)``: pymatting's closed-form
    (``"cf"``) or KNN (``"knn"``) matting with its default settings, its numba kernels compiled beforehand (on a tiny
    image) so the first timed image does not pay for them."""
    pymatting = import_pymatting()
    solver = {"cf": pymatting.estimate_alpha_cf, "knn": pymatting.estimate_alpha_knn}[method]

    def matte(image, trimap):
        # pymatting prints preconditioner retries (ichol with a shift) to stdout: keep tables clean
        with contextlib.redirect_stdout(sys.stderr):
            return solver(np.asarray(image, dtype=np.float64), np.asarray(trimap).astype(np.float64) / 255.0)

    rng = np.random.default_rng(0)
    tiny = np.full((24, 24), 128, np.uint8)
    tiny[:, :6], tiny[:, -6:] = 0, 255
    matte(rng.random((24, 24, 3)), tiny)
    return matte


def closed_form(image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """Closed-form matting for any trimap: float (H, W, 3), uint8 (H, W) -> float32 (H, W) in [0, 1]. A trimap with
    one known label (or none) gets that constant: the Laplacian's minimiser (pymatting needs both labels)."""
    has_bg, has_fg = (trimap == 0).any(), (trimap == 255).any()
    if not (has_bg and has_fg):
        return np.full(trimap.shape, 1.0 if has_fg else 0.0, np.float32)
    pymatting = import_pymatting()
    with contextlib.redirect_stdout(sys.stderr):
        out = pymatting.estimate_alpha_cf(np.asarray(image, np.float64), trimap.astype(np.float64) / 255.0)
    return np.clip(out, 0, 1).astype(np.float32)


# ------------------------------------------------------------------------------------------------------- tables
def markdown_table(header: list[str], rows: list[list], align_right_from: int = 1) -> str:
    """A Markdown table: ``header`` cells, then one line per row (cells as given, str() applied); columns from
    ``align_right_from`` on are right-aligned (numbers)."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i < align_right_from else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
