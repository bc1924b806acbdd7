"""Training losses: alpha-free (known, DC, DDC, scaled DDC) and alpha-supervised (L1, Laplacian, gradient).

Conventions (see docs/DESIGN.md): ``image`` float (B,3,H,W) RGB in [0,1], not ImageNet-normalised; ``alpha`` float
(B,1,H,W) in [0,1]; ``trimap`` float (B,1,H,W) with values {0, 0.5, 1}. Every loss casts its inputs to float32 and
returns a float32 scalar, so fp16/bf16 model outputs give the float32 result of their (rounded) values; gradients
flow back to the input dtype.

Pair losses. For each pixel i, S_i is the set of K pixels j of its K×K window with the smallest
d_ij = ‖I_i − I_j‖₂ (see :func:`afmatting.neighbours.find_similar_neighbours`); the losses average over all pairs
(i, j ∈ S_i) of the batch:

* DDC: |(α_i − α_j) − d_ij|             (:func:`ddc_loss`, the paper's prior)
* DC:  ||α_i − α_j| − d_ij|             (:func:`dc_loss`)
* scaled DDC: |(α_i − α_j)·‖F_i − B_i‖ − d_ij|  (:func:`scaled_ddc_loss`, MatAnyone's variant)

The neighbour search carries no gradient; the image is a constant (no gradient flows into it). The loss itself
gathers only the K selected alphas per pixel, one slot at a time, in a custom autograd function that saves one int8
sign per pair for the backward pass instead of K² float maps: memory is O(K·H·W) bytes, not O(K²·H·W) floats.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .errors import AFMattingError
from .neighbours import (
    NO_NEIGHBOUR,
    PADDING_MODES,
    as_float_image,
    check_kernel_size,
    find_similar_neighbours,
)

__all__ = [
    "known_loss",
    "find_similar_neighbours",
    "ddc_loss",
    "dc_loss",
    "scaled_ddc_loss",
    "window_contrast",
    "alpha_free_loss",
    "alpha_l1_loss",
    "laplacian_loss",
    "gradient_loss",
    "alpha_loss",
    "NO_NEIGHBOUR",
]

# BT.601 luma weights, used to pick the brightest / darkest pixel of a window for the scaled DDC.
_LUMA = (0.299, 0.587, 0.114)


# --------------------------------------------------------------------------------------------------- input checks


def _as_alpha(x: torch.Tensor, name: str, batch: int | None = None, size: tuple[int, int] | None = None):
    """Return ``x`` as float32 (B,1,H,W); (1,H,W) is accepted and batched."""
    if not isinstance(x, torch.Tensor):
        raise AFMattingError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[1] != 1:
        raise AFMattingError(f"{name} must have shape (B,1,H,W) or (1,H,W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise AFMattingError(f"{name} must be a float tensor, got {x.dtype}")
    if batch is not None and x.shape[0] != batch:
        raise AFMattingError(f"{name} has batch size {x.shape[0]} but the image has {batch}")
    if size is not None and tuple(x.shape[2:]) != tuple(size):
        raise AFMattingError(f"{name} has size {tuple(x.shape[2:])} but the image has {tuple(size)}")
    return x.float()


def _prepare_neighbours(
    neighbours: torch.Tensor | None,
    image: torch.Tensor,
    kernel_size: int,
    padding: str,
) -> torch.Tensor:
    """Search neighbours if not given, else validate them; return int8 (B,K,2,H,W) on the image's device."""
    radius = check_kernel_size(kernel_size)
    if padding not in PADDING_MODES:
        raise AFMattingError(f"padding must be one of {PADDING_MODES}, got {padding!r}")
    b, _, h, w = image.shape
    if neighbours is None:
        return find_similar_neighbours(image, kernel_size=kernel_size, padding=padding)
    if not isinstance(neighbours, torch.Tensor):
        raise AFMattingError(f"neighbours must be a torch.Tensor, got {type(neighbours).__name__}")
    if neighbours.dim() == 4:
        neighbours = neighbours.unsqueeze(0)
    if (
        neighbours.dim() != 5
        or neighbours.shape[0] != b
        or neighbours.shape[2] != 2
        or tuple(neighbours.shape[3:]) != (h, w)
        or neighbours.shape[1] < 1
    ):
        raise AFMattingError(
            f"neighbours must have shape (B,K,2,H,W) = ({b},K,2,{h},{w}) to match the image, "
            f"got {tuple(neighbours.shape)}"
        )
    if neighbours.dtype not in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
        raise AFMattingError(f"neighbours must be an integer tensor (int8 offsets), got {neighbours.dtype}")
    neighbours = neighbours.to(device=image.device, dtype=torch.int8)
    # Offsets beyond the window would read outside the padded planes: refuse them (NO_NEIGHBOUR is allowed).
    real = neighbours != NO_NEIGHBOUR
    if bool((neighbours.abs() > radius).logical_and_(real).any()):
        raise AFMattingError(
            f"neighbours hold offsets larger than kernel_size // 2 = {radius}; "
            "pass the kernel_size they were computed with"
        )
    return neighbours


# --------------------------------------------------------------------------------------------------- pair losses

class _PairLoss(torch.autograd.Function):
    """Mean over valid pairs of |r_ij|, r = (α_i − α_j)·s_i − d_ij ("ddc", "scaled") or |α_i − α_j| − d_ij ("dc").

    Inputs: alpha float32 (B,1,H,W) (the only differentiable input), image float32 (B,3,H,W), neighbours int8
    (B,K,2,H,W), scale float32 (B,1,H,W) or None, mode, radius (the planes are zero-padded by it, so
    "zeros"-mode neighbours read black pixels with α = 0 outside the image, exactly like the paper's unfold).
    """

    @staticmethod
    def forward(ctx, alpha, image, neighbours, scale, mode, radius):
        b, k, _, h, w = neighbours.shape
        hw = h * w
        pad = (radius, radius, radius, radius)
        alpha_pad = F.pad(alpha, pad).reshape(b, -1)
        image_pad = F.pad(image, pad).reshape(b, 3, -1)
        alpha_i = alpha.reshape(b, hw)
        image_i = image.reshape(b, 3, hw)
        scale_i = None if scale is None else scale.reshape(b, hw)
        base = _base_index(h, w, radius, alpha.device)
        has_missing = bool((neighbours[:, :, 0] == NO_NEIGHBOUR).any())
        signs = torch.empty(b, k, hw, dtype=torch.int8, device=alpha.device)
        total = torch.zeros((), dtype=torch.float64, device=alpha.device)
        for slot in range(k):
            index, valid = _slot_index(neighbours, slot, base, radius, has_missing)
            alpha_j = alpha_pad.gather(1, index)
            image_j = image_pad.gather(2, index.unsqueeze(1).expand(b, 3, hw))
            diff = image_j.sub_(image_i)
            # explicit channel sum: a reduction over the short strided channel dim is much slower on CPU
            dist = (diff[:, 0] * diff[:, 0]).addcmul_(diff[:, 1], diff[:, 1]).addcmul_(diff[:, 2], diff[:, 2]).sqrt_()
            delta = torch.sub(alpha_i, alpha_j, out=alpha_j)  # alpha_j is not needed any more: reuse its storage
            if mode == "dc":
                r = delta.abs().sub_(dist)
                coef = torch.sign(r).mul_(torch.sign(delta))  # d|r|/dΔ, with torch's sign(0) = 0 subgradient
            else:
                r = (delta.mul_(scale_i) if mode == "scaled" else delta).sub_(dist)
                coef = torch.sign(r)
            if valid is not None:
                r.mul_(valid)
                coef.mul_(valid)
            signs[:, slot] = coef  # -1, 0 or 1: exact in int8
            total += r.abs_().sum().double()
        count = int((neighbours[:, :, 0] != NO_NEIGHBOUR).sum()) if has_missing else b * k * hw
        ctx.save_for_backward(neighbours, signs, scale_i)
        ctx.meta = (radius, h, w, max(count, 1), has_missing)
        # Accumulated in float64 (one scalar per slot), returned as float32 like every loss here.
        return (total / max(count, 1)).to(torch.float32)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        neighbours, signs, scale_i = ctx.saved_tensors
        radius, h, w, count, has_missing = ctx.meta
        b, k = neighbours.shape[:2]
        hp, wp = h + 2 * radius, w + 2 * radius
        g = grad_out.to(torch.float32) / count
        weight = g if scale_i is None else g * scale_i  # ∂|r|/∂α_i = sign·s (s = 1 unless scaled); ∂/∂α_j = −that
        grad_i = signs.sum(1, dtype=torch.float32).mul_(weight)
        grad_pad = torch.zeros(b, hp * wp, dtype=torch.float32, device=neighbours.device)
        base = _base_index(h, w, radius, neighbours.device)
        neg_weight = -weight
        for slot in range(k):
            index, _ = _slot_index(neighbours, slot, base, radius, has_missing)
            grad_pad.scatter_add_(1, index, signs[:, slot] * neg_weight)  # back to where α_j was read
        # Gradients that land in the zero padding belong to constants (the paper's α = 0 outside): drop them.
        grad = grad_pad.reshape(b, 1, hp, wp)[:, :, radius : radius + h, radius : radius + w]
        return grad + grad_i.reshape(b, 1, h, w), None, None, None, None, None


def _base_index(h: int, w: int, radius: int, device) -> torch.Tensor:
    """Flat index (1, H·W) int64 of every pixel in the radius-padded plane; neighbour j sits at base + dy·Wp + dx."""
    wp = w + 2 * radius
    rows = (torch.arange(h, device=device) + radius) * wp
    return (rows[:, None] + torch.arange(radius, radius + w, device=device)).reshape(1, h * w)


def _slot_index(neighbours: torch.Tensor, slot: int, base: torch.Tensor, radius: int, has_missing: bool):
    """Flat padded-plane index (B, H·W) int64 of neighbour ``slot``, and its float validity mask or None."""
    b, _, _, h, w = neighbours.shape
    wp = w + 2 * radius
    dy = neighbours[:, slot, 0].reshape(b, -1)
    dx = neighbours[:, slot, 1].reshape(b, -1)
    # int32 arithmetic (|dy·Wp| stays far below 2³¹), promoted to int64 by the final add
    index = (dy.to(torch.int32) * wp).add_(dx) + base
    if not has_missing:
        return index, None
    present = dy != NO_NEIGHBOUR
    # A missing slot reads the pixel itself (Δα = 0, d = 0) and is masked out of sum, count and gradient.
    return torch.where(present, index, base), present.to(torch.float32)


def _pair_loss(image, alpha, kernel_size, padding, neighbours, mode):
    img, unbatched = as_float_image(image)
    img = img.detach()
    b, _, h, w = img.shape
    if unbatched and alpha.dim() == 3:
        alpha = alpha.unsqueeze(0)
    a = _as_alpha(alpha, "alpha", b, (h, w))
    nb = _prepare_neighbours(neighbours, img, kernel_size, padding)
    radius = kernel_size // 2
    scale = window_contrast(img, kernel_size, padding) if mode == "scaled" else None
    return _PairLoss.apply(a, img, nb, scale, mode, radius)


def ddc_loss(
    image: torch.Tensor,
    alpha: torch.Tensor,
    kernel_size: int = 11,
    padding: str = "valid",
    neighbours: torch.Tensor | None = None,
) -> torch.Tensor:
    """Directional distance consistency loss: mean over pairs (i, j ∈ S_i) of |(α_i − α_j) − d_ij|.

    Args:
        image: float (B,3,H,W) RGB in [0,1] (or (3,H,W)); any float dtype, used in float32; no gradient flows into it.
        alpha: float (B,1,H,W) prediction in [0,1] (or (1,H,W)); any float dtype, used in float32.
        kernel_size: odd window side (paper: 11); also the number K of selected neighbours when searching here.
        padding: ``"valid"`` (default; out-of-image pixels are never neighbours, removing the paper's border bias) or
            ``"zeros"`` (the paper's code exactly, value and gradient: image and alpha zero-padded, out-of-image
            neighbours are selectable black pixels with α = 0). Only used when ``neighbours`` is None.
        neighbours: optional int8 (B,K,2,H,W) offsets from :func:`find_similar_neighbours` on the same image (e.g.
            computed by data workers); the padding they were searched with applies. Any K is accepted.

    Returns:
        float32 scalar; the mean over all B·K·H·W pairs (pairs marked NO_NEIGHBOUR — only possible in "valid" mode
        when the image is smaller than the window — are left out of sum and count). 0 when no pair exists.
    """
    return _pair_loss(image, alpha, kernel_size, padding, neighbours, "ddc")


def dc_loss(
    image: torch.Tensor,
    alpha: torch.Tensor,
    kernel_size: int = 11,
    padding: str = "valid",
    neighbours: torch.Tensor | None = None,
) -> torch.Tensor:
    """Distance consistency loss: mean over pairs (i, j ∈ S_i) of ||α_i − α_j| − d_ij|. Arguments as :func:`ddc_loss`.

    The unsigned variant the paper ablates: it fits hair but pushes texture into the foreground interior.
    """
    return _pair_loss(image, alpha, kernel_size, padding, neighbours, "dc")


def scaled_ddc_loss(
    image: torch.Tensor,
    alpha: torch.Tensor,
    kernel_size: int = 11,
    padding: str = "valid",
    neighbours: torch.Tensor | None = None,
) -> torch.Tensor:
    """MatAnyone's scaled DDC: mean over pairs (i, j ∈ S_i) of |(α_i − α_j)·‖F_i − B_i‖ − d_ij|.

    ``‖F_i − B_i‖`` is estimated per pixel by :func:`window_contrast`: F_i is the brightest and B_i the darkest pixel
    (BT.601 luma) of i's K×K window, and the scale is their RGB distance (in [0, √3]; no gradient). A pair across a
    real edge then needs Δα = d_ij / ‖F − B‖ rather than Δα = d_ij, so a full 0→1 transition is reachable whatever the
    colour contrast. Arguments and return as :func:`ddc_loss`; ``padding`` also decides whether out-of-image black
    pixels can be the window's darkest pixel ("zeros") or not ("valid").
    """
    return _pair_loss(image, alpha, kernel_size, padding, neighbours, "scaled")


@torch.no_grad()
def window_contrast(image: torch.Tensor, kernel_size: int = 11, padding: str = "valid") -> torch.Tensor:
    """Per-pixel ‖F − B‖: RGB distance between the brightest and the darkest (BT.601 luma) pixel of the K×K window.

    Args:
        image: float (B,3,H,W) RGB in [0,1] (or (3,H,W)), used in float32.
        kernel_size: odd window side.
        padding: ``"valid"``: only in-image pixels; ``"zeros"``: out-of-image pixels are black (luma 0, RGB 0).

    Returns:
        float32 (B,1,H,W) (or (1,H,W)) in [0, √3]. Ties in luma pick any of the tied pixels.
    """
    img, unbatched = as_float_image(image)
    radius = check_kernel_size(kernel_size)
    if padding not in PADDING_MODES:
        raise AFMattingError(f"padding must be one of {PADDING_MODES}, got {padding!r}")
    b, _, h, w = img.shape
    weights = torch.tensor(_LUMA, dtype=torch.float32, device=img.device).view(1, 3, 1, 1)
    luma = (img * weights).sum(1, keepdim=True)
    pad = (radius, radius, radius, radius)
    if padding == "zeros":
        luma_hi = luma_lo = F.pad(luma, pad, value=0.0)
    else:
        luma_hi = F.pad(luma, pad, value=-float("inf"))  # never the brightest
        luma_lo = F.pad(luma, pad, value=float("inf"))  # never the darkest
    # max_pool2d's indices are flat positions in the padded plane, used to read the RGB of those pixels.
    _, hi = F.max_pool2d(luma_hi, kernel_size, stride=1, return_indices=True)
    _, lo = F.max_pool2d(-luma_lo, kernel_size, stride=1, return_indices=True)
    image_pad = F.pad(img, pad).reshape(b, 3, -1)
    fg = image_pad.gather(2, hi.reshape(b, 1, -1).expand(b, 3, h * w))
    bg = image_pad.gather(2, lo.reshape(b, 1, -1).expand(b, 3, h * w))
    out = (fg - bg).square_().sum(1).sqrt_().reshape(b, 1, h, w)
    return out[0] if unbatched else out


# --------------------------------------------------------------------------------------------------- known loss


def known_loss(alpha: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
    """L1 between ``alpha`` and the trimap on known pixels, normalised by the number of known pixels in the batch.

    Args:
        alpha: float (B,1,H,W) prediction in [0,1] (or (1,H,W)); any float dtype, used in float32.
        trimap: float (B,1,H,W) with values {0, 0.5, 1} (same shape). A pixel is known background when its value is
            <= 0.25 and known foreground when >= 0.75 (target 0 / 1); anything in between is unknown.

    Returns:
        float32 scalar: Σ_known |α − T| / #known over the whole batch, for any crop size. A batch without known
        pixels gives exactly 0 (with zero gradient), not NaN.
    """
    a = _as_alpha(alpha, "alpha")
    t = _as_alpha(trimap, "trimap", a.shape[0], tuple(a.shape[2:]))
    fg = t >= 0.75
    known = fg | (t <= 0.25)
    target = fg.to(torch.float32)
    total = ((a - target).abs() * known).sum()
    return total / known.sum().clamp_min(1)


def alpha_free_loss(
    image: torch.Tensor,
    alpha: torch.Tensor,
    trimap: torch.Tensor,
    neighbours: torch.Tensor | None = None,
    ddc_weight: float = 10.0,
    kernel_size: int = 11,
    padding: str = "valid",
) -> dict[str, torch.Tensor]:
    """The paper's training objective: ``known_loss + ddc_weight × ddc_loss`` (paper: weight 10, K = 11).

    Shapes as in :func:`ddc_loss` and :func:`known_loss`. Returns ``{"loss", "known", "ddc"}``, float32 scalars
    (``loss`` carries the gradient; the parts are returned attached too, for logging call ``.item()``).
    """
    known = known_loss(alpha, trimap)
    ddc = ddc_loss(image, alpha, kernel_size=kernel_size, padding=padding, neighbours=neighbours)
    return {"loss": known + ddc_weight * ddc, "known": known, "ddc": ddc}


# --------------------------------------------------------------------------------------------------- alpha-supervised


def _weighted_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return values.mean()
    m = mask.to(torch.float32).expand_as(values)
    return (values * m).sum() / m.sum().clamp_min(1e-8)


def _check_pair(pred, gt, mask):
    p = _as_alpha(pred, "pred")
    g = _as_alpha(gt, "gt", p.shape[0], tuple(p.shape[2:]))
    m = None
    if mask is not None:
        m = _as_alpha(mask if mask.is_floating_point() else mask.float(), "mask", p.shape[0], tuple(p.shape[2:]))
    return p, g, m


def alpha_l1_loss(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean |pred − gt| (float32 scalar), over the pixels weighted by ``mask`` when given.

    ``pred``, ``gt``: float (B,1,H,W) in [0,1]; ``mask``: optional (B,1,H,W) weights in [0,1] (bool allowed), e.g.
    the unknown band. With a mask the sum is divided by the mask's sum (0 if the mask is empty).
    """
    p, g, m = _check_pair(pred, gt, mask)
    return _weighted_mean((p - g).abs(), m)


def _gauss_kernel(device) -> torch.Tensor:
    k1 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], device=device) / 16.0
    return (k1[:, None] * k1[None, :]).view(1, 1, 5, 5)


def _laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Band-pass levels (finest first) followed by the low-pass residual. Works for any size (even 1×1)."""
    kernel = _gauss_kernel(x.device)
    bands = []
    cur = x
    for _ in range(levels):
        h, w = cur.shape[-2:]
        if min(h, w) < 2:
            break
        # replicate padding: a border is not an edge (zero padding would create one)
        blurred = F.conv2d(F.pad(cur, (2, 2, 2, 2), mode="replicate"), kernel)
        down = blurred[..., ::2, ::2]
        up = F.interpolate(down, size=(h, w), mode="bilinear", align_corners=False)
        bands.append(cur - up)
        cur = down
    bands.append(cur)
    return bands


def laplacian_loss(
    pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor | None = None, levels: int = 5
) -> torch.Tensor:
    """Laplacian-pyramid L1: Σ_l 2^l · mean|L_l(pred) − L_l(gt)| over ``levels`` band-pass levels + the residual.

    The usual fine-label matting term (as in MG-Matting / ViTMatte trainings): it weights errors in structure at every
    scale, coarse ones more. ``pred``, ``gt``: float (B,1,H,W) in [0,1]; ``mask`` (optional, (B,1,H,W)) multiplies
    both mattes before the pyramid (so only the masked region is compared). Returns a float32 scalar.
    """
    p, g, m = _check_pair(pred, gt, mask)
    if m is not None:
        p, g = p * m, g * m
    total = p.new_zeros(())
    for level, (bp, bg) in enumerate(zip(_laplacian_pyramid(p, levels), _laplacian_pyramid(g, levels))):
        total = total + (2.0**level) * (bp - bg).abs().mean()
    return total


def gradient_loss(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean L1 between the horizontal and vertical finite differences of ``pred`` and ``gt`` (float32 scalar).

    ``pred``, ``gt``: float (B,1,H,W); ``mask`` (optional (B,1,H,W) weights) is applied to each difference through the
    product of the two pixels' weights. A dimension of size 1 contributes nothing.
    """
    p, g, m = _check_pair(pred, gt, mask)
    terms = []
    for dim in (2, 3):
        n = p.shape[dim]
        if n < 2:
            continue
        dp = p.narrow(dim, 1, n - 1) - p.narrow(dim, 0, n - 1)
        dg = g.narrow(dim, 1, n - 1) - g.narrow(dim, 0, n - 1)
        dm = None if m is None else m.narrow(dim, 1, n - 1) * m.narrow(dim, 0, n - 1)
        terms.append(_weighted_mean((dp - dg).abs(), dm))
    if not terms:
        return p.new_zeros(()) + 0.0 * p.sum()
    return sum(terms) / len(terms)


def alpha_loss(
    pred: torch.Tensor,
    gt: torch.Tensor,
    mask: torch.Tensor | None = None,
    laplacian_weight: float = 1.0,
    gradient_weight: float = 0.0,
) -> torch.Tensor:
    """Fine-label baseline loss: ``alpha_l1_loss + laplacian_weight·laplacian_loss + gradient_weight·gradient_loss``.

    Shapes as in :func:`alpha_l1_loss`; returns a float32 scalar.
    """
    loss = alpha_l1_loss(pred, gt, mask)
    if laplacian_weight:
        loss = loss + laplacian_weight * laplacian_loss(pred, gt, mask)
    if gradient_weight:
        loss = loss + gradient_weight * gradient_loss(pred, gt, mask)
    return loss
