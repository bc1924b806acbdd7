"""AdamW parameter groups (no decay on norms and biases, layer-wise LR decay) and the learning-rate schedule."""

from __future__ import annotations

import math


def vit_layer_id(name: str, num_layers: int) -> int:
    """Depth of a ViT backbone parameter for layer-wise LR decay: embeddings 0, block i -> i + 1, the rest last."""
    if any(k in name for k in ("pos_embed", "cls_token", "reg_token", "patch_embed")):
        return 0
    if ".blocks." in name:
        return int(name.split(".blocks.")[1].split(".")[0]) + 1
    return num_layers + 1


def parameter_groups(model, args) -> list[dict]:
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
