"""The first test-time refinement: the alpha matte optimised by Adam under the known + DDC objective, no labels.

Superseded by :mod:`afmatting.refine` (a band solver with a colour-line prior: better and about 10x faster); kept
outside the package so the recorded ``refine_steps`` rows stay reproducible and as the baseline of
``benchmarks/refinement.py``.

Where :mod:`afmatting.adapt` fine-tunes a copy of the network on one image, this leaves the network alone and solves
the paper's objective per image, starting from the network's prediction: the unknown pixels' alphas are free
variables, the known pixels stay fixed, and Adam minimises the DDC loss of :func:`afmatting.losses.ddc_loss`. The
K×K window only links pixels 5 apart, so information crosses a wide unknown band slowly; the solve therefore runs
coarse to fine (by default at 1/8, 1/4, 1/2 and full working size) and every level adds its correction to the full-size
matte (so a coarse level never blurs the network's fine detail away).

Time and memory are bounded: the finest level works at most at ``max_side`` pixels on the long side (its correction
is upsampled to the input size), and the DDC neighbours are searched once per level.
"""

from __future__ import annotations

import numpy as np
import torch

from afmatting.errors import AFMattingError
from afmatting.processing import alpha_to_tensor, check_max_side, image_to_tensor, resize_tensor, trimap_to_tensor
from afmatting.refine import check_refine_inputs
from afmatting.trimap import UNKNOWN

#: working-size fractions of the coarse-to-fine solve
DEFAULT_REFINE_SCALES = (0.125, 0.25, 0.5, 1.0)
#: Adam step size on the alpha logits
DEFAULT_REFINE_LEARNING_RATE = 0.05
#: long side of the finest level (bounds time and memory on large images)
DEFAULT_REFINE_MAX_SIDE = 1024
#: levels whose short side would be below this are skipped (too few pixels for an 11 x 11 window to mean much)
MIN_LEVEL_SIDE = 32


def level_sizes(height: int, width: int, scales=DEFAULT_REFINE_SCALES, max_side: int | None = None) -> list:
    """(h, w) of each level: ``scales`` of the working size (the input capped at ``max_side``), coarse to fine."""
    top = 1.0 if max_side is None or max(height, width) <= max_side else max_side / max(height, width)
    sizes = []
    for scale in sorted(scales):
        if not 0 < scale <= 1:
            raise AFMattingError(f"refine scales must be in (0, 1], got {scale}.")
        size = (max(1, round(height * top * scale)), max(1, round(width * top * scale)))
        if min(size) >= min(MIN_LEVEL_SIDE, height, width) and size not in sizes:
            sizes.append(size)
    return sizes


def solve_level(image: torch.Tensor, trimap: torch.Tensor, alpha: torch.Tensor, steps: int, *,
                learning_rate: float = DEFAULT_REFINE_LEARNING_RATE, kernel_size: int = 11, on_step=None):
    """Minimise the DDC loss over the unknown pixels of one level.

    Args:
        image: float32 (1, 3, h, w) in [0, 1]; trimap: float32 (1, 1, h, w) in {0, 0.5, 1}; alpha: float32
            (1, 1, h, w) in [0, 1], the starting point.
        steps: Adam steps; on_step: called after each step with the loss value (progress).

    Returns:
        float32 (1, 1, h, w) in [0, 1]: the optimised alpha, equal to the trimap on its known pixels.
    """
    from afmatting.losses import ddc_loss, find_similar_neighbours

    unknown = trimap == 0.5
    # Optimising logits keeps alpha in (0, 1) without clamping (a clamp would stop the gradient at the bounds).
    logits = torch.logit(alpha.clamp(1e-3, 1 - 1e-3)).detach().requires_grad_(True)
    neighbours = find_similar_neighbours(image, kernel_size=kernel_size)
    optimizer = torch.optim.Adam([logits], lr=learning_rate)
    for _ in range(steps):
        with torch.enable_grad():
            current = torch.where(unknown, torch.sigmoid(logits), trimap)
            loss = ddc_loss(image, current, kernel_size=kernel_size, neighbours=neighbours)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if on_step is not None:
            on_step(float(loss))
    return torch.where(unknown, torch.sigmoid(logits.detach()), trimap)


def _progress_callback(bar):
    if bar is None:
        return None

    def on_step(loss: float) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}")

    return on_step


def refine_alpha_adam(
    image: np.ndarray,
    trimap: np.ndarray,
    alpha: np.ndarray,
    steps: int,
    *,
    scales=DEFAULT_REFINE_SCALES,
    max_side: int | None = DEFAULT_REFINE_MAX_SIDE,
    learning_rate: float = DEFAULT_REFINE_LEARNING_RATE,
    kernel_size: int = 11,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Refine a matte by solving known + DDC on its own image, coarse to fine; no labels involved.

    Args:
        image: float32 (H, W, 3) RGB in [0, 1].
        trimap: uint8 (H, W) with values {0, 128, 255} (as :func:`afmatting.trimap.load_trimap` returns).
        alpha: float32 (H, W) in [0, 1], the starting matte (usually a network's prediction).
        steps: Adam steps per level (0 returns ``alpha`` with the trimap's known pixels applied).
        scales: fractions of the working size to solve at, coarse to fine.
        max_side: long side of the finest level; the corrections are upsampled to (H, W). None: full size.
        learning_rate: Adam step size on the alpha logits.
        kernel_size: DDC window side (the paper's 11).
        device: where to solve (default CPU).
        progress: show a progress bar over all steps.

    Returns:
        float32 (H, W) in [0, 1]; 0 on the trimap's background, 1 on its foreground.
    """
    if steps < 0:
        raise AFMattingError(f"refine steps must be >= 0, got {steps}.")
    max_side = check_max_side(max_side)
    image, trimap, alpha = check_refine_inputs(image, trimap, alpha)
    h, w = trimap.shape
    device = torch.device(device) if device is not None else torch.device("cpu")
    full_trimap = trimap_to_tensor(trimap)[None].to(device)
    full_image = image_to_tensor(image)[None].to(device)
    result = alpha_to_tensor(alpha)[None].to(device).clamp(0, 1)
    result = torch.where(full_trimap == 0.5, result, full_trimap)
    sizes = level_sizes(h, w, scales, max_side) if steps and (trimap == UNKNOWN).any() else []
    bar = None
    if progress and sizes:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps * len(sizes), desc="refining", unit="step")
    for size in sizes:
        level_image = resize_tensor(full_image, size).clamp(0, 1)
        level_trimap = resize_tensor(full_trimap, size, "nearest")
        start = resize_tensor(result, size).clamp(0, 1)
        solved = solve_level(level_image, level_trimap, start, steps, learning_rate=learning_rate,
                             kernel_size=kernel_size, on_step=_progress_callback(bar))
        # add this level's correction, not its matte: the finer detail of `result` survives a coarse level
        result = (result + resize_tensor(solved - start, (h, w))).clamp(0, 1)
        result = torch.where(full_trimap == 0.5, result, full_trimap)
    if bar is not None:
        bar.close()
    return result[0, 0].cpu().numpy().astype(np.float32)
