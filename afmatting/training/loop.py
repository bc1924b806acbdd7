"""The training loop (accelerate): data, model, optimiser, resume, steps, checkpoints, validation, the saved model.

:func:`train` runs one configuration (:mod:`afmatting.training.config`). ``train/train.py`` calls it with a
dataset named in the config; ``afmatting finetune`` with the user's images as in-memory splits and a bundled model
to start from.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import torch
import yaml
from accelerate import Accelerator
from accelerate.logging import get_logger
from accelerate.utils import DataLoaderConfiguration, ProjectConfiguration, set_seed
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..data import load_matting_dataset, training_dataset
from ..data.synthetic import make_synthetic_dataset
from ..errors import TrainingConfigError
from ..model import AFMatting
from .batches import EpochSeededDataset, epoch_repeats
from .checkpoints import (
    checkpoint_problem,
    checkpoint_step,
    complete_checkpoints,
    latest_complete_checkpoint,
    save_checkpoint_atomically,
)
from .objective import compute_losses, l2sp_penalty, set_training_mode, starting_point
from .optim import lr_multiplier, parameter_groups
from .validation import validate

logger = get_logger("afmatting.train")


def load_splits(args):
    """The (train, validation) splits named by ``args.dataset`` (validation None when the split is absent)."""
    if args.dataset == "synthetic":
        data = make_synthetic_dataset(args.synthetic_train, args.synthetic_val, size=args.synthetic_size,
                                      seed=args.seed)
    else:
        data = load_matting_dataset(args.dataset)
    if args.train_split not in data:
        raise TrainingConfigError(f"dataset '{args.dataset}' has no split '{args.train_split}' (splits: {list(data)})")
    train_split = data[args.train_split]
    val = data[args.val_split] if args.val_split and args.val_split in data else None
    return train_split, val


def build_model(args) -> AFMatting:
    """The network of the config, with the weights of ``args.init_from`` when given (same architecture, strict)."""
    model = AFMatting(
        backbone=args.backbone, trimap_input=args.trimap_input, pretrained_backbone=args.pretrained_backbone,
        detail_widths=tuple(args.detail_widths), fusion_widths=tuple(args.fusion_widths),
        neck_width=args.neck_width, head_width=args.head_width,
    )
    if args.init_from:
        from ..hub import load_checkpoint, resolve_source, resolve_weights_file

        source = resolve_source(str(args.init_from))  # bundled names resolve to their folder
        load_checkpoint(model, resolve_weights_file(str(source)))
    return model


#: settings a resumed run may change: how long it runs (``max_steps``, to extend a run; the schedule's milestones are
#: fractions of it) and where and how it logs, checkpoints, validates and runs; never what it learns (model, data,
#: loss, optimiser, batch, seed, precision: a change there would silently mix two runs)
RESUME_OVERRIDES = ("resume_from_checkpoint", "config", "output_dir", "max_steps", "num_workers", "num_threads",
                    "neighbours_in_workers", "log_with", "log_steps", "validation_steps", "val_limit",
                    "num_val_images_logged", "checkpointing_steps", "checkpoints_total_limit", "stop_after_steps",
                    "push_to_hub")


def check_resume_settings(args, checkpoint: Path) -> None:
    """TrainingConfigError naming every setting that differs from the run ``checkpoint`` belongs to (its
    ``config.yaml``), except RESUME_OVERRIDES. A run without a saved config (older runs) is not checked."""
    saved_path = checkpoint.resolve().parent.parent / "config.yaml"
    if not saved_path.is_file():
        return
    saved = yaml.safe_load(saved_path.read_text()) or {}
    current = vars(args)
    changed = [k for k in current if k not in RESUME_OVERRIDES and k in saved and saved[k] != current[k]
               and not (isinstance(saved[k], list) and list(current[k] or []) == saved[k])]
    if changed:
        details = ", ".join(f"{k} ({saved[k]!r} -> {current[k]!r})" for k in changed)
        raise TrainingConfigError(
            f"cannot resume '{checkpoint}' with different settings: {details}. Resume with the run's settings "
            f"({saved_path}), or start a new run in another --output_dir. Settings a resume may change: "
            f"{', '.join(RESUME_OVERRIDES[1:])}.")


def count_all_unknown(trimap: torch.Tensor, seen_before: int, step: int) -> int:
    """How many crops of a (B, 1, S, S) trimap batch ({0, 0.5, 1}) are unknown everywhere; the first such batch of a
    run logs a warning: the known-region loss has nothing to anchor those crops, and the DDC loss alone is satisfied
    by any flat matte, so a dataset of all-unknown trimaps trains nothing useful."""
    count = int((trimap != 0.5).flatten(1).any(dim=1).logical_not().sum())
    if count and not seen_before:
        logger.warning(f"step {step}: {count} of {trimap.shape[0]} training crops have trimaps that are unknown "
                       f"everywhere (no background or foreground pixel): the known-region loss cannot anchor them. "
                       f"Check the dataset's trimaps; the count is in train_summary.json.")
    return count


def resume_point(args, output_dir: Path) -> Path | None:
    """The checkpoint folder ``args.resume_from_checkpoint`` names (``latest``: the newest complete one), or None."""
    ckpt = args.resume_from_checkpoint
    if not ckpt:
        return None
    if ckpt == "latest":
        return latest_complete_checkpoint(output_dir / "checkpoints", warn=logger.warning)
    folder = Path(ckpt)
    if not folder.is_dir():
        raise TrainingConfigError(f"checkpoint '{ckpt}' does not exist")
    if checkpoint_step(folder) is None:
        raise TrainingConfigError(f"'{ckpt}' is not a checkpoint folder (its name must be checkpoint-<step>)")
    problem = checkpoint_problem(folder)
    if problem:
        raise TrainingConfigError(f"checkpoint '{ckpt}' is incomplete ({problem}); resume from an earlier one or "
                                  f"'latest', which skips incomplete checkpoints")
    return folder


def train(args, splits=None, extra_validation=None) -> dict:
    """Train with the configuration ``args``; returns the run's summary (also written to ``train_summary.json``).

    ``splits``: an optional ``(train, validation)`` pair of ``datasets.Dataset`` (validation may be None) used
    instead of ``args.dataset``. ``extra_validation``: an optional callable ``model -> {name: float}`` run at each
    validation after the split's own scores (``afmatting finetune``: the default path's score on the held-out
    photos); its names can be ``args.best_metric``. The model, its card and the summary are written to
    ``args.output_dir``; checkpoints to ``output_dir/checkpoints``; the best validated weights to
    ``output_dir/best``.
    """
    output_dir = Path(args.output_dir)
    log_with = None if str(args.log_with).lower() == "none" else [s.strip() for s in str(args.log_with).split(",")]
    accelerator = Accelerator(
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        mixed_precision=args.mixed_precision,
        log_with=log_with,
        project_config=ProjectConfiguration(project_dir=str(output_dir), automatic_checkpoint_naming=False,
                                            total_limit=args.checkpoints_total_limit),
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )
    set_seed(args.seed)
    if args.num_threads:
        torch.set_num_threads(int(args.num_threads))
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
    # a resume continues the run it comes from: its settings must be that run's (checked before anything is written)
    ckpt = resume_point(args, output_dir)
    if ckpt is not None:
        check_resume_settings(args, ckpt)
    if accelerator.is_main_process:
        (output_dir / "config.yaml").write_text(yaml.safe_dump(vars(args), sort_keys=False))

    # --- data: alpha-free modes remove the alpha column before any transform (structural, not a convention)
    train_split, val_split = splits if splits is not None else load_splits(args)
    supervision = "alpha" if args.loss == "alpha" else "alpha_free"
    with_neighbours = bool(args.neighbours_in_workers) and args.loss not in ("known", "alpha") \
        and args.ddc_padding == "valid"
    train_view = training_dataset(
        train_split, supervision, crop_size=args.crop_size, scale_range=tuple(args.scale_range), hflip=args.hflip,
        colour=args.colour_jitter, with_neighbours=with_neighbours, neighbour_kernel=args.kernel_size,
    )
    repeats = epoch_repeats(len(train_view), args.batch_size, args.min_batches_per_epoch)
    train_data = EpochSeededDataset(train_view, args.seed, repeats=repeats)
    train_dataloader = DataLoader(train_data, batch_size=args.batch_size, shuffle=True, drop_last=True,
                                  num_workers=args.num_workers, persistent_workers=False)
    if len(train_dataloader) == 0:
        raise TrainingConfigError(f"{len(train_data)} training images are fewer than one batch of {args.batch_size}")

    # --- model and optimiser
    model = build_model(args)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(parameter_groups(model, args), lr=args.learning_rate, betas=tuple(args.adam_betas))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_multiplier(step, args))
    model, optimizer, train_dataloader, scheduler = accelerator.prepare(model, optimizer, train_dataloader, scheduler)
    # L2-SP's anchor: the starting weights (init_from), on the device the model now lives on
    anchor = starting_point(accelerator.unwrap_model(model)) if args.l2sp_weight else None

    if log_with:
        tracker_config = {k: (json.dumps(v) if isinstance(v, (list, tuple, dict)) or v is None else v)
                          for k, v in vars(args).items()}
        accelerator.init_trackers("afmatting", config=tracker_config)

    batches_per_epoch = len(train_dataloader)
    steps_per_epoch = max(1, batches_per_epoch // args.gradient_accumulation_steps)
    global_step, first_epoch, skip_batches = 0, 0, 0

    # --- resume: same step, same data order (sampler epoch + skipped batches), same RNG and optimiser state
    if args.resume_from_checkpoint and ckpt is None:
        accelerator.print("No complete checkpoint found; starting from scratch.")
    elif ckpt is not None:
        accelerator.print(f"Resuming from {ckpt}")
        accelerator.load_state(str(ckpt))
        global_step = checkpoint_step(ckpt)
        consumed_batches = global_step * args.gradient_accumulation_steps
        first_epoch, skip_batches = divmod(consumed_batches, batches_per_epoch)

    def save_checkpoint(step: int) -> None:
        save_checkpoint_atomically(accelerator, output_dir / "checkpoints", step)
        if accelerator.is_main_process and args.checkpoints_total_limit:
            complete = complete_checkpoints(output_dir / "checkpoints")
            for old in complete[: max(0, len(complete) - args.checkpoints_total_limit)]:
                shutil.rmtree(old, ignore_errors=True)

    best = {"value": float("inf"), "step": None, "metrics": None}
    last_metrics, initial_metrics = None, None

    def run_validation(step: int):
        nonlocal last_metrics
        metrics = validate(accelerator, model, val_split, args, step)
        if metrics is None:
            return None
        if extra_validation is not None:
            metrics.update(extra_validation(accelerator.unwrap_model(model)))
            set_training_mode(model, args.freeze_norm_stats)
        last_metrics = metrics
        accelerator.print(f"step {step}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
        key = args.best_metric if args.best_metric in metrics else "objective"
        if step > 0 and metrics[key] < best["value"]:
            best.update(value=metrics[key], step=step, metrics=metrics)
            if accelerator.is_main_process and args.save_best:
                accelerator.unwrap_model(model).save_pretrained(
                    output_dir / "best", model_card_kwargs=card_kwargs(args, metrics, step))
        return metrics

    if args.validate_before_training and global_step == 0:
        initial_metrics = run_validation(0)
        last_metrics = None

    num_epochs = math.ceil(args.max_steps / steps_per_epoch)
    progress = tqdm(total=args.max_steps, initial=global_step, desc=args.progress_description,
                    disable=not accelerator.is_local_main_process)
    set_training_mode(model, args.freeze_norm_stats)
    window_start, window_images, skipped_nonfinite, unanchored = time.perf_counter(), 0, 0, 0
    steady_images_per_s = None
    run_start, run_first_step = time.perf_counter(), global_step
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    try:
        for epoch in range(first_epoch, num_epochs):
            train_data.epoch = epoch
            train_dataloader.set_epoch(epoch)
            active = train_dataloader
            if epoch == first_epoch and skip_batches:
                active = accelerator.skip_first_batches(train_dataloader, skip_batches)
            for batch in active:
                if args.loss != "alpha":
                    unanchored += count_all_unknown(batch["trimap"], unanchored, global_step)
                with accelerator.accumulate(model):
                    alpha = model(batch["image"], batch["trimap"] if args.trimap_input else None)
                    losses = compute_losses(args, batch, alpha)
                    if anchor is not None:
                        losses["l2sp"] = l2sp_penalty(accelerator.unwrap_model(model), anchor)
                        losses["loss"] = losses["loss"] + args.l2sp_weight * losses["l2sp"]
                    if not torch.isfinite(losses["loss"]):
                        # a bad batch must not poison the weights or end the run
                        skipped_nonfinite += 1
                        logger.warning(f"non-finite loss at step {global_step}; batch skipped")
                        optimizer.zero_grad()
                        continue
                    accelerator.backward(losses["loss"])
                    if accelerator.sync_gradients and args.max_grad_norm:
                        accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
                window_images += batch["image"].shape[0] * accelerator.num_processes
                if not accelerator.sync_gradients:
                    continue
                global_step += 1
                progress.update(1)
                if global_step % args.log_steps == 0 or global_step == args.max_steps:
                    elapsed = time.perf_counter() - window_start
                    logs = {k: v.detach().item() for k, v in losses.items()}
                    logs["lr"] = max(g["lr"] for g in optimizer.param_groups)  # the decoder's (full) LR
                    logs["images_per_s"] = window_images / max(elapsed, 1e-9)
                    steady_images_per_s = logs["images_per_s"]  # the last window: start-up left behind
                    progress.set_postfix({k: f"{v:.4g}" for k, v in logs.items()})
                    accelerator.log({f"train/{k}": v for k, v in logs.items()}, step=global_step)
                    window_start, window_images = time.perf_counter(), 0
                if args.checkpointing_steps and global_step % args.checkpointing_steps == 0:
                    save_checkpoint(global_step)
                if args.validation_steps and global_step % args.validation_steps == 0:
                    run_validation(global_step)
                if args.stop_after_steps and global_step >= args.stop_after_steps:
                    accelerator.print(f"stopping after step {global_step} (stop_after_steps)")
                    accelerator.end_training()
                    return {"steps": global_step, "stopped": True}
                if global_step >= args.max_steps:
                    break
            if global_step >= args.max_steps:
                break
    except KeyboardInterrupt:
        # keep the work done so far: resume with --resume_from_checkpoint latest
        save_checkpoint(global_step)
        accelerator.print(f"interrupted; state saved at step {global_step}")
        raise
    progress.close()

    if args.validation_steps and (last_metrics is None or global_step % args.validation_steps):
        run_validation(global_step)
    accelerator.wait_for_everyone()
    summary = {}
    if accelerator.is_main_process:
        final = accelerator.unwrap_model(model)
        final.save_pretrained(output_dir, model_card_kwargs=card_kwargs(args, last_metrics, global_step))
        seconds = time.perf_counter() - run_start
        trained_images = (global_step - run_first_step) * args.batch_size * args.gradient_accumulation_steps \
            * accelerator.num_processes
        summary = {"steps": global_step, "initial_metrics": initial_metrics, "final_metrics": last_metrics,
                   "best": best, "skipped_nonfinite_batches": skipped_nonfinite,
                   # training crops whose trimap had no known pixel (the known-region loss cannot anchor them)
                   "all_unknown_trimap_crops": unanchored,
                   # wall time of the training loop, validations included
                   "seconds": round(seconds, 1), "images_per_s": round(trained_images / max(seconds, 1e-9), 2),
                   # images/s of the last log_steps window (benchmarks/reproduce_gpu.py compares rows by it)
                   "steady_images_per_s": None if steady_images_per_s is None else round(steady_images_per_s, 2)}
        if torch.cuda.is_available():
            summary["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        (output_dir / "train_summary.json").write_text(json.dumps(summary, indent=2))
        if args.push_to_hub:
            final.push_to_hub(args.push_to_hub, model_card_kwargs=card_kwargs(args, last_metrics, global_step))
        accelerator.print(f"saved the model to {output_dir}")
    accelerator.end_training()
    return summary


def card_kwargs(args, metrics: dict | None, step: int) -> dict:
    """Model card sections: the training configuration, data and metrics of this run."""
    keys = ("backbone", "trimap_input", "pretrained_backbone", "init_from", "dataset", "loss", "ddc_weight",
            "kernel_size", "ddc_padding", "crop_size", "batch_size", "max_steps", "learning_rate", "weight_decay",
            "layer_decay", "mixed_precision", "seed")
    training = (
        f"Trained with afmatting's training loop for {step} steps on `{args.dataset}` with loss `{args.loss}`"
        + (" (no alpha labels were used)." if args.loss != "alpha" else " (alpha-supervised baseline).")
        + "\n\n| key | value |\n|---|---|\n" + "\n".join(f"| {k} | `{getattr(args, k)}` |" for k in keys)
    )
    return {"training": training, "metrics": metrics_table(args, metrics, step) if metrics else ""}


def metrics_table(args, metrics: dict, step: int) -> str:
    """The validation metrics of one step as a markdown table (whichever of SAD..Conn, objective.. were scored)."""
    keys = [k for k in ("SAD", "MSE", "MAD", "Grad", "Conn", "objective", "known", "ddc") if k in metrics]
    return (f"Validation on `{args.dataset}` split `{args.val_split}` ({args.val_region} region), step {step}:\n\n"
            f"| {' | '.join(keys)} |\n|{'---|' * len(keys)}\n| {' | '.join(f'{metrics[k]:.4g}' for k in keys)} |")
