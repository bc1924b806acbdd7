#!/usr/bin/env python
"""Train an AFMatting model, with or without alpha labels.

    accelerate launch train/train.py --config train/configs/am2k_vits_ddc.yaml
    accelerate launch train/train.py --config train/configs/smoke.yaml --max_steps 6 --output_dir runs/a
    python train/train.py --config train/configs/smoke.yaml          # one process, no launcher needed

Every key of the config (see DEFAULTS below) can be overridden on the command line as ``--key value``; values are
parsed as YAML (``--fusion_widths "[64, 32, 16, 8]"``, ``--trimap_input true``).

Supervision (``--loss``):
    known             known loss only (L1 to the trimap on known pixels)
    known+dc          + dc_weight x DC loss
    known+ddc         + ddc_weight x DDC loss (the paper: K = 11, weight 10)
    known+scaled_ddc  + ddc_weight x scaled DDC loss (MatAnyone)
    alpha             fine-label baseline: L1 + Laplacian loss against the alpha column
The alpha-free modes drop the dataset's ``alpha`` column before any transform runs, so they cannot read it.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

import torch
import yaml
from accelerate import Accelerator
from accelerate.logging import get_logger
from accelerate.utils import DataLoaderConfiguration, ProjectConfiguration, gather_object, set_seed
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from afmatting import AFMatting
from afmatting.data import load_matting_dataset, training_dataset
from afmatting.errors import AFMattingError
from afmatting.evaluation import evaluate
from afmatting.losses import alpha_loss, dc_loss, ddc_loss, known_loss, scaled_ddc_loss
from afmatting.data.synthetic import make_synthetic_dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))  # checkpoints.py beside this script
from checkpoints import (  # noqa: E402
    checkpoint_problem,
    checkpoint_step,
    complete_checkpoints,
    latest_complete_checkpoint,
    save_checkpoint_atomically,
)

logger = get_logger("afmatting.train")

LOSSES = ("known", "known+dc", "known+ddc", "known+scaled_ddc", "alpha")

DEFAULTS = {
    # model
    "backbone": "vit_small_patch16_224.dino",
    "trimap_input": False,
    "pretrained_backbone": True,  # True: timm (offline package for efficientnet_lite0), "offline", a path, or False
    "init_from": None,  # start from the weights of a saved AFMatting model (a directory or Hub id)
    "detail_widths": [48, 96, 192],
    "fusion_widths": [256, 128, 64, 32],
    "neck_width": 256,
    "head_width": 16,
    # data: a save_to_disk folder, a raw dataset folder, a Hub id, or "synthetic"
    "dataset": "synthetic",
    "train_split": "train",
    "val_split": "validation",
    "synthetic_train": 32,
    "synthetic_val": 4,
    "synthetic_size": 128,
    "crop_size": 512,
    "scale_range": [1.0, 1.0],  # the paper: crop only (small images upscaled)
    "hflip": False,
    "colour_jitter": 0.0,
    "neighbours_in_workers": True,  # run the DDC neighbour search in the DataLoader workers
    "num_workers": 2,
    "min_batches_per_epoch": 50,  # small datasets repeat within an epoch (workers restart at every epoch)
    # loss
    "loss": "known+ddc",
    "known_weight": 1.0,
    "ddc_weight": 10.0,
    "dc_weight": 10.0,
    "kernel_size": 11,
    "ddc_padding": "valid",  # "zeros" reproduces the paper's code exactly
    "laplacian_weight": 1.0,
    # optimiser and schedule
    "learning_rate": 5.0e-4,
    "weight_decay": 0.1,
    "adam_betas": [0.9, 0.999],
    "layer_decay": 0.65,  # ViT backbones: layer-wise LR decay
    "backbone_lr_scale": 0.1,  # CNN backbones: plain lower LR
    "lr_schedule": "step",  # "step" (the paper) or "cosine"
    "warmup_steps": 250,
    "lr_milestones": [0.6, 0.9],  # fractions of max_steps
    "lr_values": [1.0, 0.1, 0.05],  # LR multipliers before, between and after the milestones
    "max_grad_norm": 1.0,
    "gradient_accumulation_steps": 1,
    # run
    "batch_size": 16,
    "max_steps": 5625,
    "seed": 42,
    "mixed_precision": "no",  # "no", "fp16" or "bf16"; losses are computed in fp32 regardless
    "channels_last": False,  # channels-last memory format (faster convolutions on CPU)
    "num_threads": None,  # torch CPU threads per process (None: torch's default)
    "output_dir": "runs/afmatting",
    "checkpointing_steps": 500,
    "checkpoints_total_limit": 3,
    "resume_from_checkpoint": None,  # "latest" or a checkpoint folder
    "validation_steps": 500,
    "val_region": "unknown",  # "unknown" (DIM protocol) or "whole" (AM-2K / P3M protocol)
    "val_max_side": 1024,
    "val_limit": None,
    "best_metric": "SAD",
    "num_val_images_logged": 4,
    "log_with": "tensorboard",  # any accelerate tracker name(s), comma-separated, or "none"
    "log_steps": 10,
    "push_to_hub": None,  # a Hub repo id
    "stop_after_steps": None,  # end the process after this step (after its checkpoint): simulates an interruption
}


# ---------------------------------------------------------------------------------------------------- config
def _yaml_value(text: str):
    value = yaml.safe_load(text)
    if isinstance(value, str):
        try:  # YAML 1.1 reads "5e-4" (no dot) as a string; on the command line it is a number
            return float(value)
        except ValueError:
            pass
    return value


def read_config(path: Path, seen: tuple = ()) -> dict:
    """A YAML config as a dict; a ``base: other.yaml`` key (relative to this file's folder) is read first and this
    file's keys override it (the AM-2K and P3M recipes share ``paper_vits_ddc.yaml``)."""
    if path.resolve() in seen:
        sys.exit(f"error: config '{path}' includes itself through 'base'")
    if not path.exists():
        sys.exit(f"error: config file '{path}' does not exist")
    loaded = yaml.safe_load(path.read_text()) or {}
    if not isinstance(loaded, dict):
        sys.exit(f"error: config file '{path}' is not a mapping of keys to values")
    base = loaded.pop("base", None)
    if base is None:
        return loaded
    return {**read_config(path.parent / str(base), seen + (path.resolve(),)), **loaded}


def parse_args(argv=None) -> argparse.Namespace:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(argv)
    config = dict(DEFAULTS)
    if known.config:
        path = Path(known.config)
        if not path.exists():
            sys.exit(f"error: config file '{path}' does not exist")
        loaded = read_config(path)
        unknown = sorted(set(loaded) - set(DEFAULTS))
        if unknown:
            sys.exit(f"error: unknown keys in {path}: {unknown}. Known keys: {sorted(DEFAULTS)}")
        config.update(loaded)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="YAML file with any of the keys below")
    for key, value in config.items():
        parser.add_argument(f"--{key}", type=_yaml_value, default=value, help=f"default: {value!r}")
    args = parser.parse_args(argv)
    if args.mixed_precision in (False, None):  # YAML reads a bare `no` as False
        args.mixed_precision = "no"
    if args.mixed_precision not in ("no", "fp16", "bf16"):
        parser.error(f"--mixed_precision must be no, fp16 or bf16, got {args.mixed_precision!r}")
    if args.loss not in LOSSES:
        parser.error(f"--loss must be one of {LOSSES}, got {args.loss!r}")
    if args.val_region not in ("unknown", "whole"):
        parser.error("--val_region must be 'unknown' or 'whole'")
    if args.lr_schedule not in ("step", "cosine"):
        parser.error("--lr_schedule must be 'step' or 'cosine'")
    if len(args.lr_values) != len(args.lr_milestones) + 1:
        parser.error("--lr_values needs one more value than --lr_milestones")
    return args


# ------------------------------------------------------------------------------------------------------ data
class EpochSeededDataset(Dataset):
    """Seeds torch's RNG from (seed, epoch, index) before each example's random augmentation.

    Augmentations then depend on nothing but the example's place in the run, so a resumed run (which skips the
    consumed batches without loading them) sees exactly the crops an uninterrupted run sees, with any number of
    DataLoader workers. ``repeats`` > 1 makes one epoch visit every example that many times (as different crops):
    DataLoader workers restart at each epoch, which costs about a second, so a tiny dataset must not make every step
    an epoch.
    """

    def __init__(self, dataset, seed: int, repeats: int = 1):
        self.dataset, self.seed, self.epoch, self.repeats = dataset, seed, 0, max(1, int(repeats))

    def __len__(self):
        return len(self.dataset) * self.repeats

    def __getitem__(self, index):
        torch.manual_seed((self.seed * 1_000_003 + self.epoch * 100_003 + int(index)) % (2**63))
        example = self.dataset[int(index) % len(self.dataset)]
        example.pop("name", None)  # strings do not collate into tensors
        return example


def epoch_repeats(num_examples: int, batch_size: int, min_batches: int | None) -> int:
    """How many times an epoch visits each example so that it has at least ``min_batches`` batches."""
    if not min_batches or num_examples <= 0:
        return 1
    return max(1, math.ceil(int(min_batches) * batch_size / num_examples))


def load_splits(args):
    if args.dataset == "synthetic":
        data = make_synthetic_dataset(args.synthetic_train, args.synthetic_val, size=args.synthetic_size,
                                      seed=args.seed)
    else:
        data = load_matting_dataset(args.dataset)
    if args.train_split not in data:
        sys.exit(f"error: dataset '{args.dataset}' has no split '{args.train_split}' (splits: {list(data)})")
    train = data[args.train_split]
    val = data[args.val_split] if args.val_split and args.val_split in data else None
    return train, val


# ----------------------------------------------------------------------------------------------- optimiser
def vit_layer_id(name: str, num_layers: int) -> int:
    """Depth of a ViT backbone parameter for layer-wise LR decay: embeddings 0, block i -> i + 1, the rest last."""
    if any(k in name for k in ("pos_embed", "cls_token", "reg_token", "patch_embed")):
        return 0
    if ".blocks." in name:
        return int(name.split(".blocks.")[1].split(".")[0]) + 1
    return num_layers + 1


def parameter_groups(model: AFMatting, args) -> list[dict]:
    """AdamW groups: no weight decay on norms, biases and position embeddings; layer-wise LR decay for ViT
    backbones (``layer_decay``), a plain ``backbone_lr_scale`` for other backbones; the decoder at the full LR.

    Ours, not timm's ``param_groups_layer_decay``: our backbone is timm's ``features_only`` wrapper
    (``FeatureGetterNet``), which has no ``group_matcher``, so timm puts every parameter in one layer and the decay
    has no effect (tests/test_train.py::test_timm_layer_decay_does_not_reach_through_features_only).
    """
    names = [n for n, _ in model.backbone.named_parameters()]
    is_vit = any(".blocks." in n for n in names) and any("pos_embed" in n for n in names)
    num_layers = 1 + max((int(n.split(".blocks.")[1].split(".")[0]) for n in names if ".blocks." in n), default=-1)
    groups: dict[tuple[float, float], dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        no_decay = param.ndim <= 1 or any(k in name for k in ("pos_embed", "cls_token", "reg_token"))
        if name.startswith("backbone."):
            if is_vit:
                scale = args.layer_decay ** (num_layers + 1 - vit_layer_id(name, num_layers))
            else:
                scale = args.backbone_lr_scale
        else:
            scale = 1.0
        wd = 0.0 if no_decay else args.weight_decay
        group = groups.setdefault((scale, wd), {"params": [], "weight_decay": wd, "lr_scale": scale})
        group["params"].append(param)
    for g in groups.values():
        g["lr"] = args.learning_rate * g["lr_scale"]
    return list(groups.values())


def lr_multiplier(step: int, args) -> float:
    """Linear warm-up, then the paper's step decay (or cosine) as a multiplier of each group's LR."""
    if step < args.warmup_steps:
        return (step + 1) / args.warmup_steps
    if args.lr_schedule == "cosine":
        progress = (step - args.warmup_steps) / max(1, args.max_steps - args.warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    value = args.lr_values[0]
    for milestone, v in zip(args.lr_milestones, args.lr_values[1:]):
        if step >= milestone * args.max_steps:
            value = v
    return value


# ---------------------------------------------------------------------------------------------------- losses
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


def compute_losses(args, batch: dict, alpha: torch.Tensor) -> dict[str, torch.Tensor]:
    """The training objective of ``args.loss`` (all terms in fp32). Returns the total and its parts."""
    alpha = alpha.float()
    if args.loss == "alpha":
        loss = alpha_loss(alpha, batch["alpha"].float(), laplacian_weight=args.laplacian_weight)
        return {"loss": loss, "alpha": loss}
    image, trimap = batch["image"].float(), batch["trimap"].float()
    terms = {"known": known_loss(alpha, trimap)}
    loss = args.known_weight * terms["known"]
    if args.loss != "known":
        pair_loss = {"known+dc": dc_loss, "known+ddc": ddc_loss, "known+scaled_ddc": scaled_ddc_loss}[args.loss]
        neighbours = batch.get("neighbours")
        pair = pair_loss(image, alpha, kernel_size=args.kernel_size, padding=args.ddc_padding, neighbours=neighbours)
        weight = args.dc_weight if args.loss == "known+dc" else args.ddc_weight
        terms[args.loss.split("+")[1]] = pair
        loss = loss + weight * pair
    return {"loss": loss, **terms}


# ----------------------------------------------------------------------------------------------- validation
def validate(accelerator, model, val_dataset, args, step: int) -> dict | None:
    """Shared evaluation (afmatting.evaluation.evaluate) on this process's share of the validation split; the
    per-image rows of all processes are gathered and averaged."""
    if val_dataset is None or "alpha" not in val_dataset.column_names:
        return None
    unwrapped = accelerator.unwrap_model(model)
    indices = list(range(len(val_dataset) if args.val_limit is None else min(args.val_limit, len(val_dataset))))
    panels = []  # the main process's first mattes, for TensorBoard (kept from the evaluation, not predicted again)

    def keep_panel(name, image, alpha, gt):
        if len(panels) < (args.num_val_images_logged or 0):
            panels.append((name, image, alpha, gt))

    with accelerator.split_between_processes(indices) as mine:
        rows = []
        if mine:
            _, rows = evaluate(unwrapped, val_dataset.select(mine), region=args.val_region,
                               max_side=args.val_max_side, progress=False,
                               predict_kwargs={"refine": False},  # validation scores the network alone
                               on_prediction=keep_panel if accelerator.is_main_process else None)
    rows = gather_object(rows)
    model.train()
    metrics = {k: sum(r[k] for r in rows) / len(rows) for k in ("SAD", "MSE", "MAD", "Grad", "Conn")}
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
    import numpy as np

    for name, image, alpha, gt in panels:
        grey = lambda a: np.repeat(a[..., None], 3, axis=2)  # noqa: E731
        panel = np.concatenate([image.astype(np.float32) / 255.0, grey(alpha), grey(gt.astype(np.float32) / 255.0)],
                               axis=1)
        tracker.add_image(f"val/{name}", panel, step, dataformats="HWC")


# ---------------------------------------------------------------------------------------------------- resuming
#: settings a resumed run may change: how long it runs (``max_steps``, to extend a run; the schedule's milestones are
#: fractions of it) and where and how it logs, checkpoints, validates and runs; never what it learns (model, data,
#: loss, optimiser, batch, seed, precision: a change there would silently mix two runs)
RESUME_OVERRIDES = ("resume_from_checkpoint", "config", "output_dir", "max_steps", "num_workers", "num_threads",
                    "neighbours_in_workers", "log_with", "log_steps", "validation_steps", "val_limit",
                    "num_val_images_logged", "checkpointing_steps", "checkpoints_total_limit", "stop_after_steps",
                    "push_to_hub")


def resolve_resume_checkpoint(args, output_dir: Path) -> Path | None:
    """The checkpoint folder ``--resume_from_checkpoint`` names (``latest``: the newest complete one, or None when
    there is none); exits with an error line for a missing, misnamed or incomplete folder."""
    ckpt = args.resume_from_checkpoint
    if not ckpt:
        return None
    if ckpt == "latest":
        return latest_complete_checkpoint(output_dir / "checkpoints", warn=logger.warning)
    if not Path(ckpt).is_dir():
        sys.exit(f"error: checkpoint '{ckpt}' does not exist")
    if checkpoint_step(Path(ckpt)) is None:
        sys.exit(f"error: '{ckpt}' is not a checkpoint folder (its name must be checkpoint-<step>)")
    problem = checkpoint_problem(Path(ckpt))
    if problem:
        sys.exit(f"error: checkpoint '{ckpt}' is incomplete ({problem}); resume from an earlier one or "
                 f"'latest', which skips incomplete checkpoints")
    return Path(ckpt)


def check_resume_settings(args, checkpoint: Path) -> None:
    """Exit with an error naming every setting that differs from the run ``checkpoint`` belongs to (its
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
        sys.exit(f"error: cannot resume '{checkpoint}' with different settings: {details}. Resume with the run's "
                 f"settings ({saved_path}), or start a new run in another --output_dir. Settings a resume may change: "
                 f"{', '.join(RESUME_OVERRIDES[1:])}.")


# ------------------------------------------------------------------------------------------------------- main
def main(argv=None):
    args = parse_args(argv)
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
    resume_from = resolve_resume_checkpoint(args, output_dir)
    if resume_from is not None:
        check_resume_settings(args, resume_from)
    if accelerator.is_main_process:
        (output_dir / "config.yaml").write_text(yaml.safe_dump(vars(args), sort_keys=False))

    # --- data: alpha-free modes remove the alpha column before any transform (structural, not a convention)
    train_split, val_split = load_splits(args)
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
        sys.exit(f"error: {len(train_data)} training images are fewer than one batch of {args.batch_size}")

    # --- model and optimiser
    model = AFMatting(
        backbone=args.backbone, trimap_input=args.trimap_input, pretrained_backbone=args.pretrained_backbone,
        detail_widths=tuple(args.detail_widths), fusion_widths=tuple(args.fusion_widths),
        neck_width=args.neck_width, head_width=args.head_width,
    )
    if args.init_from:
        # fine-tune a trained model: same architecture required, loaded strictly
        from afmatting.hub import load_checkpoint, resolve_weights_file

        load_checkpoint(model, resolve_weights_file(str(args.init_from)))
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(parameter_groups(model, args), lr=args.learning_rate, betas=tuple(args.adam_betas))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_multiplier(step, args))
    model, optimizer, train_dataloader, scheduler = accelerator.prepare(model, optimizer, train_dataloader, scheduler)

    if log_with:
        tracker_config = {k: (json.dumps(v) if isinstance(v, (list, tuple, dict)) or v is None else v)
                          for k, v in vars(args).items()}
        accelerator.init_trackers("afmatting", config=tracker_config)

    batches_per_epoch = len(train_dataloader)
    steps_per_epoch = max(1, batches_per_epoch // args.gradient_accumulation_steps)
    global_step, first_epoch, skip_batches = 0, 0, 0

    # --- resume: same step, same data order (sampler epoch + skipped batches), same RNG and optimiser state
    if args.resume_from_checkpoint:
        ckpt = None if resume_from is None else str(resume_from)
        if ckpt is None:
            accelerator.print("No complete checkpoint found; starting from scratch.")
        else:
            accelerator.print(f"Resuming from {ckpt}")
            accelerator.load_state(ckpt)
            global_step = checkpoint_step(Path(ckpt))
            consumed_batches = global_step * args.gradient_accumulation_steps
            first_epoch, skip_batches = divmod(consumed_batches, batches_per_epoch)

    def save_checkpoint(step: int) -> None:
        save_checkpoint_atomically(accelerator, output_dir / "checkpoints", step)
        if accelerator.is_main_process and args.checkpoints_total_limit:
            complete = complete_checkpoints(output_dir / "checkpoints")
            for old in complete[: max(0, len(complete) - args.checkpoints_total_limit)]:
                shutil.rmtree(old, ignore_errors=True)

    best = {"value": float("inf"), "step": None, "metrics": None}
    last_metrics = None

    def run_validation(step: int):
        nonlocal last_metrics
        metrics = validate(accelerator, model, val_split, args, step)
        if metrics is None:
            return
        last_metrics = metrics
        accelerator.print(f"step {step}: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
        if metrics[args.best_metric] < best["value"]:
            best.update(value=metrics[args.best_metric], step=step, metrics=metrics)
            if accelerator.is_main_process:
                accelerator.unwrap_model(model).save_pretrained(
                    output_dir / "best", model_card_kwargs=card_kwargs(args, metrics, step))

    num_epochs = math.ceil(args.max_steps / steps_per_epoch)
    progress = tqdm(total=args.max_steps, initial=global_step, desc="training",
                    disable=not accelerator.is_local_main_process)
    model.train()
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
                    return None
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
    if accelerator.is_main_process:
        final = accelerator.unwrap_model(model)
        final.save_pretrained(output_dir, model_card_kwargs=card_kwargs(args, last_metrics, global_step))
        seconds = time.perf_counter() - run_start
        trained_images = (global_step - run_first_step) * args.batch_size * args.gradient_accumulation_steps \
            * accelerator.num_processes
        summary = {"steps": global_step, "final_metrics": last_metrics, "best": best,
                   "skipped_nonfinite_batches": skipped_nonfinite,
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
    return last_metrics


def card_kwargs(args, metrics: dict | None, step: int) -> dict:
    """Model card sections: the training configuration, data and metrics of this run."""
    keys = ("backbone", "trimap_input", "pretrained_backbone", "dataset", "loss", "ddc_weight", "kernel_size",
            "ddc_padding", "crop_size", "batch_size", "max_steps", "learning_rate", "weight_decay", "layer_decay",
            "mixed_precision", "seed")
    training = (
        f"Trained with `train/train.py` for {step} steps on `{args.dataset}` with loss `{args.loss}`"
        + (" (no alpha labels were used)." if args.loss != "alpha" else " (alpha-supervised baseline).")
        + "\n\n| key | value |\n|---|---|\n" + "\n".join(f"| {k} | `{getattr(args, k)}` |" for k in keys)
    )
    if metrics:
        scores = (f"Validation on `{args.dataset}` split `{args.val_split}` ({args.val_region} region), step {step}:\n\n"
                  "| SAD | MSE | MAD | Grad | Conn |\n|---|---|---|---|---|\n"
                  f"| {metrics['SAD']:.3f} | {metrics['MSE']:.3f} | {metrics['MAD']:.3f} | {metrics['Grad']:.3f} | "
                  f"{metrics['Conn']:.3f} |")
    else:
        scores = ""
    return {"training": training, "metrics": scores}


def run_from_command_line(argv=None) -> int:
    """``main`` for the command line: a user error (bad dataset, model config, checkpoint) is one ``error:`` line
    and exit code 2; any other failure prints a one-line summary before its traceback and exits 1."""
    try:
        main(argv)
    except AFMattingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:
        if isinstance(e.code, str):  # the script's own "error: ..." exits
            print(e.code, file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001  (the summary line, then the traceback for a bug report)
        import traceback

        print(f"error: training failed with {type(e).__name__}: {e}", file=sys.stderr)
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_from_command_line())
