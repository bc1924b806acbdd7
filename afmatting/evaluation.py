"""Evaluation loop shared by ``afmatting eval``, the benchmarks and training's validation.

``evaluate(model, dataset)`` runs ``model.predict`` on every example and scores it with the DIM-exact
:func:`afmatting.metrics.compute_metrics`. Trimap-input models (``model.trimap_input``) get the dataset's trimap;
trimap-free models get the image only. The scored region is the trimap's unknown band (``region="unknown"``, DIM
protocol) or the whole image (``region="whole"``, the AM-2K / P3M protocol) either way.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np

from .errors import AFMattingError, DatasetError
from .metrics import METRIC_NAMES, compute_metrics, mean_metrics
from .processing import DEFAULT_MAX_SIDE, check_max_side, to_uint8

REGIONS = ("unknown", "whole")


def evaluate(
    model,
    dataset,
    region: str = "unknown",
    max_side: int | None = DEFAULT_MAX_SIDE,
    progress: bool = True,
    *,
    device=None,
    limit: int | None = None,
    on_prediction=None,
    predict_kwargs: dict | None = None,
) -> tuple[dict[str, float], list[dict]]:
    """Score a model on a matting dataset.

    Args:
        model: anything with ``predict(image, trimap=None, max_side=..., device=...)`` returning an object whose
            ``.alpha`` is float32 (H, W) in [0, 1], and a boolean ``trimap_input`` (e.g.
            :class:`afmatting.model.AFMatting`).
        dataset: a ``datasets.Dataset`` (or any iterable of dicts, e.g. :func:`afmatting.data.folder_examples`) with
            ``image``, ``trimap``, ``alpha`` and ``name``.
        region: ``"unknown"`` scores the trimap's unknown pixels, ``"whole"`` every pixel.
        max_side: passed to ``predict`` (see :mod:`afmatting.processing`; None: full resolution).
        progress: show a tqdm bar.
        device: passed to ``predict`` when not None.
        limit: score at most this many examples.
        on_prediction: called as ``on_prediction(name, image, alpha, gt)`` after each prediction (image uint8
            (H, W, 3), alpha float32 (H, W) in [0, 1], gt uint8 (H, W)), e.g. to log or save mattes without
            predicting twice.
        predict_kwargs: more keyword arguments of ``predict`` (e.g. ``refine=False``).

    Returns:
        ``(means, rows)``: means of SAD, MSE, MAD, Grad, Conn and ``time_s`` (seconds per predict call) plus
        ``count``; one row per image with ``name``, the metrics, ``time_s``, ``height``, ``width``.
    """
    from .data import read_alpha_value, read_image_value, read_trimap_value

    if region not in REGIONS:
        raise AFMattingError(f"region must be one of {REGIONS}, got '{region}'.")
    column_names = getattr(dataset, "column_names", None)
    if column_names is not None and "alpha" not in column_names:
        raise DatasetError(
            f"The dataset has no 'alpha' column (columns: {column_names}); evaluation needs ground-truth alpha."
        )
    trimap_input = bool(getattr(model, "trimap_input", False))
    predict_kwargs = {**(predict_kwargs or {}), "max_side": check_max_side(max_side)}
    if device is not None:
        predict_kwargs["device"] = device

    total = len(dataset) if hasattr(dataset, "__len__") else None
    if total is not None and limit is not None:
        total = min(total, limit)
    iterator = iter(dataset)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, total=total, desc="Evaluating", unit="img")
    rows: list[dict] = []
    for index, example in enumerate(iterator):
        if limit is not None and index >= limit:
            break
        name = str(example.get("name", f"{index:06d}"))
        if example.get("alpha") is None:
            raise DatasetError(f"Example '{name}' has no alpha; evaluation needs ground truth.")
        image = read_image_value(example["image"])
        trimap = read_trimap_value(example["trimap"])
        gt = read_alpha_value(example["alpha"])
        if trimap.shape != gt.shape or image.shape[:2] != gt.shape:
            raise DatasetError(
                f"Example '{name}': image {image.shape[1]}x{image.shape[0]}, trimap {trimap.shape[1]}x"
                f"{trimap.shape[0]} and alpha {gt.shape[1]}x{gt.shape[0]} must have the same size."
            )
        start = time.perf_counter()
        result = model.predict(image, trimap=trimap if trimap_input else None, **predict_kwargs)
        elapsed = time.perf_counter() - start
        pred = np.asarray(getattr(result, "alpha", result), dtype=np.float32)
        if pred.shape != gt.shape:
            raise AFMattingError(
                f"Example '{name}': the model returned alpha of shape {pred.shape}, expected {gt.shape}."
            )
        pred = np.clip(pred, 0.0, 1.0)
        if on_prediction is not None:
            on_prediction(name, to_uint8(image), pred, gt)
        scores = compute_metrics(pred, gt, trimap if region == "unknown" else None)
        rows.append({"name": name, **scores, "time_s": elapsed, "height": gt.shape[0], "width": gt.shape[1]})
    if not rows:
        raise DatasetError("The dataset is empty: nothing to evaluate.")
    means = mean_metrics(rows, METRIC_NAMES + ("time_s",))
    means["count"] = len(rows)
    return means, rows


def format_table(means: dict, title: str = "") -> str:
    """The mean metrics as a small fixed-width table (SAD, Grad, Conn /1000; MSE, MAD x1e3; seconds per image)."""
    header = f"{'SAD':>9} {'MSE':>9} {'MAD':>9} {'Grad':>9} {'Conn':>9} {'s/img':>8} {'images':>7}"
    values = " ".join(f"{means[k]:9.3f}" for k in METRIC_NAMES)
    line = f"{values} {means.get('time_s', float('nan')):8.3f} {int(means.get('count', 0)):7d}"
    return "\n".join(x for x in (title, header, line) if x)


def write_csv(rows: list[dict], path) -> Path:
    """Per-image rows to CSV (name, SAD, MSE, MAD, Grad, Conn, time_s, height, width)."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    fields = ["name", *METRIC_NAMES, "time_s", "height", "width"]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def evaluate_trimaps(model, root, trimaps=("trimap",), *, image_dir: str = "image", alpha_dir: str = "alpha",
                     limit: int | None = None, **evaluate_kwargs) -> tuple[dict[str, dict], dict[str, list[dict]]]:
    """Score ``model`` on a raw folder (``image_dir``, ``alpha_dir`` and one or more trimap folders, e.g. the
    alphamatting.com set's ``trimap1`` and ``trimap2``), once per trimap folder, in its unknown region.

    Returns ``({trimap: means}, {trimap: rows})`` of :func:`evaluate` (``evaluate_kwargs`` go to it).
    """
    from .data import folder_examples

    results, rows = {}, {}
    for trimap in trimaps:
        examples = folder_examples(root, image_dir=image_dir, alpha_dir=alpha_dir, trimap_dir=trimap, limit=limit)
        results[trimap], rows[trimap] = evaluate(model, examples, region="unknown", **evaluate_kwargs)
    return results, rows


#: columns of :func:`markdown_table`, per split
TABLE_METRICS = ("SAD", "MSE", "Grad", "Conn")


def markdown_table(rows: list[dict], splits) -> str:
    """Rows ``{"label", "results": {split: means}}`` as a markdown table: per split SAD, MSE, Grad, Conn, s/img."""
    def title(name: str) -> str:
        return name[:1].upper() + name[1:]

    head = ["Method"]
    for split in splits:
        head += [f"{title(split)} {m}" for m in TABLE_METRICS] + [f"{title(split)} s/img"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join([":---"] + ["---:"] * (len(head) - 1)) + "|"]
    for row in rows:
        cells = [row["label"]]
        for split in splits:
            means = row["results"].get(split)
            if means is None:
                cells += ["–"] * (len(TABLE_METRICS) + 1)
                continue
            cells += [f"{means[m]:.2f}" for m in TABLE_METRICS] + [f"{means['time_s']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
