"""Test-time adaptation: fine-tune a copy of a trimap-input model on one image with its trimap, then predict.

This is the paper's principle applied per image: the trimap's known pixels (known loss) and the image's own colour
structure (DDC loss) supervise the unknown band, no alpha labels needed. Useful for images unlike the training data.
Time and memory are bounded: the adaptation runs at most at ``adapt_max_side`` pixels on the long side, the DDC
neighbours are searched once, and only a copy of the model is changed.
"""

from __future__ import annotations

import copy
import time

import torch

from .errors import AFMattingError
from .processing import DEFAULT_MAX_SIDE, check_max_side, network_alphas, network_size, prepare_inputs, resize_to_network
from .result import MattingResult, name_of

#: long side of the image the adaptation trains on (bounds its time and memory)
DEFAULT_ADAPT_MAX_SIDE = 512


def _freeze_batchnorm(model: torch.nn.Module) -> None:
    """Keep BatchNorm statistics fixed: one image is no batch to estimate them from."""
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.eval()


def adapt_model(
    model,
    image: torch.Tensor,
    trimap: torch.Tensor,
    steps: int,
    *,
    learning_rate: float = 1e-3,
    ddc_weight: float = 10.0,
    kernel_size: int = 11,
    progress: bool = False,
):
    """Return a fine-tuned copy of ``model`` after ``steps`` AdamW steps of known + DDC loss on one image.

    Args:
        model: a trimap-input AFMatting (left unchanged).
        image: float (1, 3, h, w) in [0, 1]; trimap: float (1, 1, h, w) in {0, 0.5, 1}.
    """
    from .losses import alpha_free_loss, find_similar_neighbours

    if not getattr(model, "trimap_input", False):
        raise AFMattingError("Test-time adaptation needs a trimap-input model (its trimap supervises the fit).")
    if steps < 0:
        raise AFMattingError(f"adapt steps must be >= 0, got {steps}.")
    device = next(model.parameters()).device
    tuned = copy.deepcopy(model).to(device)
    tuned.train()
    _freeze_batchnorm(tuned)
    image, trimap = image.to(device), trimap.to(device)
    neighbours = find_similar_neighbours(image, kernel_size=kernel_size)
    optimizer = torch.optim.AdamW(tuned.parameters(), lr=learning_rate, weight_decay=0.0)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc="adapting", unit="step")
    for _ in range(steps):
        with torch.enable_grad():
            alpha = tuned(image, trimap)
            loss = alpha_free_loss(image, alpha, trimap, neighbours=neighbours, ddc_weight=ddc_weight,
                                   kernel_size=kernel_size)["loss"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4f}")
    if bar is not None:
        bar.close()
    return tuned.eval()


def adapt_and_predict(
    model,
    image,
    trimap,
    *,
    steps: int,
    max_side: int | None = DEFAULT_MAX_SIDE,
    adapt_max_side: int = DEFAULT_ADAPT_MAX_SIDE,
    learning_rate: float = 1e-3,
    progress: bool = False,
) -> MattingResult:
    """Adapt a copy of ``model`` to (image, trimap) for ``steps`` steps, then predict with it (see predict).

    ``adapt_max_side`` bounds the image the adaptation trains on, ``max_side`` the one it predicts on (both as
    defined in :mod:`afmatting.processing`).
    """
    max_side = check_max_side(max_side)
    adapt_max_side = check_max_side(adapt_max_side, "adapt_max_side")
    img, tri = prepare_inputs(image, trimap, model.trimap_input)
    if tri is None:
        raise AFMattingError("Test-time adaptation needs a trimap.")
    start = time.perf_counter()
    h, w = img.shape[:2]
    small = network_size(h, w, adapt_max_side)
    x_small, t_small = resize_to_network(img, tri, small)
    tuned = adapt_model(model, x_small[None], t_small[None], steps, learning_rate=learning_rate, progress=progress)
    alpha = network_alphas(tuned, [img], [tri], max_side)[0]
    del tuned
    return MattingResult(image=img, alpha=alpha, trimap=tri, name=name_of(image),
                         extra={"adapt_steps": steps, "adapt_seconds": time.perf_counter() - start})
