"""The two-stage trimap-free path (afmatting.two_stage) and predict's two_stage switch."""

import numpy as np
import pytest

from afmatting import load_matter
from afmatting.bundled import DEFAULT_TRIMAP_FREE_MODEL, resolve_bundled
from afmatting.errors import AFMattingError
from afmatting.trimap import BACKGROUND, FOREGROUND, UNKNOWN
from afmatting.two_stage import two_stage_predict

from .conftest import shared_path


@pytest.fixture
def photo(rng):
    """A 40 x 56 image: a bright disc on a dark, noisy background."""
    yy, xx = np.mgrid[:40, :56]
    disc = ((yy - 20) ** 2 + (xx - 28) ** 2 < 12 ** 2)[..., None]
    return np.clip(np.where(disc, 0.9, 0.1) + rng.normal(0, 0.03, (40, 56, 3)), 0, 1).astype(np.float32)


def test_predict_without_a_trimap_model_is_the_single_network(tiny_vit, tiny_cnn_trimap, photo):
    result = tiny_vit.predict(photo)
    assert result.trimap is None and "two_stage" not in result.extra
    assert np.array_equal(result.alpha, tiny_vit.predict(photo, trimap_model=tiny_cnn_trimap, two_stage=False).alpha)
    # given a trimap model, the two-stage path is the default
    assert tiny_vit.predict(photo, trimap_model=tiny_cnn_trimap).extra["two_stage"]


def test_two_stage_result(tiny_vit, tiny_cnn_trimap, photo):
    result = tiny_vit.predict(photo, two_stage=True, trimap_model=tiny_cnn_trimap)
    assert result.extra["two_stage"] and result.alpha.shape == photo.shape[:2] and result.alpha.dtype == np.float32
    assert result.trimap.dtype == np.uint8 and set(np.unique(result.trimap)) <= {BACKGROUND, UNKNOWN, FOREGROUND}
    assert 0.0 <= result.alpha.min() and result.alpha.max() <= 1.0
    # the refined matte respects the automatic trimap's known pixels
    assert (result.alpha[result.trimap == BACKGROUND] == 0).all()
    assert (result.alpha[result.trimap == FOREGROUND] == 1).all()
    # the automatic trimap is built from the first stage's matte: unknown wherever that matte is uncertain
    first = result.extra["first_stage_alpha"]
    assert (result.trimap[(first > 0.2) & (first < 0.8)] == UNKNOWN).all()


def test_unrefined_second_stage_is_the_trimap_model_on_the_automatic_trimap(tiny_vit, tiny_cnn_trimap, photo):
    result = two_stage_predict(tiny_vit, photo, trimap_model=tiny_cnn_trimap, refine=False)
    direct = tiny_cnn_trimap.predict(photo, trimap=result.trimap, refine=False).alpha
    assert np.allclose(result.alpha, direct)


def test_list_input_and_names(tiny_vit, tiny_cnn_trimap, photo, tmp_path):
    from PIL import Image

    path = tmp_path / "disc.png"
    Image.fromarray((photo * 255).astype(np.uint8)).save(path)
    results = tiny_vit.predict([str(path), photo], two_stage=True, trimap_model=tiny_cnn_trimap)
    assert [r.name for r in results] == ["disc", ""]


def test_two_stage_refuses_bad_combinations(tiny_vit, tiny_cnn_trimap, photo):
    with pytest.raises(AFMattingError, match="trimap-free"):
        tiny_cnn_trimap.predict(photo, trimap=np.full(photo.shape[:2], 128, np.uint8), two_stage=True)
    with pytest.raises(AFMattingError, match="trimap_model"):
        two_stage_predict(tiny_vit, photo, trimap_model=tiny_vit)
    with pytest.raises(AFMattingError, match="trimap_model"):
        tiny_vit.predict(photo, two_stage=True)
    with pytest.raises(AFMattingError, match="trimap-free"):
        tiny_vit.predict(photo, trimap=np.full(photo.shape[:2], 128, np.uint8), two_stage=True,
                         trimap_model=tiny_cnn_trimap)


@pytest.mark.slow
def test_bundled_trimap_free_pipeline_runs_two_stage_by_default():
    if resolve_bundled(DEFAULT_TRIMAP_FREE_MODEL) is None:
        pytest.skip("bundled models not installed")
    from pathlib import Path

    matter = load_matter(DEFAULT_TRIMAP_FREE_MODEL)
    assert matter.trimap_model is not None and matter.trimap_model.trimap_input
    cat = Path(__file__).resolve().parents[1] / "afmatting" / "assets" / "cat.jpg"
    result = matter.predict(str(cat), max_side=256)
    assert result.extra["two_stage"] and result.trimap is not None
    alone = matter.predict(str(cat), max_side=256, two_stage=False)
    assert alone.trimap is None
    # the network alone is the bare network's predict
    assert np.array_equal(alone.alpha, matter.model.predict(str(cat), max_side=256).alpha)


@pytest.mark.e2e
def test_two_stage_beats_the_network_alone_on_real_photos():
    """Whole-image SAD on two alphamatting photos (downscaled for speed) where the network alone keeps background."""
    from PIL import Image

    from afmatting.data import read_alpha
    from afmatting.io import load_image
    from afmatting.metrics import compute_metrics

    root = shared_path("alphamatting")
    model = load_matter(DEFAULT_TRIMAP_FREE_MODEL)
    single, two = 0.0, 0.0
    for name in ("GT02", "GT05"):
        image = load_image(root / "image" / f"{name}.png")
        h, w = image.shape[0] // 2, image.shape[1] // 2
        image = np.asarray(Image.fromarray((image * 255).astype(np.uint8)).resize((w, h), Image.BILINEAR),
                           np.float32) / 255
        gt = np.asarray(Image.fromarray(read_alpha(str(root / "alpha" / f"{name}.png"))).resize((w, h),
                                                                                               Image.BILINEAR))
        single += compute_metrics(model.predict(image, two_stage=False).alpha, gt)["SAD"]
        two += compute_metrics(model.predict(image).alpha, gt)["SAD"]
    assert two < single
