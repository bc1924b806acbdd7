"""Similar-neighbour search for the DC / DDC losses, done once per image and without autograd.

For every pixel ``i`` of an RGB image the search returns the ``K`` pixels ``j`` of its ``kernel_size × kernel_size``
window with the smallest colour distance ``d_ij = ‖I_i − I_j‖₂`` (``i`` itself is always one of them). The result is
stored as compact int8 ``(dy, dx)`` offsets rather than as float maps of ``K² × H × W``, so it can be computed by
data-loader workers, collated and shipped to the device cheaply (``B · K · 2 · H · W`` bytes: 5.8 MB for one 512²
image with K = 11).

Padding modes (what a window reaching over the image border sees):

* ``"valid"`` (default): out-of-image positions are never selected. The paper's code instead treats them as black
  pixels with α = 0, which pulls the alpha of dark border pixels towards 0 (a border bias); this mode removes it.
  A window can then hold fewer than ``K`` in-image pixels (only for images smaller than the window in some direction,
  e.g. a 2×5 image with K = 11): the missing slots are filled with :data:`NO_NEIGHBOUR` and the losses average over
  the pairs that exist.
* ``"zeros"``: the image is zero-padded and out-of-image positions are selectable black pixels, exactly as in the
  paper's public code (``F.unfold(..., padding=K // 2)`` → norm → top-K). The losses then read α = 0 there.

Memory never scales with ``K² · H · W``: rows are processed in chunks whose ``K² × rows × W`` distance buffer holds at
most ``chunk_elements`` values (default on CPU 2¹⁹, i.e. 2 MiB of float32, two such buffers live at once: small
chunks stay in cache, larger ones were not faster on a 2-core CPU; on CUDA 2²⁴, to keep kernel launches few).

The function is pure (no global state, no autograd), so it is safe to call from ``DataLoader`` workers; it runs on
whatever device the image is on (the same torch code serves CPU and CUDA).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .errors import AFMattingError

__all__ = ["NO_NEIGHBOUR", "PADDING_MODES", "find_similar_neighbours", "check_kernel_size"]

#: offset value (in both dy and dx) of a slot that holds no neighbour (fewer in-image candidates than K, "valid" mode)
NO_NEIGHBOUR = -128
PADDING_MODES = ("valid", "zeros")
#: default upper bound on the number of float32 values in one chunk's K² × rows × W distance buffer (CPU: 2 MiB,
#: cache-sized; CUDA: 64 MiB, so a batch of 512² crops takes a few dozen kernel launches rather than thousands)
DEFAULT_CHUNK_ELEMENTS = 1 << 19
DEFAULT_CHUNK_ELEMENTS_CUDA = 1 << 24
# +inf as the int32 bit pattern: the value an out-of-image ("valid" mode) candidate ends up with
_INF_BITS = 0x7F800000


def check_kernel_size(kernel_size: int) -> int:
    """Validate ``kernel_size`` (odd int in 1..255, so offsets fit int8) and return the window radius ``K // 2``."""
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int):
        raise AFMattingError(f"kernel_size must be an odd int, got {kernel_size!r}")
    if kernel_size < 1 or kernel_size % 2 == 0 or kernel_size > 255:
        raise AFMattingError(f"kernel_size must be odd and in 1..255, got {kernel_size}")
    return kernel_size // 2


def _check_padding(padding: str) -> None:
    if padding not in PADDING_MODES:
        raise AFMattingError(f"padding must be one of {PADDING_MODES}, got {padding!r}")


def as_float_image(image: torch.Tensor, name: str = "image") -> tuple[torch.Tensor, bool]:
    """Return ``(image as float32 (B,3,H,W), was_unbatched)``; accepts (3,H,W) or (B,3,H,W), float or uint8 (/255)."""
    if not isinstance(image, torch.Tensor):
        raise AFMattingError(f"{name} must be a torch.Tensor, got {type(image).__name__}")
    unbatched = image.dim() == 3
    if unbatched:
        image = image.unsqueeze(0)
    if image.dim() != 4 or image.shape[1] != 3:
        raise AFMattingError(f"{name} must have shape (B,3,H,W) or (3,H,W), got {tuple(image.shape)}")
    if image.shape[2] == 0 or image.shape[3] == 0:
        raise AFMattingError(f"{name} is empty: shape {tuple(image.shape)}")
    if image.dtype == torch.uint8:
        image = image.float() / 255.0
    elif image.is_floating_point():
        image = image.float()  # fp16/bf16 inputs: distances are always computed in fp32
    else:
        raise AFMattingError(f"{name} must be float (values in [0,1]) or uint8, got {image.dtype}")
    return image, unbatched


@torch.no_grad()
def find_similar_neighbours(
    image: torch.Tensor,
    kernel_size: int = 11,
    padding: str = "valid",
    num_neighbours: int | None = None,
    chunk_elements: int | None = None,
) -> torch.Tensor:
    """Offsets of the ``K`` most similar pixels in each pixel's ``kernel_size × kernel_size`` window.

    Args:
        image: RGB, float (B,3,H,W) or (3,H,W) with values in [0,1] (not ImageNet-normalised); any float dtype
            (computed in float32) or uint8 (divided by 255). Any H, W >= 1, also smaller than the window.
        kernel_size: odd window side, 1..255 (paper: 11).
        padding: ``"valid"`` (never select out-of-image positions) or ``"zeros"`` (paper's code: zero-padded image,
            out-of-image positions are selectable black pixels).
        num_neighbours: K, how many pixels to select per window, 1..kernel_size²; default ``kernel_size``.
        chunk_elements: upper bound on the size of one row chunk's distance buffer (K²·rows·W·B float32 values);
            at least one row is always processed. Default 2¹⁹ on CPU, 2²⁴ on CUDA.

    Returns:
        int8 tensor (B,K,2,H,W) — or (K,2,H,W) for unbatched input — on the image's device. ``[:, k, 0]`` is dy and
        ``[:, k, 1]`` is dx, each in ``[-kernel_size//2, kernel_size//2]``: the k-th selected pixel of pixel (y, x)
        is (y + dy, x + dx). Slot order is unspecified (ties broken arbitrarily), except that the pixel itself is
        always selected. Slots without a candidate ("valid" mode on images smaller than the window) hold
        :data:`NO_NEIGHBOUR` in both dy and dx.
    """
    img, unbatched = as_float_image(image)
    radius = check_kernel_size(kernel_size)
    _check_padding(padding)
    ks = kernel_size
    n_cand = ks * ks
    k = ks if num_neighbours is None else num_neighbours
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n_cand:
        raise AFMattingError(f"num_neighbours must be an int in 1..{n_cand} (kernel_size²), got {num_neighbours!r}")
    if chunk_elements is None:
        budget = DEFAULT_CHUNK_ELEMENTS_CUDA if img.device.type == "cuda" else DEFAULT_CHUNK_ELEMENTS
    else:
        budget = int(chunk_elements)
    if budget < 1:
        raise AFMattingError(f"chunk_elements must be positive, got {chunk_elements!r}")

    b, _, h, w = img.shape
    # "valid": +inf outside, so every out-of-image candidate gets distance +inf and loses against any in-image one.
    fill = 0.0 if padding == "zeros" else math.inf
    padded = F.pad(img, (radius, radius, radius, radius), value=fill).contiguous()
    s_b, s_c, s_h, s_w = padded.stride()
    base_offset = padded.storage_offset()

    rows = max(1, min(h, budget // (b * n_cand * w)))
    out = torch.empty(b, k, 2, h, w, dtype=torch.int8, device=img.device)
    # Two reusable buffers (squared distance and per-channel difference) of the largest chunk.
    dist_buf = torch.empty(b * rows * w * n_cand, dtype=torch.float32, device=img.device)
    diff_buf = torch.empty_like(dist_buf)
    centre_slot = n_cand // 2
    # candidate slot s = (dy + radius) * ks + (dx + radius) -> (dy, dx), as int8 lookup tables
    grid = torch.arange(-radius, radius + 1, device=img.device, dtype=torch.int8)
    lut_dy = grid.repeat_interleave(ks)
    lut_dx = grid.repeat(ks)

    for r0 in range(0, h, rows):
        r1 = min(h, r0 + rows)
        n_rows = r1 - r0
        # Candidates last: top-k along a contiguous last dimension is faster than along a strided one.
        size = (b, n_rows, w, ks, ks)
        dist = dist_buf[: b * n_rows * w * n_cand].view(size)
        diff = diff_buf[: dist.numel()].view(size)
        for c in range(3):
            # Strided view without copying: window[b, r, x, dy, dx] = padded[b, c, r0 + r + dy, x + dx], i.e. the
            # candidate at offset (dy - radius, dx - radius) of output pixel (r0 + r, x).
            window = padded.as_strided(size, (s_b, s_h, s_w, s_h, s_w), base_offset + c * s_c + r0 * s_h)
            centre = padded[:, c, r0 + radius : r1 + radius, radius : radius + w][..., None, None]
            torch.sub(window, centre, out=diff)
            if c == 0:
                torch.mul(diff, diff, out=dist)
            else:
                dist.addcmul_(diff, diff)
        dist = dist.view(b, n_rows, w, n_cand)
        # The pixel itself always belongs to S_i, even in flat regions where many candidates tie at distance 0.
        dist[..., centre_slot] = -1.0
        # Squared distances rank like distances (sqrt is monotonic), and non-negative float32 values (incl. +inf)
        # rank like their int32 bit patterns; int32 top-k is ~1.5x faster than float top-k on CPU. -1.0 becomes a
        # negative int, so the centre still comes first.
        values, slot = dist.view(torch.int32).topk(k, dim=-1, largest=False, sorted=False)
        dy = lut_dy[slot]  # (b, n_rows, w, k) int8
        dx = lut_dx[slot]
        if padding == "valid":
            missing = values == _INF_BITS
            if bool(missing.any()):
                dy.masked_fill_(missing, NO_NEIGHBOUR)
                dx.masked_fill_(missing, NO_NEIGHBOUR)
        out[:, :, 0, r0:r1] = dy.permute(0, 3, 1, 2)
        out[:, :, 1, r0:r1] = dx.permute(0, 3, 1, 2)

    return out[0] if unbatched else out
