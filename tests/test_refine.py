"""Test-time refinement by the band solver: matting Laplacian + pull to the network's matte (+ optional DDC)."""

import numpy as np
import pytest
import scipy.sparse as sp

from afmatting import AFMattingError
from afmatting.laplacian import laplacian_stencil
from afmatting.metrics import compute_metrics
from afmatting.refine import RefineSettings, level_sizes, refine_alpha, solve_level

from .conftest import shared_path, stencil_to_sparse, two_colour_case


def test_recovers_a_colour_edge_from_a_flat_start():
    image, trimap, gt = two_colour_case()
    start = np.where(trimap == 255, 1.0, np.where(trimap == 0, 0.0, 0.5)).astype(np.float32)
    refined = refine_alpha(image, trimap, start)
    assert refined.dtype == np.float32 and refined.shape == gt.shape
    before = compute_metrics(start, gt, trimap)["SAD"]
    after = compute_metrics(refined, gt, trimap)["SAD"]
    assert after < 0.05 * before, (before, after)
    assert (refined[trimap == 0] == 0).all() and (refined[trimap == 255] == 1).all()


def test_level_solution_is_the_minimiser_of_the_energy():
    """The CG solution equals a dense direct solve of the same energy on a tiny image."""
    rng = np.random.default_rng(0)
    h, w = 12, 14
    image = rng.random((h, w, 3)).astype(np.float32)
    trimap = np.zeros((h, w), np.uint8)
    trimap[:, 9:] = 255
    trimap[2:10, 4:11] = 128
    prior = rng.random((h, w)).astype(np.float32)
    settings = RefineSettings(prior_weight=1e-2, epsilon=1e-4, tolerance=1e-12, max_iterations=2000)
    got, _ = solve_level(image, trimap, prior, settings=settings)

    L = stencil_to_sparse(laplacian_stencil(image.astype(np.float64), epsilon=1e-4)).toarray()
    u = (trimap == 128).ravel()
    known = (trimap == 255).ravel().astype(np.float64)
    # E = a^T L a + lam |a_u - p_u|^2  ->  (L_uu + lam I) a_u = lam p_u - L_uk a_k
    A = L[np.ix_(u, u)] + 1e-2 * np.eye(u.sum())
    b = 1e-2 * prior.ravel()[u] - L[np.ix_(u, ~u)] @ known[~u]
    expected = np.clip(np.linalg.solve(A, b), 0, 1)
    np.testing.assert_allclose(got.ravel()[u], expected, atol=1e-6)


def test_no_seam_where_the_unknown_band_ends():
    """A start that disagrees with the trimap at the band's edge is pulled to it: no step at the boundary."""
    image, trimap, gt = two_colour_case()
    start = np.where(trimap == 128, 0.5 * gt + 0.25, trimap / 255.0).astype(np.float32)  # 0.25 / 0.75 in the band
    refined = refine_alpha(image, trimap, start)
    unknown = trimap == 128
    # horizontal neighbours where one side is known and the other unknown
    left, right = unknown[:, :-1], unknown[:, 1:]
    edge = left ^ right
    jumps = np.abs(refined[:, 1:] - refined[:, :-1])[edge]
    assert jumps.max() < 0.05, jumps.max()
    assert np.abs(start[:, 1:] - start[:, :-1])[edge].max() > 0.2  # the start did have a seam


def test_large_images_are_solved_at_max_side_and_upsampled():
    image, trimap, gt = two_colour_case(96, 128)
    start = np.where(trimap == 255, 1.0, np.where(trimap == 0, 0.0, 0.5)).astype(np.float32)
    refined = refine_alpha(image, trimap, start, RefineSettings(max_side=64))
    assert refined.shape == gt.shape
    assert compute_metrics(refined, gt, trimap)["SAD"] < 0.3 * compute_metrics(start, gt, trimap)["SAD"]
    assert (refined[trimap == 0] == 0).all() and (refined[trimap == 255] == 1).all()


def test_level_sizes_are_coarse_to_fine_and_bounded():
    assert level_sizes(600, 800) == [(150, 200), (300, 400), (600, 800)]
    assert level_sizes(2000, 4000, max_side=1000) == [(125, 250), (250, 500), (500, 1000)]
    assert level_sizes(40, 100) == [(40, 100)]  # coarser levels would be under 32 px


def test_bad_inputs_are_refused_with_clear_messages():
    image, trimap, gt = two_colour_case()
    with pytest.raises(AFMattingError, match="one size"):
        refine_alpha(image[:10], trimap, gt)
    with pytest.raises(AFMattingError, match="0, 128 and 255"):
        refine_alpha(image, np.full(trimap.shape, 7, np.uint8), gt)
    with pytest.raises(AFMattingError, match="non-finite"):
        refine_alpha(image, trimap, np.full(gt.shape, np.nan, np.float32))
    with pytest.raises(AFMattingError, match="prior_weight"):
        refine_alpha(image, trimap, gt, RefineSettings(prior_weight=0))
    with pytest.raises(AFMattingError, match="scales"):
        refine_alpha(image, trimap, gt, RefineSettings(scales=(0.5, 2.0)))


def test_predict_refines_by_default_with_a_trimap(tiny_cnn_trimap, tiny_vit):
    image, trimap, gt = two_colour_case()
    plain = tiny_cnn_trimap.predict(image, trimap=trimap, refine=False)
    refined = tiny_cnn_trimap.predict(image, trimap=trimap)
    assert refined.extra["refined"] and "refined" not in plain.extra
    assert compute_metrics(refined.alpha, gt, trimap)["SAD"] < compute_metrics(plain.alpha, gt, trimap)["SAD"]
    assert (refined.alpha[trimap == 0] == 0).all() and (refined.alpha[trimap == 255] == 1).all()
    # trimap-free models take no trimap, so there is nothing to refine
    assert "refined" not in tiny_vit.predict(image).extra


def test_cli_refines_by_default_and_no_refine_turns_it_off(tmp_path, tiny_cnn_trimap):
    from PIL import Image

    from afmatting.cli import main as cli_main

    image, trimap, gt = two_colour_case()
    Image.fromarray((image * 255).astype(np.uint8)).save(tmp_path / "edge.png")
    Image.fromarray(trimap).save(tmp_path / "edge_trimap.png")
    tiny_cnn_trimap.save_pretrained(tmp_path / "model")
    args = ["matte", str(tmp_path / "edge.png"), "--trimap", str(tmp_path / "edge_trimap.png"),
            "--model", str(tmp_path / "model"), "--quiet"]
    assert cli_main(args + ["--out", str(tmp_path / "a")]) == 0
    assert cli_main(args + ["--out", str(tmp_path / "b"), "--no-refine"]) == 0
    refined = np.asarray(Image.open(tmp_path / "a" / "edge_alpha.png")) / 255.0
    plain = np.asarray(Image.open(tmp_path / "b" / "edge_alpha.png")) / 255.0
    assert compute_metrics(refined, gt, trimap)["SAD"] < compute_metrics(plain, gt, trimap)["SAD"]


def test_refinement_improves_the_bundled_model_on_real_ground_truth():
    """alphamatting GT01 (a real photo with real ground truth), at 320 px to keep the test short."""
    from PIL import Image

    from afmatting import AFMatting
    from afmatting.io import load_image
    from afmatting.trimap import load_trimap

    root = shared_path("alphamatting")
    size = (320, 213)

    def small(path, resample):
        return Image.open(path).convert("RGB").resize(size, resample)

    image = load_image(small(root / "image" / "GT01.png", Image.BILINEAR))
    trimap = load_trimap(np.asarray(small(root / "trimap1" / "GT01.png", Image.NEAREST))[..., 0])
    gt = np.asarray(small(root / "alpha" / "GT01.png", Image.BILINEAR))[..., 0].astype(np.float32) / 255
    model = AFMatting.from_pretrained("afmatting/lite0-trimap")
    plain = model.predict(image, trimap=trimap, refine=False).alpha
    refined = model.predict(image, trimap=trimap).alpha
    before, after = compute_metrics(plain, gt, trimap)["SAD"], compute_metrics(refined, gt, trimap)["SAD"]
    assert after < 0.7 * before, (before, after)
