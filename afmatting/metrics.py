"""Matting metrics that reproduce the Deep Image Matting (Xu et al., CVPR 2017) MATLAB reference.

``compute_metrics(pred, gt, trimap=None)`` returns ``SAD``, ``MSE``, ``MAD``, ``Grad`` and ``Conn`` in the units
papers print:

* ``SAD  = sum |p - g| / 1000`` over the region;
* ``MSE  = mean (p - g)^2 * 1e3`` over the region (the reference prints MSE x 1e3);
* ``MAD  = mean |p - g| * 1e3`` over the region;
* ``Grad = sum (|grad G_1.4 * p| - |grad G_1.4 * g|)^2 / 1000`` over the region, after min-max normalising each
  matte over the whole image (MATLAB ``mat2gray``); the filter is the reference ``gaussgradient`` kernel (outer
  product of a Gaussian and its derivative, L2-normalised, half-size from epsilon = 0.01), applied as a true
  convolution with replicated borders (``imfilter(..., 'replicate', 'conv')``);
* ``Conn = sum |phi(p) - phi(g)| / 1000`` over the region, where for thresholds 0.1, 0.2, ..., 1 the largest
  4-connected component of ``(p >= t) & (g >= t)`` is found, each pixel's level ``l`` is the threshold before the
  first one at which the pixel falls outside that component (1 if it never does), ``d = matte - l`` and
  ``phi = 1 - d * [d >= 0.15]``.

The region is the trimap's unknown pixels (value 128) when a trimap is given, and the whole image otherwise (the
AM-2K / P3M protocol). With an empty region SAD, Grad and Conn are 0 and MSE and MAD are NaN (0 / 0, as in the
reference).

Like the reference, the comparisons of the connectivity error are done in single precision; everything else is
computed in float64.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import InvalidImageError, InvalidTrimapError
from .io import load_matte

METRIC_NAMES = ("SAD", "MSE", "MAD", "Grad", "Conn")

#: sigma of the Gaussian-derivative filter of the gradient error
GRAD_SIGMA = 1.4
#: threshold step of the connectivity error
CONN_STEP = 0.1
#: theta of the connectivity error: differences below it count as fully connected
CONN_THETA = 0.15


def region_mask(trimap, shape: tuple[int, int]) -> np.ndarray:
    """Boolean (H, W) evaluation region: the trimap's unknown (128) pixels, or everything when ``trimap`` is None.

    ``trimap`` may be uint8 {0, 128, 255} or float {0, 0.5, 1}; other inputs are normalised with
    :func:`afmatting.trimap.load_trimap`.
    """
    if trimap is None:
        return np.ones(shape, dtype=bool)
    from .trimap import UNKNOWN, load_trimap

    arr = np.asarray(trimap)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.dtype != np.uint8 or not np.isin(arr, (0, 128, 255)).all():
        arr = load_trimap(arr)
    if arr.shape != tuple(shape):
        raise InvalidTrimapError(
            f"trimap is {arr.shape[1]}x{arr.shape[0]} (WxH) but the mattes are {shape[1]}x{shape[0]}."
        )
    return arr == UNKNOWN


def gaussgradient_kernel(sigma: float = GRAD_SIGMA, epsilon: float = 1e-2) -> tuple[np.ndarray, np.ndarray]:
    """Separable factors of the reference ``gaussgradient`` x-kernel.

    The reference builds ``hx[i, j] = gauss(i - h) * dgauss(j - h)`` for ``i, j = 0..2h`` with
    ``h = ceil(sigma * sqrt(-2 log(sqrt(2 pi) sigma epsilon)))`` and divides it by its L2 norm. Returns
    ``(row_factor, col_factor)``, float64 vectors of length ``2h + 1`` with ``hx = outer(row_factor, col_factor)``
    (the normalisation is folded into ``row_factor``). The y-kernel is ``hx.T``.
    """
    half = int(math.ceil(sigma * math.sqrt(-2.0 * math.log(math.sqrt(2.0 * math.pi) * sigma * epsilon))))
    u = np.arange(-half, half + 1, dtype=np.float64)
    gauss = np.exp(-(u**2) / (2.0 * sigma**2)) / (sigma * math.sqrt(2.0 * math.pi))
    dgauss = -u * gauss / sigma**2
    norm = math.sqrt(float((gauss**2).sum() * (dgauss**2).sum()))  # ||outer(a, b)||_F = ||a|| ||b||
    return gauss / norm, dgauss


def _convolve_1d_replicate(image: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """True convolution of a 2-D float array with a 1-D kernel along ``axis``, replicating the border pixels."""
    half = len(kernel) // 2
    pad = [(0, 0), (0, 0)]
    pad[axis] = (half, half)
    padded = np.pad(image, pad, mode="edge")
    n = image.shape[axis]
    out = np.zeros_like(image)
    # convolution: out[x] = sum_k kernel[k] * in[x - (k - half)] = sum_k kernel[k] * padded[x + 2 half - k]
    for k, weight in enumerate(kernel):
        if weight == 0.0:
            continue
        start = 2 * half - k
        window = padded[start : start + n] if axis == 0 else padded[:, start : start + n]
        out += weight * window
    return out


def gradient_magnitude(matte: np.ndarray, sigma: float = GRAD_SIGMA) -> np.ndarray:
    """``sqrt(gx^2 + gy^2)`` of the reference ``gaussgradient`` filter; float64 (H, W) in, float64 (H, W) out."""
    row_factor, col_factor = gaussgradient_kernel(sigma)
    # gx = conv(matte, outer(row_factor, col_factor)); gy = conv(matte, outer(col_factor, row_factor))
    gx = _convolve_1d_replicate(_convolve_1d_replicate(matte, row_factor, 0), col_factor, 1)
    gy = _convolve_1d_replicate(_convolve_1d_replicate(matte, col_factor, 0), row_factor, 1)
    return np.sqrt(gx * gx + gy * gy)


def _min_max_normalise(matte: np.ndarray) -> np.ndarray:
    """MATLAB ``mat2gray``: (x - min) / (max - min); a constant matte is returned unchanged."""
    lo, hi = float(matte.min()), float(matte.max())
    if hi == lo:
        return matte
    return (matte - lo) / (hi - lo)


def gradient_error(pred: np.ndarray, gt: np.ndarray, region: np.ndarray) -> float:
    """Grad of the reference (see module doc); float64 mattes (H, W) in [0, 1], boolean region (H, W)."""
    pred_amp = gradient_magnitude(_min_max_normalise(pred))
    gt_amp = gradient_magnitude(_min_max_normalise(gt))
    return float(((pred_amp - gt_amp) ** 2)[region].sum() / 1000.0)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """Boolean (H, W): the largest 4-connected component of ``mask`` (all False when ``mask`` is empty).

    Ties go to the component whose first pixel comes first in column-major order, as MATLAB's ``bwconncomp``
    followed by ``max`` picks it.
    """
    from scipy import ndimage

    # labelling the transpose numbers the components in column-major order of the original image
    labels_t, count = ndimage.label(mask.T)  # default structure = 4-connectivity
    if count == 0:
        return np.zeros(mask.shape, dtype=bool)
    sizes = np.bincount(labels_t.ravel())
    sizes[0] = 0
    return (labels_t == int(np.argmax(sizes))).T


def connectivity_error(pred_single: np.ndarray, gt_single: np.ndarray, region: np.ndarray, step: float = CONN_STEP) -> float:
    """Conn of the reference (see module doc); float32 mattes (H, W) in [0, 1], boolean region (H, W)."""
    num_steps = int(round(1.0 / step))
    thresholds = [k / num_steps for k in range(num_steps + 1)]  # 0:step:1
    level = np.full(pred_single.shape, -1.0, dtype=np.float64)
    for i in range(1, len(thresholds)):
        t = np.float32(thresholds[i])
        omega = largest_component((pred_single >= t) & (gt_single >= t))
        newly_lost = (level == -1.0) & ~omega
        level[newly_lost] = thresholds[i - 1]
    level[level == -1.0] = 1.0
    level_single = level.astype(np.float32)
    pred_d = pred_single - level_single
    gt_d = gt_single - level_single
    theta = np.float32(CONN_THETA)
    pred_phi = 1.0 - pred_d * (pred_d >= theta)
    gt_phi = 1.0 - gt_d * (gt_d >= theta)
    return float(np.abs(pred_phi - gt_phi).astype(np.float64)[region].sum() / 1000.0)


def compute_metrics(pred, gt, trimap=None) -> dict[str, float]:
    """DIM-exact SAD, MSE, MAD, Grad and Conn of a predicted matte against the ground truth.

    Args:
        pred: predicted alpha, (H, W) float in [0, 1] or uint8 0..255 (uint16 and grey (H, W, C) also accepted).
        gt: ground-truth alpha, same shape and conventions as ``pred``.
        trimap: None (score the whole image) or a (H, W) trimap, uint8 {0, 128, 255} or float {0, 0.5, 1}; then
            only its unknown pixels are scored.

    Returns:
        ``{"SAD", "MSE", "MAD", "Grad", "Conn"}`` as Python floats, in the units printed by papers (see the
        module doc: SAD, Grad, Conn / 1000; MSE and MAD x 1e3).
    """
    pred_f = load_matte(pred, name="predicted alpha")
    gt_f = load_matte(gt, name="ground-truth alpha")
    if pred_f.shape != gt_f.shape:
        raise InvalidImageError(
            f"predicted alpha is {pred_f.shape[1]}x{pred_f.shape[0]} (WxH) but the ground truth is "
            f"{gt_f.shape[1]}x{gt_f.shape[0]}."
        )
    region = region_mask(trimap, pred_f.shape)
    count = int(region.sum())
    diff = (pred_f - gt_f)[region]
    sad = float(np.abs(diff).sum())
    mse = float((diff * diff).sum() / count) if count else float("nan")
    mad = sad / count if count else float("nan")
    return {
        "SAD": sad / 1000.0,
        "MSE": mse * 1e3,
        "MAD": mad * 1e3,
        "Grad": gradient_error(pred_f, gt_f, region),
        # in single precision, as the MATLAB reference computes it (single(x) / 255)
        "Conn": connectivity_error(load_matte(pred, name="predicted alpha", dtype=np.float32),
                                   load_matte(gt, name="ground-truth alpha", dtype=np.float32), region),
    }


def mean_metrics(rows: list[dict], keys=METRIC_NAMES) -> dict[str, float]:
    """Mean of each key over per-image rows, ignoring NaN entries (images whose region was empty)."""
    out = {}
    for key in keys:
        values = np.array([float(r[key]) for r in rows if key in r], dtype=np.float64)
        finite = values[~np.isnan(values)]
        out[key] = float(finite.mean()) if finite.size else float("nan")
    return out
