"""DIM-reference metrics: hand-computed cases, identities, and a direct port of the reference Grad filter."""

import math

import numpy as np
import pytest

from afmatting.errors import AFMattingError
from afmatting.metrics import compute_metrics, gaussgradient_kernel, largest_component, mean_metrics


def test_identical_inputs_score_zero():
    rng = np.random.default_rng(0)
    alpha = rng.random((40, 50))
    trimap = np.where(alpha > 0.8, 255, np.where(alpha < 0.2, 0, 128)).astype(np.uint8)
    for tri in (None, trimap):
        assert compute_metrics(alpha, alpha.copy(), tri) == {"SAD": 0.0, "MSE": 0.0, "MAD": 0.0, "Grad": 0.0, "Conn": 0.0}
    as_uint8 = (alpha * 255).astype(np.uint8)
    assert all(v == 0.0 for v in compute_metrics(as_uint8, as_uint8).values())


def test_sad_mse_mad_hand_computed():
    pred = np.array([[0.0, 0.5], [1.0, 0.25]])
    gt = np.zeros((2, 2))
    m = compute_metrics(pred, gt)
    assert m["SAD"] == pytest.approx(1.75 / 1000)
    assert m["MSE"] == pytest.approx((0.25 + 1.0 + 0.0625) / 4 * 1e3)
    assert m["MAD"] == pytest.approx(1.75 / 4 * 1e3)
    # only the right column is unknown
    trimap = np.array([[0, 128], [255, 128]], dtype=np.uint8)
    m = compute_metrics(pred, gt, trimap)
    assert m["SAD"] == pytest.approx(0.75 / 1000)
    assert m["MSE"] == pytest.approx((0.25 + 0.0625) / 2 * 1e3)
    assert m["MAD"] == pytest.approx(0.75 / 2 * 1e3)
    # float trimap {0, 0.5, 1} means the same
    m_float = compute_metrics(pred, gt, trimap.astype(np.float32) / 255 * (trimap != 128) + 0.5 * (trimap == 128))
    assert m_float == m


def test_uint8_inputs_are_divided_by_255():
    pred = np.array([[255, 51]], dtype=np.uint8)
    gt = np.array([[0, 0]], dtype=np.uint8)
    m = compute_metrics(pred, gt)
    assert m["SAD"] == pytest.approx(1.2 / 1000)
    assert m["MSE"] == pytest.approx((1 + 0.04) / 2 * 1e3)


def test_gaussgradient_kernel_matches_reference_definition():
    row, col = gaussgradient_kernel(1.4)
    # halfsize = ceil(1.4 * sqrt(-2 ln(sqrt(2 pi) * 1.4 * 0.01))) = ceil(3.62...) = 4
    assert len(row) == len(col) == 9
    hx = np.outer(row, col)
    assert np.sqrt((hx**2).sum()) == pytest.approx(1.0)
    assert np.allclose(hx, -hx[:, ::-1])  # derivative along x: odd in the column direction
    assert np.allclose(hx, hx[::-1, :])


def test_grad_of_a_linear_ramp_hand_computed():
    # gt = x / (W - 1) (already min-max normalised), pred = constant (zero gradient). Away from the left/right
    # borders, convolving a ramp of slope c with hx = A g(i) dg(j) gives |gx| = c * A * sum g(i) * sum u^2 g(u) / s^2,
    # and gy = 0 because the ramp is constant along y.
    sigma, half, width = 1.4, 4, 20
    u = np.arange(-half, half + 1)
    g = np.exp(-(u**2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))
    dg = -u * g / sigma**2
    norm = math.sqrt((g**2).sum() * (dg**2).sum())
    slope = 1.0 / (width - 1)
    expected_gx = slope * g.sum() * (u**2 * g).sum() / sigma**2 / norm
    gt = np.tile(np.arange(width, dtype=np.float64) * slope, (12, 1))
    pred = np.full_like(gt, 0.3)
    trimap = np.zeros(gt.shape, dtype=np.uint8)
    trimap[:, half : width - half] = 128  # interior columns only
    n_interior = 12 * (width - 2 * half)
    assert compute_metrics(pred, gt, trimap)["Grad"] == pytest.approx(n_interior * expected_gx**2 / 1000, rel=1e-9)


def _reference_gaussgradient(image, sigma):
    """Direct port of gaussgradient.m + imfilter(..., 'replicate', 'conv') with explicit loops."""
    epsilon = 1e-2
    halfsize = math.ceil(sigma * math.sqrt(-2 * math.log(math.sqrt(2 * math.pi) * sigma * epsilon)))
    size = 2 * halfsize + 1
    hx = np.zeros((size, size))
    for i in range(size):
        for j in range(size):
            u = (i - halfsize, j - halfsize)
            gauss_i = math.exp(-u[0] ** 2 / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))
            gauss_j = math.exp(-u[1] ** 2 / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))
            hx[i, j] = gauss_i * (-u[1] * gauss_j / sigma**2)
    hx = hx / math.sqrt((np.abs(hx) * np.abs(hx)).sum())
    hy = hx.T
    padded = np.pad(image, halfsize, mode="edge")
    h, w = image.shape
    gx = np.zeros((h, w))
    gy = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            window = padded[y : y + size, x : x + size]
            # convolution = correlation with the kernel rotated by 180 degrees
            gx[y, x] = (window * hx[::-1, ::-1]).sum()
            gy[y, x] = (window * hy[::-1, ::-1]).sum()
    return gx, gy


def _reference_grad_error(pred, gt, trimap):
    def mat2gray(a):
        return (a - a.min()) / (a.max() - a.min())

    px, py = _reference_gaussgradient(mat2gray(pred), 1.4)
    tx, ty = _reference_gaussgradient(mat2gray(gt), 1.4)
    err = (np.sqrt(px**2 + py**2) - np.sqrt(tx**2 + ty**2)) ** 2
    return (err * (trimap == 128)).sum() / 1000


def test_grad_matches_direct_reference_port():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:23, :31]
    gt = np.clip((9 - np.hypot(yy - 11, xx - 14)) / 4 + 0.5, 0, 1)
    pred = np.clip(gt + rng.normal(0, 0.1, gt.shape), 0, 1) * 0.8 + 0.05  # min-max normalisation matters
    trimap = np.where(gt == 1, 255, np.where(gt == 0, 0, 128)).astype(np.uint8)
    trimap[:3, :] = 128  # include border pixels, where replication matters
    ours = compute_metrics(pred, gt, trimap)["Grad"]
    assert ours == pytest.approx(_reference_grad_error(pred, gt, trimap), rel=1e-10)
    whole = compute_metrics(pred, gt)["Grad"]
    assert whole == pytest.approx(_reference_grad_error(pred, gt, np.full(gt.shape, 128)), rel=1e-10)


def test_conn_hand_computed_single_component():
    # pixels: 0 stays connected at every threshold (l = 1); 1 leaves at 0.6 (l = 0.5); 2 is background (l = 0);
    # 3 is isolated from pixel 0 at every threshold (l = 0). phi differs only at pixel 1: |1 - 0.5| = 0.5.
    pred = np.array([[1.0, 0.5, 0.0, 1.0]])
    gt = np.array([[1.0, 1.0, 0.0, 1.0]])
    assert compute_metrics(pred, gt)["Conn"] == pytest.approx(0.5 / 1000, abs=1e-9)


def test_conn_where_the_largest_component_matters():
    # At t = 0.1 the overlap is {0} and {2, 3, 4}: the largest is {2, 3, 4}, so pixel 0 gets l = 0 although it is
    # above the threshold. Then pred_d(0) = 0.1 < 0.15 -> phi 1 and gt_d(0) = 1 -> phi 0: a full error of 1.
    # (Counting every component instead would give l(0) = 0.1 and an error of 0.9 at pixel 0.)
    # From t = 0.6 on the overlap is {2} and {4}, equal sizes: MATLAB keeps the first in column-major order, {2};
    # pixels 3 and 4 get l = 0.5 and pixel 3 adds |1 - 0.5| = 0.5.
    pred = np.array([[0.1, 0.0, 1.0, 0.5, 1.0]])
    gt = np.array([[1.0, 0.0, 1.0, 1.0, 1.0]])
    assert compute_metrics(pred, gt)["Conn"] == pytest.approx(1.5 / 1000, abs=1e-7)
    trimap = np.array([[128, 0, 0, 0, 0]], dtype=np.uint8)
    assert compute_metrics(pred, gt, trimap)["Conn"] == pytest.approx(1.0 / 1000, abs=1e-7)


def test_largest_component_is_4_connected_and_breaks_ties_column_major():
    diagonal = np.array([[False, True], [True, False]])
    picked = largest_component(diagonal)
    assert picked.sum() == 1 and picked[1, 0]  # (1, 0) comes first in column-major order
    blob = np.zeros((5, 5), bool)
    blob[0, 0] = True
    blob[2:5, 2:5] = True
    assert largest_component(blob).sum() == 9
    assert not largest_component(np.zeros((3, 3), bool)).any()


def test_bad_inputs_are_named():
    with pytest.raises(AFMattingError, match="ground truth"):
        compute_metrics(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(AFMattingError, match="predicted alpha"):
        compute_metrics(np.full((4, 4), 2.0), np.zeros((4, 4)))
    with pytest.raises(AFMattingError, match="trimap"):
        compute_metrics(np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((3, 3), np.uint8))


def test_empty_region_and_mean():
    m = compute_metrics(np.zeros((3, 3)), np.ones((3, 3)), np.zeros((3, 3), np.uint8))
    assert m["SAD"] == 0 and math.isnan(m["MSE"])
    assert mean_metrics([m, {"SAD": 2.0, "MSE": 4.0, "MAD": 1.0, "Grad": 0.0, "Conn": 0.0}])["MSE"] == 4.0


def test_one_megapixel_metrics_match_their_definitions():
    """A 1 MP matte (its speed is measured by benchmarks/metrics.py, not asserted here)."""
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[:1000, :1000]
    gt = np.clip((400 - np.hypot(yy - 500, xx - 500)) / 30 + 0.5, 0, 1)
    pred = np.clip(gt + rng.normal(0, 0.05, gt.shape), 0, 1)
    m = compute_metrics(pred, gt)
    assert m["SAD"] == pytest.approx(np.abs(pred - gt).sum() / 1000, rel=1e-4)
    assert m["MSE"] == pytest.approx(((pred - gt) ** 2).mean() * 1000, rel=1e-4)
    assert all(np.isfinite(m[k]) and m[k] > 0 for k in ("Grad", "Conn"))
