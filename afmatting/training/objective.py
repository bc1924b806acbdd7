"""The training objective: the losses of a batch, and the same objective on one whole held-out image."""

from __future__ import annotations

import numpy as np
import torch

from ..losses import alpha_loss, dc_loss, ddc_loss, known_loss, scaled_ddc_loss
from ..processing import network_size, resize_to_network

PAIR_LOSSES = {"known+dc": dc_loss, "known+ddc": ddc_loss, "known+scaled_ddc": scaled_ddc_loss}


def compute_losses(args, batch: dict, alpha: torch.Tensor) -> dict[str, torch.Tensor]:
    """The training objective of ``args.loss`` (all terms in fp32). Returns the total and its parts.

    ``batch`` holds ``image`` (B, 3, S, S) and ``trimap`` (B, 1, S, S) (optional ``neighbours``, and ``alpha`` for the
    ``alpha`` loss); ``alpha`` is the prediction (B, 1, S, S) in [0, 1].
    """
    alpha = alpha.float()
    if args.loss == "alpha":
        loss = alpha_loss(alpha, batch["alpha"].float(), laplacian_weight=args.laplacian_weight)
        return {"loss": loss, "alpha": loss}
    image, trimap = batch["image"].float(), batch["trimap"].float()
    terms = {"known": known_loss(alpha, trimap)}
    loss = args.known_weight * terms["known"]
    if args.loss != "known":
        neighbours = batch.get("neighbours")
        pair = PAIR_LOSSES[args.loss](image, alpha, kernel_size=args.kernel_size, padding=args.ddc_padding,
                                      neighbours=neighbours)
        weight = args.dc_weight if args.loss == "known+dc" else args.ddc_weight
        terms[args.loss.split("+")[1]] = pair
        loss = loss + weight * pair
    return {"loss": loss, **terms}


def starting_point(model) -> dict[str, torch.Tensor]:
    """Detached copies of ``model``'s trainable weights, the anchor of the L2-SP penalty (:func:`l2sp_penalty`)."""
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def l2sp_penalty(model, anchor: dict[str, torch.Tensor]) -> torch.Tensor:
    """L2-SP (Li et al. 2018): the sum over ``model``'s trainable weights of ``(w - w_start)^2`` (fp32 scalar),
    ``anchor`` from :func:`starting_point` of the same model. It keeps a fine-tuned model near the weights it started
    from, so that a few photos cannot pull it far from what it already does well."""
    total = None
    for name, p in model.named_parameters():
        if name in anchor:
            term = (p.float() - anchor[name].float()).pow(2).sum()
            total = term if total is None else total + term
    if total is None:
        raise ValueError("l2sp_penalty: the model has none of the anchor's weights")
    return total


def set_training_mode(model, freeze_norm_stats: bool = False) -> None:
    """``model.train()``, with every batch-norm layer left in eval mode when ``freeze_norm_stats``: its running mean
    and variance stay those of the start (its scale and shift still learn).

    Fine-tuning on a few photos needs it: a batch of four crops centred on the trimaps' unknown band is nothing like
    the whole photos the statistics came from, and 100 steps at momentum 0.1 replace them. With them replaced, a
    first stage tuned on 8 AM-2K photos dropped a held-out lion's body (docs/results.md, "Fine-tuning on your
    photos")."""
    model.train()
    if freeze_norm_stats:
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eval()


@torch.inference_mode()
def image_objective(model, image: np.ndarray, trimap: np.ndarray, args) -> dict[str, float]:
    """The alpha-free objective of the network's matte on one whole image, at the validation size.

    ``image`` float32 (H, W, 3) in [0, 1], ``trimap`` uint8 (H, W) {0, 128, 255}. The network sees both at
    ``args.val_max_side`` (trimap models get the trimap; the matte is the network's own, before the known-region
    rule, so the known error measures the network). Returns ``known`` (mean |alpha - trimap| on known pixels),
    ``ddc`` (the DDC loss with ``args.kernel_size``, whole image) and ``objective`` = known_weight x known +
    ddc_weight x ddc, the quantity ``known+ddc`` training lowers.
    """
    size = network_size(*image.shape[:2], args.val_max_side)
    x, t = resize_to_network(image, trimap, size)
    x, t = x[None].to(model.device), t[None].to(model.device)
    alpha = model(x, t if model.trimap_input else None).float()
    known = float(known_loss(alpha, t))
    ddc = float(ddc_loss(x.float(), alpha, kernel_size=args.kernel_size, padding=args.ddc_padding))
    return {"objective": args.known_weight * known + args.ddc_weight * ddc, "known": known, "ddc": ddc}
