"""Validation during training: the shared evaluation on held-out images, and the alpha-free objective on their
trimaps (the only score a trimap-only validation split has)."""

from __future__ import annotations

import numpy as np

from ..evaluation import evaluate
from .objective import image_objective, set_training_mode

ALPHA_METRICS = ("SAD", "MSE", "MAD", "Grad", "Conn")
OBJECTIVE_METRICS = ("objective", "known", "ddc")


def objective_rows(model, dataset, args) -> list[dict]:
    """One row per example of ``dataset``: ``name`` and :func:`image_objective`'s ``objective``, ``known``, ``ddc``."""
    from ..data import read_image_value, read_trimap_value

    model.eval()
    rows = []
    for example in dataset:
        image, trimap = read_image_value(example["image"]), read_trimap_value(example["trimap"])
        rows.append({"name": example["name"], **image_objective(model, image, trimap, args)})
    return rows


def validate(accelerator, model, val_dataset, args, step: int) -> dict | None:
    """Score the model on this process's share of the validation split; the rows of all processes are gathered and
    averaged. Returns the mean of each metric, or None without a validation split.

    With alphas: SAD, MSE, MAD, Grad, Conn of the network's matte (:func:`afmatting.evaluation.evaluate`, refinement
    off). Without alphas, or with ``args.val_objective``: the alpha-free objective on the held-out trimaps
    (``objective``, ``known``, ``ddc``; see :func:`afmatting.training.objective.image_objective`).
    """
    from accelerate.utils import gather_object

    if val_dataset is None or len(val_dataset) == 0:
        return None
    has_alpha = "alpha" in val_dataset.column_names
    with_objective = bool(args.val_objective) or not has_alpha
    unwrapped = accelerator.unwrap_model(model)
    count = len(val_dataset) if args.val_limit is None else min(args.val_limit, len(val_dataset))
    panels = []  # the main process's first mattes, for TensorBoard (kept from the evaluation, not predicted again)

    def keep_panel(name, image, alpha, gt):
        if len(panels) < (args.num_val_images_logged or 0):
            panels.append((name, image, alpha, gt))

    with accelerator.split_between_processes(list(range(count))) as mine:
        alpha_rows, objective = [], []
        if mine:
            subset = val_dataset.select(mine)
            if has_alpha:
                _, alpha_rows = evaluate(unwrapped, subset, region=args.val_region, max_side=args.val_max_side,
                                         progress=False,
                                         # validation scores the network alone
                                         predict_kwargs={"refine": False, "two_stage": False},
                                         on_prediction=keep_panel if accelerator.is_main_process else None)
            if with_objective:
                objective = objective_rows(unwrapped, subset, args)
    alpha_rows, objective = gather_object(alpha_rows), gather_object(objective)
    set_training_mode(model, args.freeze_norm_stats)
    metrics = {}
    for rows, keys in ((alpha_rows, ALPHA_METRICS), (objective, OBJECTIVE_METRICS)):
        if rows:
            metrics.update({k: float(np.mean([r[k] for r in rows])) for k in keys})
    accelerator.log({f"val/{k}": v for k, v in metrics.items()}, step=step)
    if accelerator.is_main_process and panels:
        log_val_images(accelerator, panels, step)
    return metrics


def log_val_images(accelerator, panels, step: int) -> None:
    """Validation mattes (image | prediction | ground truth) for TensorBoard, from ``(name, image, alpha, gt)``."""
    try:
        tracker = accelerator.get_tracker("tensorboard", unwrap=True)
    except (ValueError, AttributeError):
        return
    if not hasattr(tracker, "add_image"):
        return
    for name, image, alpha, gt in panels:
        grey = lambda a: np.repeat(a[..., None], 3, axis=2)  # noqa: E731
        panel = np.concatenate([image.astype(np.float32) / 255.0, grey(alpha), grey(gt.astype(np.float32) / 255.0)],
                               axis=1)
        tracker.add_image(f"val/{name}", panel, step, dataformats="HWC")
