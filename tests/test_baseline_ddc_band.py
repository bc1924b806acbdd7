"""The band DDC pairs give the full-image DDC loss (value and gradient) up to the known-known constant."""

import numpy as np
import pytest
import torch

from benchmarks.baselines.ddc_band import band_ddc_sum, count_valid_pairs, ddc_band_pairs
from afmatting.losses import ddc_loss
from afmatting.neighbours import find_similar_neighbours


def _case(seed, h=30, w=37):
    rng = np.random.default_rng(seed)
    # smooth-ish colours so the neighbour ranking has structure, plus noise so ties are rare
    image = np.clip(np.cumsum(rng.normal(0, 0.05, (h, w, 3)), axis=1) + 0.5, 0, 1).astype(np.float32)
    unknown = np.zeros((h, w), bool)
    unknown[8:20, 10:25] = True
    unknown[rng.random((h, w)) > 0.97] = True
    known = np.where(np.arange(w)[None, :] < 18, 1.0, 0.0) * np.ones((h, 1))
    return image, unknown, known, rng


def _full_loss(image, alpha, kernel_size=11):
    img = torch.from_numpy(image).permute(2, 0, 1)[None]
    a = torch.from_numpy(alpha.astype(np.float32))[None, None].requires_grad_(True)
    loss = ddc_loss(img, a, kernel_size=kernel_size)
    loss.backward()
    return float(loss.detach()), a.grad[0, 0].numpy()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_band_objective_equals_full_objective(seed):
    image, unknown, known, rng = _case(seed)
    pairs = ddc_band_pairs(image, unknown)
    values, band_values = [], []
    for _ in range(3):
        alpha = np.where(unknown, rng.random(unknown.shape), known)
        full, _ = _full_loss(image, alpha)
        values.append(full * pairs.count)
        band_values.append(band_ddc_sum(pairs, alpha))
    # full = (band + known-known constant) / count: the constant is the same for every matte
    constants = np.array(values) - np.array(band_values)
    np.testing.assert_allclose(constants, constants[0], rtol=0, atol=1e-5 * max(values))
    # and the constant is the known-known pairs' sum, computed independently from a full-image search
    img = torch.from_numpy(image).permute(2, 0, 1)
    nb = find_similar_neighbours(img, kernel_size=11).numpy()
    h, w = unknown.shape
    ys, xs = np.mgrid[0:h, 0:w]
    total = 0.0
    for slot in range(nb.shape[0]):
        jy, jx = ys + nb[slot, 0], xs + nb[slot, 1]
        both_known = ~unknown & ~unknown[jy, jx]
        d = np.sqrt(((image - image[jy, jx]) ** 2).sum(-1))
        total += np.abs(known - known[jy, jx] - d)[both_known].sum()
    np.testing.assert_allclose(constants[0], total, rtol=1e-4)


def test_band_gradient_equals_full_gradient_on_unknown_pixels():
    image, unknown, known, rng = _case(3)
    pairs = ddc_band_pairs(image, unknown)
    alpha = np.where(unknown, rng.random(unknown.shape), known)
    _, grad = _full_loss(image, alpha)
    a = alpha.ravel()
    sign = np.sign(a[pairs.first] - a[pairs.second] - pairs.distance)
    band_grad = np.zeros(a.size)
    np.add.at(band_grad, pairs.first, sign)
    np.add.at(band_grad, pairs.second, -sign)
    band_grad = band_grad.reshape(unknown.shape) / pairs.count
    np.testing.assert_allclose(band_grad[unknown], grad[unknown], atol=1e-7)


def test_count_matches_the_search():
    for h, w, k in [(30, 37, 11), (4, 9, 11), (7, 7, 5)]:
        img = torch.rand(3, h, w)
        nb = find_similar_neighbours(img, kernel_size=k)
        assert count_valid_pairs(h, w, k) == int((nb[:, 0] != -128).sum())


def test_no_unknown_pixels_gives_no_pairs():
    image, unknown, _, _ = _case(4)
    pairs = ddc_band_pairs(image, np.zeros_like(unknown))
    assert len(pairs.first) == 0 and pairs.count == count_valid_pairs(*unknown.shape, 11)
