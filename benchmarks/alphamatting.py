"""Reproduction-table harness: score models and classical matting on the alphamatting.com training set.

The set (``../shared/data/alphamatting``: ``image/GT01..GT27.png``, ``alpha/`` grey stored as RGB, ``trimap1/`` and
``trimap2/`` palette PNGs) has real ground truth. Every row is scored in the trimap's unknown region with the
DIM-exact :func:`afmatting.metrics.compute_metrics` (SAD, MSE, MAD, Grad, Conn) plus seconds per image.

    # models (trimap-input models get the trimap; trimap-free ones the image only, scored in the same region)
    .venv/bin/python benchmarks/alphamatting.py --model runs/ddc --model runs/dc --json out.json
    # classical anchors (pymatting is a benchmark-only dependency: .venv/bin/pip install pymatting)
    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 .venv/bin/python benchmarks/alphamatting.py --classical cf knn \\
        --json docs/results_classical.json

Importable: :func:`load_alphamatting`, :func:`evaluate_model_dir`, :func:`evaluate_classical`,
:func:`evaluate_ddc_solver` (the table itself: :func:`afmatting.evaluation.markdown_table`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's afmatting and benchmarks

from afmatting.data import folder_examples, read_alpha_value, read_image_value, read_trimap_value  # noqa: E402
from afmatting.errors import AFMattingError  # noqa: E402
from afmatting.evaluation import evaluate_trimaps, markdown_table  # noqa: E402
from afmatting.processing import DEFAULT_MAX_SIDE, max_side_argument  # noqa: E402
from benchmarks.common import PROJECT_ROOT, SHARED_DATA, classical_matte, import_pymatting  # noqa: E402

DEFAULT_ROOT = SHARED_DATA / "alphamatting"
TRIMAPS = ("trimap1", "trimap2")
CLASSICAL = {"cf": "closed-form matting", "knn": "KNN matting"}


# ---------------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------------


def load_alphamatting(root=DEFAULT_ROOT, trimap: str = "trimap1", limit: int | None = None) -> list[tuple]:
    """The alphamatting.com training set with one of its trimaps, read with the library's readers.

    Args:
        root: folder with ``image/``, ``alpha/``, ``trimap1/`` and ``trimap2/`` (same file names in each).
        trimap: ``"trimap1"`` (tighter) or ``"trimap2"`` (wider); any sub-folder name of ``root`` is accepted.
        limit: keep only the first N images (sorted by name).

    Returns:
        ``[(name, image, trimap, alpha), ...]`` sorted by name: image float32 (H, W, 3) in [0, 1], trimap uint8 (H, W)
        {0, 128, 255}, ground-truth alpha float32 (H, W) in [0, 1] (exactly ``uint8 / 255``; the 3-channel grey file
        is reduced to one channel).
    """
    return [
        (row["name"], read_image_value(row["image"]), read_trimap_value(row["trimap"]),
         read_alpha_value(row["alpha"]).astype(np.float32) / np.float32(255.0))
        for row in folder_examples(root, trimap_dir=trimap, limit=limit)
    ]


# ---------------------------------------------------------------------------------------------------------------
# Scoring: every row goes through afmatting.evaluation
# ---------------------------------------------------------------------------------------------------------------


class MatteFunction:
    """A per-image matting function ``(image, trimap) -> alpha`` in the shape :func:`afmatting.evaluation.evaluate`
    scores (a trimap-input "model" with ``predict``), for the rows without a network."""

    trimap_input = True

    def __init__(self, matte):
        self.matte = matte

    def predict(self, image, trimap=None, **_):
        return self.matte(np.asarray(image, dtype=np.float32), trimap)


class AdamRefined:
    """A trimap-input model whose matte is then refined by the earlier Adam refinement
    (:func:`benchmarks.baselines.refine_adam.refine_alpha_adam`, ``steps`` per level): the recorded ``refine_steps``
    rows."""

    trimap_input = True

    def __init__(self, model, steps: int):
        self.model, self.steps = model, int(steps)

    def predict(self, image, trimap=None, **kwargs):
        from benchmarks.baselines.refine_adam import refine_alpha_adam

        result = self.model.predict(image, trimap=trimap, **{**kwargs, "refine": False})
        start = time.perf_counter()
        result.alpha = refine_alpha_adam(result.image, result.trimap, result.alpha, self.steps,
                                         max_side=kwargs.get("max_side"), device=self.model.device)
        result.extra.update(refine_steps=self.steps, refine_seconds=time.perf_counter() - start)
        return result


def _score(model, root, trimaps, limit, quiet: bool, **evaluate_kwargs):
    """Means and rows per trimap folder of :func:`afmatting.evaluation.evaluate_trimaps`, unknown region."""
    return evaluate_trimaps(model, root, trimaps, limit=limit, progress=not quiet, **evaluate_kwargs)


def evaluate_model_dir(
    model_dir,
    root=DEFAULT_ROOT,
    trimaps=TRIMAPS,
    max_side: int | None = DEFAULT_MAX_SIDE,
    adapt_steps: int = 0,
    refine_steps: int = 0,
    *,
    refine: bool = False,
    limit: int | None = None,
    device=None,
    return_rows: bool = False,
    quiet: bool = True,
):
    """Score an afmatting model (directory, Hub id or bundled name) on the alphamatting set.

    Trimap-input models get the trimap; trimap-free models get the image only and are still scored in the
    trimap's unknown region. ``predict``'s known-region rule applies to trimap-input models as at inference.

    Args:
        model_dir: anything :meth:`afmatting.AFMatting.from_pretrained` loads.
        root: the alphamatting folder.
        trimaps: trimap folders to score with (one result each).
        max_side: network long side passed to ``predict`` (see :mod:`afmatting.processing`; None: full resolution).
        adapt_steps: test-time adaptation steps per image (trimap-input models only).
        refine_steps: the earlier gradient refinement's steps per level and image (trimap-input models only).
        refine: the band solver's refinement (``predict``'s default); off here so the network rows score the
            network alone.
        limit: score only the first N images.
        device: torch device for ``predict``.
        return_rows: also return the per-image rows.
        quiet: no progress bar.

    Returns:
        ``{trimap: {"SAD", "MSE", "MAD", "Grad", "Conn", "time_s", "count"}}`` (means; ``time_s`` is seconds per
        ``predict`` call, adaptation and refinement included), and with ``return_rows`` also ``{trimap: [row, ...]}``.
    """
    from afmatting import AFMatting

    model = AFMatting.from_pretrained(str(model_dir))
    if (adapt_steps or refine_steps) and not model.trimap_input:
        raise AFMattingError(f"adapt_steps / refine_steps need a trimap-input model; '{model_dir}' is trimap-free.")
    predict_kwargs = {"adapt_steps": int(adapt_steps)} if adapt_steps else {}
    if model.trimap_input:
        predict_kwargs["refine"] = bool(refine)
    if refine_steps:
        model = AdamRefined(model, refine_steps)
    results, rows = _score(model, root, trimaps, limit, quiet, max_side=max_side, device=device,
                           predict_kwargs=predict_kwargs)
    return (results, rows) if return_rows else results


def classical_matte_fn(method: str):
    """``(image float (H, W, 3), trimap uint8 (H, W)) -> alpha float64 (H, W)`` with pymatting's default settings
    (:func:`benchmarks.common.classical_matte`: numba kernels compiled beforehand, not timed)."""
    if method not in CLASSICAL:
        raise AFMattingError(f"method must be one of {tuple(CLASSICAL)}, got '{method}'.")
    return classical_matte(method)


def evaluate_classical(
    method: str,
    root=DEFAULT_ROOT,
    trimaps=TRIMAPS,
    *,
    limit: int | None = None,
    return_rows: bool = False,
    quiet: bool = True,
):
    """Score pymatting's closed-form (``"cf"``) or KNN (``"knn"``) matting; same result format as
    :func:`evaluate_model_dir`. The numba JIT compile is done on a tiny image first and not timed."""
    matte = classical_matte_fn(method)
    results, rows = _score(MatteFunction(matte), root, trimaps, limit, quiet, max_side=None)
    return (results, rows) if return_rows else results


def evaluate_ddc_solver(root=DEFAULT_ROOT, trimaps=TRIMAPS, steps: int = 200, *, limit: int | None = None,
                        return_rows: bool = False, quiet: bool = True):
    """Score the paper's objective as a per-image solver with no network: known + DDC minimised by
    :func:`benchmarks.baselines.refine_adam.refine_alpha_adam` from a flat start (0.5 on the unknown pixels). Same format as
    :func:`evaluate_model_dir`; it shows what the trained network adds to the loss alone."""
    from benchmarks.baselines.refine_adam import refine_alpha_adam as refine_alpha
    from afmatting.trimap import trimap_to_float

    def matte(image, tri):
        return refine_alpha(image, tri, trimap_to_float(tri), steps)  # flat start: the trimap itself, 0.5 unknown

    results, rows = _score(MatteFunction(matte), root, trimaps, limit, quiet, max_side=None)
    return (results, rows) if return_rows else results


# ---------------------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------------------


def _environment() -> dict:

    env = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "threads": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS") if os.environ.get(k)},
    }
    try:
        import pymatting

        env["pymatting"] = pymatting.__version__
    except ImportError:
        pass
    return env


def _command_line(argv) -> str:
    """The command as typed from the project root: thread variables, interpreter, script, arguments."""
    import shlex

    python = Path(sys.executable)
    try:
        python = python.relative_to(PROJECT_ROOT)
    except ValueError:
        pass
    env = [f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS") if os.environ.get(k)]
    args = sys.argv[1:] if argv is None else list(argv)
    return " ".join([*env, str(python), "benchmarks/alphamatting.py", *map(shlex.quote, args)])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Score models and classical matting on the alphamatting.com training set "
                                "(unknown-region DIM metrics, seconds per image).")
    p.add_argument("--model", action="append", default=[], metavar="DIR",
                   help="model directory / Hub id / bundled name (repeatable)")
    p.add_argument("--label", action="append", default=[], help="table label of each --model, in order")
    p.add_argument("--classical", nargs="+", choices=tuple(CLASSICAL), default=[],
                   help="classical anchors from pymatting (benchmark-only dependency)")
    p.add_argument("--root", default=str(DEFAULT_ROOT), help="alphamatting folder (default: ../shared/data/alphamatting)")
    p.add_argument("--trimaps", nargs="+", default=list(TRIMAPS), help="trimap folders (default: trimap1 trimap2)")
    p.add_argument("--max-side", type=max_side_argument, default=DEFAULT_MAX_SIDE,
                   help=f"network long side for models in pixels, or 'full' (default {DEFAULT_MAX_SIDE})")
    p.add_argument("--adapt", type=int, default=0, help="test-time adaptation steps per image (trimap models)")
    p.add_argument("--refine", type=int, default=0, help="test-time refinement steps per level (trimap models)")
    p.add_argument("--ddc-solver", type=int, default=0, metavar="STEPS",
                   help="also score known + DDC solved per image from a flat start, no network (steps per level)")
    p.add_argument("--device", default=None, help="torch device for models, e.g. cuda")
    p.add_argument("--limit", type=int, default=None, help="only the first N images")
    p.add_argument("--json", default=None, help="write means and per-image rows to this JSON file")
    p.add_argument("--verbose", action="store_true", help="show progress bars on stderr")
    args = p.parse_args(argv)
    if not args.model and not args.classical and not args.ddc_solver:
        p.error("nothing to evaluate: give --model, --classical and/or --ddc-solver.")
    if args.label and len(args.label) != len(args.model):
        p.error("give one --label per --model.")
    root = Path(args.root)
    if not root.is_dir():
        print(f"alphamatting folder not found: {root}", file=sys.stderr)
        return 2
    if args.classical:
        import_pymatting()  # fail before any model runs

    started = time.time()
    table_rows = []
    labels = args.label or [Path(m).name or m for m in args.model]
    for model_dir, label in zip(args.model, labels):
        if args.adapt:
            label = f"{label} + adapt {args.adapt}"
        if args.refine:
            label = f"{label} + refine {args.refine}"
        results, rows = evaluate_model_dir(model_dir, root, args.trimaps, max_side=args.max_side,
                                           adapt_steps=args.adapt, refine_steps=args.refine, limit=args.limit,
                                           device=args.device, return_rows=True, quiet=not args.verbose)
        table_rows.append({"label": label, "kind": "model", "model": str(model_dir), "max_side": args.max_side,
                           "adapt_steps": args.adapt, "refine_steps": args.refine, "results": results,
                           "per_image": rows})
    for method in args.classical:
        version = import_pymatting().__version__
        results, rows = evaluate_classical(method, root, args.trimaps, limit=args.limit, return_rows=True,
                                           quiet=not args.verbose)
        table_rows.append({"label": f"{CLASSICAL[method]} (pymatting {version})", "kind": "classical",
                           "method": method, "results": results, "per_image": rows})
    if args.ddc_solver:
        results, rows = evaluate_ddc_solver(root, args.trimaps, args.ddc_solver, limit=args.limit, return_rows=True,
                                            quiet=not args.verbose)
        table_rows.append({"label": f"known + DDC solved per image from a flat start, no network "
                                    f"({args.ddc_solver} steps per level)", "kind": "solver",
                           "refine_steps": args.ddc_solver, "results": results, "per_image": rows})
    print(markdown_table(table_rows, args.trimaps))
    if args.json:
        out = {
            "dataset": "alphamatting.com training set (27 images, real GT)",
            "root": str(root),
            "region": "trimap unknown (DIM protocol); SAD, Grad, Conn /1000, MSE x1e3",
            "command": _command_line(argv),
            "environment": _environment(),
            "wall_s": round(time.time() - started, 1),
            "rows": table_rows,
        }
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        print(f"Wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
