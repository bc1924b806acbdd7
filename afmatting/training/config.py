"""The training configuration: every key with its default, and the checks a run makes before it starts.

A configuration is an ``argparse.Namespace`` with the keys of :data:`DEFAULTS`; ``train/train.py`` builds it from a
YAML file and ``--key value`` overrides, ``afmatting finetune`` from its recipe (:func:`training_config`).
"""

from __future__ import annotations

import argparse

from ..errors import TrainingConfigError

LOSSES = ("known", "known+dc", "known+ddc", "known+scaled_ddc", "alpha")

DEFAULTS = {
    # model
    "backbone": "vit_small_patch16_224.dino",
    "trimap_input": False,
    "pretrained_backbone": True,  # True: timm (offline package for efficientnet_lite0), "offline", a path, or False
    "init_from": None,  # start from the weights of a saved AFMatting model (a directory, Hub id or bundled name)
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
    "l2sp_weight": 0.0,  # L2-SP: + l2sp_weight x sum of (w - w_start)^2 over all weights (fine-tuning: stay near the start)
    "freeze_norm_stats": False,  # batch-norm running statistics stay the start's (fine-tuning on a few photos)
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
    "validate_before_training": False,  # score the starting weights too (fine-tuning's "before" column)
    "val_region": "unknown",  # "unknown" (DIM protocol) or "whole" (AM-2K / P3M protocol)
    "val_objective": False,  # also score the training objective (known + DDC) on the held-out trimaps
    "val_max_side": 1024,
    "val_limit": None,
    "best_metric": "SAD",
    "save_best": True,  # keep the best validated weights in output_dir/best  # a validation metric: SAD, MSE, ... (alpha needed) or objective, known, ddc
    "num_val_images_logged": 4,
    "log_with": "tensorboard",  # any accelerate tracker name(s), comma-separated, or "none"
    "log_steps": 10,
    "progress_description": "training",  # the progress bar's label
    "push_to_hub": None,  # a Hub repo id
    "stop_after_steps": None,  # end the process after this step (after its checkpoint): simulates an interruption
}


def config_problem(args: argparse.Namespace) -> str | None:
    """Why the configuration ``args`` cannot run (one sentence naming the key), or None when it can."""
    if args.mixed_precision not in ("no", "fp16", "bf16"):
        return f"--mixed_precision must be no, fp16 or bf16, got {args.mixed_precision!r}"
    if args.loss not in LOSSES:
        return f"--loss must be one of {LOSSES}, got {args.loss!r}"
    if args.val_region not in ("unknown", "whole"):
        return "--val_region must be 'unknown' or 'whole'"
    if args.lr_schedule not in ("step", "cosine"):
        return "--lr_schedule must be 'step' or 'cosine'"
    if len(args.lr_values) != len(args.lr_milestones) + 1:
        return "--lr_values needs one more value than --lr_milestones"
    if not isinstance(args.freeze_norm_stats, bool):
        return f"--freeze_norm_stats must be true or false, got {args.freeze_norm_stats!r}"
    if not isinstance(args.l2sp_weight, (int, float)) or not args.l2sp_weight >= 0:
        return f"--l2sp_weight must be a number >= 0, got {args.l2sp_weight!r}"
    if not isinstance(args.max_steps, int) or args.max_steps < 1:
        return f"--max_steps must be a whole number >= 1, got {args.max_steps!r}"
    return None


def training_config(**overrides) -> argparse.Namespace:
    """:data:`DEFAULTS` with ``overrides`` applied, checked; TrainingConfigError names an unknown or bad key."""
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise TrainingConfigError(f"unknown training keys {unknown}; known keys: {sorted(DEFAULTS)}")
    args = argparse.Namespace(**{**DEFAULTS, **overrides})
    problem = config_problem(args)
    if problem:
        raise TrainingConfigError(problem)
    return args
