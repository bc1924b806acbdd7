"""Tests for afmatting.losses / afmatting.neighbours: exactness against the paper's formulation, hand-computed cases,
properties of the losses, dtype handling. All inputs are small so the module runs in seconds."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from afmatting.errors import AFMattingError
from afmatting.losses import (
    NO_NEIGHBOUR,
    alpha_free_loss,
    alpha_l1_loss,
    alpha_loss,
    dc_loss,
    ddc_loss,
    find_similar_neighbours,
    gradient_loss,
    known_loss,
    laplacian_loss,
    scaled_ddc_loss,
    window_contrast,
)

LUMA = torch.tensor([0.299, 0.587, 0.114])


# ----------------------------------------------------------------------------------------------- plain references


def reference_pair_loss(image, alpha, k, kind="ddc", padding="zeros"):
    """The paper's formulation written plainly: unfold → norm → top-K → gather → mean.

    ``padding="zeros"`` is the public code (zero padding, black out-of-image pixels with α = 0). ``"valid"`` is the
    same with out-of-image candidates at distance +inf and left out of the mean when selected.
    """
    b, _, h, w = image.shape
    pad = k // 2
    patches = F.unfold(image, k, padding=pad).view(b, 3, k * k, h, w)
    dist = (patches - image.unsqueeze(2)).norm(dim=1)  # (B, K², H, W)
    if padding == "valid":
        inside = F.unfold(torch.ones(b, 1, h, w), k, padding=pad).view(b, k * k, h, w) > 0
        dist = dist.masked_fill(~inside, math.inf)
    idx = dist.topk(k, dim=1, largest=False).indices
    alpha_j = F.unfold(alpha, k, padding=pad).view(b, k * k, h, w).gather(1, idx)
    d_sel = dist.gather(1, idx)
    delta = alpha - alpha_j
    if kind == "dc":
        delta = delta.abs()
    elif kind == "scaled":
        delta = delta * reference_window_contrast(image, k, padding)
    terms = (delta - d_sel).abs()
    valid = torch.isfinite(d_sel)
    return terms[valid].sum() / valid.sum()


def reference_window_contrast(image, k, padding):
    """‖F − B‖ with F / B the max / min BT.601-luma pixel of each K×K window, via unfold."""
    b, _, h, w = image.shape
    pad = k // 2
    patches = F.unfold(image, k, padding=pad).view(b, 3, k * k, h * w)
    luma = (patches * LUMA.view(1, 3, 1, 1)).sum(1)  # (B, K², HW)
    hi, lo = luma.clone(), luma.clone()
    if padding == "valid":
        inside = F.unfold(torch.ones(b, 1, h, w), k, padding=pad).view(b, k * k, h * w) > 0
        hi = hi.masked_fill(~inside, -math.inf)
        lo = lo.masked_fill(~inside, math.inf)
    fg = patches.gather(2, hi.argmax(1, keepdim=True).unsqueeze(1).expand(b, 3, 1, h * w))
    bg = patches.gather(2, lo.argmin(1, keepdim=True).unsqueeze(1).expand(b, 3, 1, h * w))
    return (fg - bg).norm(dim=1).view(b, 1, h, w)


def random_case(b, h, w, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(b, 3, h, w, generator=g).to(dtype)
    alpha = torch.rand(b, 1, h, w, generator=g).to(dtype).requires_grad_()
    return image, alpha


def value_and_grad(fn, alpha):
    loss = fn(alpha)
    (grad,) = torch.autograd.grad(loss, alpha)
    return loss.detach(), grad


def codes(neighbours, k):
    """Offsets as sorted candidate codes (dy + r)·K + (dx + r) per pixel, so selections compare as sets."""
    r = k // 2
    c = (neighbours[:, :, 0].long() + r) * k + neighbours[:, :, 1].long() + r
    c = c.masked_fill(neighbours[:, :, 0] == NO_NEIGHBOUR, -1)
    return c.sort(dim=1).values


SIZES = [(1, 16, 16, 11), (2, 13, 21, 11), (1, 5, 7, 11), (2, 1, 12, 11), (1, 3, 2, 11), (1, 20, 9, 5), (1, 9, 4, 3)]


# ----------------------------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("b,h,w,k", SIZES)
@pytest.mark.parametrize("kind", ["ddc", "dc", "scaled"])
def test_zeros_padding_matches_paper_formulation(b, h, w, k, kind):
    image, alpha = random_case(b, h, w, seed=h * 100 + w)
    fn = {"ddc": ddc_loss, "dc": dc_loss, "scaled": scaled_ddc_loss}[kind]
    ref, ref_grad = value_and_grad(lambda a: reference_pair_loss(image, a, k, kind, "zeros"), alpha)
    ours, grad = value_and_grad(lambda a: fn(image, a, kernel_size=k, padding="zeros"), alpha)
    assert ours.dtype == torch.float32
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-7)
    # Each gradient entry is a sum of ±1/N (times the scale): compare in units of 1/N.
    n = b * k * h * w
    torch.testing.assert_close(grad * n, ref_grad * n, rtol=1e-5, atol=1e-4)
    assert grad.abs().sum() > 0


@pytest.mark.parametrize("b,h,w,k", SIZES)
@pytest.mark.parametrize("kind", ["ddc", "dc", "scaled"])
def test_valid_padding_matches_masked_reference(b, h, w, k, kind):
    image, alpha = random_case(b, h, w, seed=h * 7 + w)
    fn = {"ddc": ddc_loss, "dc": dc_loss, "scaled": scaled_ddc_loss}[kind]
    ref, ref_grad = value_and_grad(lambda a: reference_pair_loss(image, a, k, kind, "valid"), alpha)
    ours, grad = value_and_grad(lambda a: fn(image, a, kernel_size=k), alpha)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-7)
    n = b * k * h * w
    torch.testing.assert_close(grad * n, ref_grad * n, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("b,h,w,k", SIZES)
def test_valid_selection_equals_reference_top_k_set(b, h, w, k):
    image, _ = random_case(b, h, w, seed=3)
    pad = k // 2
    patches = F.unfold(image, k, padding=pad).view(b, 3, k * k, h, w)
    dist = (patches - image.unsqueeze(2)).norm(dim=1)
    inside = F.unfold(torch.ones(b, 1, h, w), k, padding=pad).view(b, k * k, h, w) > 0
    dist = dist.masked_fill(~inside, math.inf)
    vals, idx = dist.topk(k, dim=1, largest=False)
    idx = idx.masked_fill(torch.isinf(vals), -1).sort(dim=1).values
    nb = find_similar_neighbours(image, kernel_size=k, padding="valid")
    assert nb.dtype == torch.int8 and nb.shape == (b, k, 2, h, w)
    assert torch.equal(codes(nb, k), idx)


def test_window_contrast_matches_reference():
    image, _ = random_case(2, 9, 14, seed=5)
    for padding in ("zeros", "valid"):
        torch.testing.assert_close(window_contrast(image, 5, padding), reference_window_contrast(image, 5, padding))


# ----------------------------------------------------------------------------------------------- hand-computed


def gray(values):
    """(1,3,1,W) gray image from a list of levels."""
    return torch.tensor(values, dtype=torch.float32).view(1, 1, 1, -1).repeat(1, 3, 1, 1)


def test_hand_computed_row_valid():
    # Gray levels 0, 0.5, 1 (neighbouring distance d = 0.5·√3 ≈ 0.866), K = 3, "valid": the end pixels' windows hold
    # only 2 in-image pixels, so 2 + 3 + 2 = 7 pairs exist: (0,0) (0,1) (1,0) (1,1) (1,2) (2,1) (2,2).
    image = gray([0.0, 0.5, 1.0])
    alpha = torch.tensor([0.0, 0.2, 1.0]).view(1, 1, 1, 3).requires_grad_()
    d = 0.5 * math.sqrt(3)
    nb = find_similar_neighbours(image, kernel_size=3)
    assert int((nb[:, :, 0] == NO_NEIGHBOUR).sum()) == 2
    # DDC: |−0.2 − d| + |0.2 − d| = 2d and |−0.8 − d| + |0.8 − d| = 2d (|Δα| ≤ d: the flat zone), self pairs 0.
    loss, grad = value_and_grad(lambda a: ddc_loss(image, a, kernel_size=3), alpha)
    assert loss.item() == pytest.approx(4 * d / 7, rel=1e-6)
    assert torch.equal(grad, torch.zeros_like(grad))  # inside the flat zone nothing pulls
    # DC: ||Δ| − d| = d − 0.2 twice and d − 0.8 twice; the gradient pushes |Δα| up towards d.
    loss, grad = value_and_grad(lambda a: dc_loss(image, a, kernel_size=3), alpha)
    assert loss.item() == pytest.approx((4 * d - 2.0) / 7, rel=1e-6)
    torch.testing.assert_close(grad, torch.tensor([2.0, 0.0, -2.0]).view(1, 1, 1, 3) / 7)
    # Scaled: ‖F − B‖ = d for the end pixels (window holds levels 0 and 0.5, or 0.5 and 1) and 2d for the middle.
    # |−0.2·d − d| + |0.2·2d − d| + |−0.8·2d − d| + |0.8·d − d| = (1.2 + 0.6 + 2.6 + 0.2)·d = 4.6d
    torch.testing.assert_close(
        window_contrast(image, 3), torch.tensor([d, 2 * d, d]).view(1, 1, 1, 3), rtol=1e-6, atol=1e-7
    )
    loss = scaled_ddc_loss(image, alpha, kernel_size=3)
    assert loss.item() == pytest.approx(4.6 * d / 7, rel=1e-6)


def test_hand_computed_single_pixel_zeros_vs_valid():
    # One gray pixel (level 0.4, α = 0.5), K = 3. "zeros": its 8 padded neighbours are black, α = 0, all at distance
    # ‖I‖ = 0.4·√3; the pixel itself and 2 of them are selected: 3 pairs, two with |0.5 − 0.4√3|.
    image = gray([0.4])
    alpha = torch.full((1, 1, 1, 1), 0.5, requires_grad=True)
    d = 0.4 * math.sqrt(3)
    loss, grad = value_and_grad(lambda a: ddc_loss(image, a, kernel_size=3, padding="zeros"), alpha)
    assert loss.item() == pytest.approx(2 * abs(0.5 - d) / 3, rel=1e-6)
    assert grad.item() == pytest.approx(-2 / 3)  # 0.5 − d < 0 in both pad pairs
    ref = reference_pair_loss(image, alpha, 3, "ddc", "zeros")
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6)
    # "valid": only the pixel itself; the single pair costs 0.
    loss, grad = value_and_grad(lambda a: ddc_loss(image, a, kernel_size=3), alpha)
    assert loss.item() == 0.0 and grad.item() == 0.0


def test_known_loss_hand_computed_and_normalised_by_known_count():
    alpha = torch.tensor([[0.2, 0.5], [0.9, 0.1]]).view(1, 1, 2, 2)
    trimap = torch.tensor([[0.0, 0.5], [1.0, 1.0]]).view(1, 1, 2, 2)
    # known: (0,0) bg error 0.2, (1,0) fg error 0.1, (1,1) fg error 0.9 -> 1.2 / 3
    assert known_loss(alpha, trimap).item() == pytest.approx(0.4)
    # the same pattern tiled into a bigger crop (any crop size, not a hard-coded 512²) gives the same mean
    assert known_loss(alpha.repeat(3, 1, 4, 5), trimap.repeat(3, 1, 4, 5)).item() == pytest.approx(0.4)


# ----------------------------------------------------------------------------------------------- properties


def test_ddc_zero_when_alpha_differences_equal_distances():
    # Two flat regions (black left, white right). Every window holds >= K pixels of the pixel's own region at
    # distance 0, so all selected pairs have d_ij = 0 and α_i − α_j = 0: the DDC is 0 although alpha jumps by 0.7
    # at the edge. (Black α = 0 so that "zeros" padding — black pads with α = 0 — also satisfies it.)
    h, w = 12, 16
    image = torch.zeros(1, 3, h, w)
    image[..., w // 2 :] = 1.0
    alpha = torch.zeros(1, 1, h, w)
    alpha[..., w // 2 :] = 0.7
    alpha.requires_grad_()
    for padding in ("valid", "zeros"):
        loss, grad = value_and_grad(lambda a: ddc_loss(image, a, padding=padding), alpha)
        assert loss.item() == 0.0
        assert torch.equal(grad, torch.zeros_like(grad))
    # Pairs selected one way only can be met exactly: with K = 3 and num_neighbours = 2 on the gray row (0.2, 0.6),
    # pixel 0 picks pixel 1 and pixel 1 picks pixel 0. α_0 − α_1 = d makes the pair (0,1) cost 0, while the reverse
    # pair (1,0) then costs |−d − d| = 2d: only the pairs that satisfy α_i − α_j = d_ij are free.
    image = gray([0.2, 0.6])
    nb = find_similar_neighbours(image, kernel_size=3, num_neighbours=2)
    d = 0.4 * math.sqrt(3)
    alpha = torch.tensor([0.9, 0.9 - d]).view(1, 1, 1, 2)
    # pairs: (0,0) 0, (0,1) |d − d| = 0, (1,0) |−d − d| = 2d, (1,1) 0
    assert ddc_loss(image, alpha, kernel_size=3, neighbours=nb).item() == pytest.approx(2 * d / 4, rel=1e-6)


def test_ddc_is_flat_within_distance_when_pairs_go_both_ways():
    # Flat zone of the paper: pairs selected both ways cost 2·max(d, |Δα|), so any |Δα| <= d gives the same loss.
    image = gray([0.3, 0.7])
    d = 0.4 * math.sqrt(3)
    values = [ddc_loss(image, torch.tensor([0.5, 0.5 + t]).view(1, 1, 1, 2), kernel_size=3).item() for t in
              (0.0, 0.3, -0.5, d)]
    assert values == pytest.approx([2 * d / 4] * 4, rel=1e-6)
    big = ddc_loss(image, torch.tensor([0.0, 1.0]).view(1, 1, 1, 2), kernel_size=3).item()
    assert big == pytest.approx(2 * 1.0 / 4, rel=1e-6)


def test_known_loss_zero_when_prediction_matches_trimap_on_known_pixels():
    g = torch.Generator().manual_seed(1)
    trimap = torch.randint(0, 3, (2, 1, 9, 13), generator=g).float() / 2
    alpha = torch.where(trimap == 0.5, torch.rand(2, 1, 9, 13, generator=g), trimap).requires_grad_()
    loss, grad = value_and_grad(lambda a: known_loss(a, trimap), alpha)
    assert loss.item() == 0.0
    assert torch.equal(grad[trimap == 0.5], torch.zeros_like(grad[trimap == 0.5]))


def test_known_loss_no_known_pixels_is_zero_not_nan():
    alpha = torch.rand(2, 1, 5, 6, requires_grad=True)
    trimap = torch.full((2, 1, 5, 6), 0.5)
    loss, grad = value_and_grad(lambda a: known_loss(a, trimap), alpha)
    assert loss.item() == 0.0 and not torch.isnan(loss)
    assert torch.equal(grad, torch.zeros_like(grad))


@pytest.mark.parametrize("h,w,k", [(1, 1, 11), (2, 5, 11), (3, 2, 11), (7, 30, 11), (16, 16, 11), (6, 4, 5)])
def test_valid_never_selects_out_of_image_pixels(h, w, k):
    image, _ = random_case(2, h, w, seed=h + w)
    nb = find_similar_neighbours(image, kernel_size=k, padding="valid")
    dy, dx = nb[:, :, 0].long(), nb[:, :, 1].long()
    present = dy != NO_NEIGHBOUR
    assert torch.equal(present, dx != NO_NEIGHBOUR)
    ys = torch.arange(h).view(1, 1, h, 1) + dy
    xs = torch.arange(w).view(1, 1, 1, w) + dx
    inside = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
    assert bool(inside[present].all())
    # slots are missing exactly when the window holds fewer than K in-image pixels
    n_inside = F.conv2d(torch.ones(1, 1, h, w), torch.ones(1, 1, k, k), padding=k // 2).long()
    assert torch.equal(present.sum(1), n_inside.clamp(max=k).view(1, h, w).expand(2, h, w))
    # and every pixel selects itself
    assert bool(((dy == 0) & (dx == 0)).any(1).all())


def test_zeros_padding_can_select_out_of_image_black_pixels():
    # Top row nearly black, the rest bright: a corner pixel's window holds 3 in-image dark pixels, and the black pads
    # (distance 0.01·√3) are closer than the bright rows, so "zeros" selects pads and "valid" must not.
    image = torch.full((1, 3, 6, 6), 0.9)
    image[..., 0, :] = 0.01
    nb = find_similar_neighbours(image, kernel_size=5, padding="zeros")
    ys = torch.arange(6).view(1, 1, 6, 1) + nb[:, :, 0].long()
    assert bool((ys < 0).any())
    nb_valid = find_similar_neighbours(image, kernel_size=5, padding="valid")
    ys = torch.arange(6).view(1, 1, 6, 1) + nb_valid[:, :, 0].long()
    assert bool((ys >= 0).all())


def test_self_always_selected_even_in_flat_images():
    nb = find_similar_neighbours(torch.full((3, 7, 8), 0.5), kernel_size=5)  # every candidate ties at distance 0
    assert nb.shape == (5, 2, 7, 8)
    assert bool(((nb[:, 0] == 0) & (nb[:, 1] == 0)).any(0).all())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs_give_the_float32_result(dtype):
    image, alpha = random_case(2, 10, 12, seed=11, dtype=dtype)
    trimap = (torch.rand(2, 1, 10, 12, generator=torch.Generator().manual_seed(2)) * 3).floor() / 2
    for fn in (ddc_loss, dc_loss, scaled_ddc_loss):
        for padding in ("valid", "zeros"):
            low, low_grad = value_and_grad(lambda a: fn(image, a, kernel_size=5, padding=padding), alpha)
            a32 = alpha.detach().float().requires_grad_()
            full, full_grad = value_and_grad(lambda a: fn(image.float(), a, kernel_size=5, padding=padding), a32)
            assert low.dtype == torch.float32 and torch.equal(low, full)
            assert low_grad.dtype == dtype and torch.equal(low_grad, full_grad.to(dtype))
    for fn, args in ((known_loss, (trimap.to(dtype),)), (alpha_l1_loss, (trimap,)), (laplacian_loss, (trimap,))):
        low = fn(alpha, *args)
        full = fn(alpha.detach().float(), *(x.float() for x in args))
        assert low.dtype == torch.float32 and torch.equal(low, full)


# ----------------------------------------------------------------------------------------------- API behaviour


def test_precomputed_neighbours_give_the_same_loss_and_gradient():
    image, alpha = random_case(2, 14, 17, seed=21)
    for padding in ("valid", "zeros"):
        nb = find_similar_neighbours(image, padding=padding)
        direct = value_and_grad(lambda a: ddc_loss(image, a, padding=padding), alpha)
        reused = value_and_grad(lambda a: ddc_loss(image, a, neighbours=nb), alpha)
        assert torch.equal(direct[0], reused[0]) and torch.equal(direct[1], reused[1])
    # neighbours from a smaller window are accepted with the larger kernel_size and give the same loss
    nb5 = find_similar_neighbours(image, kernel_size=5, padding="zeros")
    assert ddc_loss(image, alpha, kernel_size=11, neighbours=nb5).item() == pytest.approx(
        ddc_loss(image, alpha, kernel_size=5, padding="zeros").item(), rel=1e-6
    )
    # but offsets beyond kernel_size // 2 are refused
    with pytest.raises(AFMattingError, match="kernel_size"):
        ddc_loss(image, alpha, kernel_size=3, neighbours=nb)


def test_row_chunking_and_unbatched_input_do_not_change_the_selection():
    image, _ = random_case(2, 23, 19, seed=8)
    full = find_similar_neighbours(image, padding="zeros")
    one_row = find_similar_neighbours(image, padding="zeros", chunk_elements=1)
    assert torch.equal(codes(full, 11), codes(one_row, 11))
    single = find_similar_neighbours(image[1], padding="zeros")
    assert single.shape == (11, 2, 23, 19)
    assert torch.equal(codes(single[None], 11), codes(full[1:], 11))
    # uint8 images are read as /255
    u8 = (image * 255).round().to(torch.uint8)
    assert torch.equal(codes(find_similar_neighbours(u8), 11), codes(find_similar_neighbours(u8.float() / 255), 11))


def test_num_neighbours_and_no_gradient_into_image():
    image, alpha = random_case(1, 8, 9, seed=4)
    nb = find_similar_neighbours(image, kernel_size=5, num_neighbours=7)
    assert nb.shape == (1, 7, 2, 8, 9) and not nb.requires_grad
    image = image.clone().requires_grad_()
    ddc_loss(image, alpha, neighbours=nb, kernel_size=5).backward()
    assert image.grad is None and alpha.grad is not None


def test_alpha_free_loss_combines_known_and_ten_times_ddc():
    image, alpha = random_case(2, 8, 8, seed=9)
    trimap = (torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(3)) * 3).floor() / 2
    out = alpha_free_loss(image, alpha, trimap)
    expected = known_loss(alpha, trimap) + 10 * ddc_loss(image, alpha)
    torch.testing.assert_close(out["loss"], expected)
    out["loss"].backward()
    assert alpha.grad is not None and torch.isfinite(alpha.grad).all()


@pytest.mark.parametrize(
    "call",
    [
        lambda: find_similar_neighbours(torch.rand(1, 4, 8, 8)),
        lambda: find_similar_neighbours(torch.rand(1, 3, 8, 8), kernel_size=4),
        lambda: find_similar_neighbours(torch.rand(1, 3, 8, 8), padding="reflect"),
        lambda: find_similar_neighbours(torch.rand(1, 3, 8, 8), kernel_size=3, num_neighbours=10),
        lambda: ddc_loss(torch.rand(2, 3, 8, 8), torch.rand(1, 1, 8, 8)),
        lambda: ddc_loss(torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 7)),
        lambda: ddc_loss(torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 8), neighbours=torch.zeros(1, 11, 2, 8, 7)),
        lambda: known_loss(torch.rand(1, 1, 4, 4), torch.rand(1, 1, 4, 5)),
        lambda: alpha_l1_loss(torch.rand(1, 2, 4, 4), torch.rand(1, 2, 4, 4)),
    ],
)
def test_bad_inputs_raise_a_named_error(call):
    with pytest.raises(AFMattingError):
        call()


# ----------------------------------------------------------------------------------------------- alpha-supervised


def test_alpha_supervised_losses():
    g = torch.Generator().manual_seed(6)
    gt = torch.rand(2, 1, 13, 17, generator=g)
    pred = torch.rand(2, 1, 13, 17, generator=g).requires_grad_()
    mask = (torch.rand(2, 1, 13, 17, generator=g) > 0.5).float()
    for fn in (alpha_l1_loss, laplacian_loss, gradient_loss, alpha_loss):
        assert fn(gt, gt).item() == 0.0
        assert fn(gt, gt, mask).item() == 0.0
        loss = fn(pred, gt, mask)
        assert loss.dtype == torch.float32 and loss.item() > 0
        (grad,) = torch.autograd.grad(loss, pred)
        assert torch.isfinite(grad).all()
    assert alpha_l1_loss(pred, gt).item() == pytest.approx((pred - gt).abs().mean().item())
    assert alpha_l1_loss(pred, gt, mask).item() == pytest.approx(
        ((pred - gt).abs() * mask).sum().item() / mask.sum().item(), rel=1e-6
    )
    # errors outside the mask are ignored; an empty mask gives 0
    assert alpha_l1_loss(gt + (1 - mask) * 0.3, gt, mask).item() == pytest.approx(0.0, abs=1e-7)
    assert alpha_l1_loss(pred, gt, torch.zeros_like(mask)).item() == 0.0
    # a constant offset has no gradient structure but is seen by the pyramid's low-pass residual
    assert gradient_loss(gt + 0.1, gt).item() == pytest.approx(0.0, abs=1e-6)
    assert laplacian_loss(gt + 0.1, gt).item() > 0
    # tiny sizes work (pyramid stops at 1 px)
    tiny = torch.tensor([[[[0.0, 0.5, 1.0]]]])
    assert laplacian_loss(tiny, tiny).item() == 0.0
    assert laplacian_loss(tiny, 1 - tiny).item() > 0.1
    assert gradient_loss(torch.rand(1, 1, 1, 1), torch.rand(1, 1, 1, 1)).item() == 0.0
    assert alpha_loss(pred, gt, gradient_weight=1.0).item() == pytest.approx(
        (alpha_l1_loss(pred, gt) + laplacian_loss(pred, gt) + gradient_loss(pred, gt)).item(), rel=1e-6
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    image, alpha = random_case(2, 40, 33, seed=12)
    cpu = value_and_grad(lambda a: ddc_loss(image, a, padding="zeros"), alpha)
    a_gpu = alpha.detach().cuda().requires_grad_()
    gpu = value_and_grad(lambda a: ddc_loss(image.cuda(), a, padding="zeros"), a_gpu)
    torch.testing.assert_close(gpu[0].cpu(), cpu[0], rtol=1e-5, atol=1e-7)
    n = 2 * 11 * 40 * 33
    torch.testing.assert_close(gpu[1].cpu() * n, cpu[1] * n, rtol=1e-5, atol=1e-4)
