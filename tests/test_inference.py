import io

import numpy as np
import pytest
import torch
from PIL import Image

from afmatting import ImageReadError, InvalidImageError, InvalidTrimapError
from afmatting.foreground import estimate_foreground
from afmatting.errors import InvalidSizeError
from afmatting.processing import network_size
from afmatting.data import read_image_value
from afmatting.io import image_size, load_image, load_matte
from afmatting.trimap import load_trimap

from .conftest import shared_path


# ------------------------------------------------------------------ reading images
def test_load_image_kinds(tmp_path, rng):
    rgb = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
    out = load_image(rgb)
    assert out.shape == (10, 12, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, rgb / 255.0, atol=1e-6)
    assert load_image(rgb[..., 0]).shape == (10, 12, 3)  # grey
    rgba = np.concatenate([rgb, np.zeros((10, 12, 1), np.uint8)], 2)
    np.testing.assert_allclose(load_image(rgba), out)  # alpha channel ignored
    np.testing.assert_allclose(load_image(rgb.astype(np.float32) / 255), out, atol=1e-6)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    np.testing.assert_allclose(load_image(tmp_path / "a.png"), out)
    np.testing.assert_allclose(load_image(Image.fromarray(rgb)), out)
    np.testing.assert_allclose(load_image((tmp_path / "a.png").read_bytes()), out)


def test_sixteen_bit_palette_and_cmyk(tmp_path, rng):
    grey16 = rng.integers(0, 65536, (9, 11), dtype=np.uint16)
    Image.fromarray(grey16).save(tmp_path / "g16.png")
    out = load_image(tmp_path / "g16.png")
    np.testing.assert_allclose(out[..., 0], grey16 / 65535.0, atol=1e-6)  # 16-bit precision kept
    rgb = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    Image.fromarray(rgb).convert("P", palette=Image.ADAPTIVE, colors=8).save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png").shape == (9, 11, 3)
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "c.jpg")
    cmyk = load_image(tmp_path / "c.jpg")
    assert cmyk.shape == (9, 11, 3)
    assert np.abs(cmyk - rgb / 255.0).mean() < 0.1  # JPEG-lossy but the right colours


def _with_orientation(arr: np.ndarray, path, orientation: int = 6):
    """Save ``arr`` losslessly with an EXIF orientation tag (6: the viewer turns it 90 degrees clockwise)."""
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = orientation
    img.save(path, exif=exif)
    return path


def test_exif_orientation_applied_pixel_by_pixel(tmp_path):
    # every pixel different, so a turn the wrong way (or a flip) cannot pass
    grey = np.arange(10 * 20, dtype=np.uint8).reshape(10, 20)
    rgb = np.stack([grey, 255 - grey, grey // 2], axis=2)
    clockwise = np.rot90(rgb, k=-1)
    photo = _with_orientation(rgb, tmp_path / "r.png")
    np.testing.assert_array_equal(load_image(photo), clockwise.astype(np.float32) / 255.0)
    assert image_size(photo) == (10, 20)  # (width, height) as read
    matte = _with_orientation(grey, tmp_path / "a.png")
    np.testing.assert_array_equal(load_matte(matte), np.rot90(grey, k=-1) / 255.0)
    levels = np.array([0, 128, 255], np.uint8)[np.arange(10 * 20).reshape(10, 20) % 3]
    np.testing.assert_array_equal(load_trimap(_with_orientation(levels, tmp_path / "t.png")), np.rot90(levels, k=-1))
    # a dataset cell (PIL, as datasets decodes it) goes through the same reader
    with Image.open(photo) as cell:
        np.testing.assert_array_equal(read_image_value(cell), load_image(photo))


def test_bad_image_inputs(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty"):
        load_image(tmp_path / "empty.png")
    (tmp_path / "text.jpg").write_text("hello, not an image")
    with pytest.raises(ImageReadError, match="not a recognised image"):
        load_image(tmp_path / "text.jpg")
    buf = io.BytesIO()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(buf, format="PNG")
    (tmp_path / "trunc.png").write_bytes(buf.getvalue()[:60])
    with pytest.raises(ImageReadError, match="corrupt|truncated|Cannot"):
        load_image(tmp_path / "trunc.png")
    with pytest.raises(ImageReadError, match="no such file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(InvalidImageError, match="too large"):
        load_image(tmp_path / "big.png" if False else np.zeros((100, 100, 3), np.uint8), max_pixels=5000)
    Image.new("L", (200, 100)).save(tmp_path / "big.png")
    with pytest.raises(InvalidImageError, match="too large"):
        load_image(tmp_path / "big.png", max_pixels=10_000)
    with pytest.raises(InvalidImageError, match="shape"):
        load_image(np.zeros((4, 4, 5)))
    with pytest.raises(InvalidImageError, match="expected"):
        load_image(np.full((4, 4, 3), -1.0))
    with pytest.raises(InvalidImageError, match="NaN"):
        load_image(np.full((4, 4, 3), np.nan))


# ------------------------------------------------------------------ reading trimaps
def test_trimap_reading_and_quantisation(tmp_path):
    t = np.zeros((8, 8), np.uint8)
    t[2:6] = 128
    t[4:] = 255
    np.testing.assert_array_equal(load_trimap(t), t)
    np.testing.assert_array_equal(load_trimap(t / 255.0), t)  # 0..1 floats
    np.testing.assert_array_equal(load_trimap(np.stack([t] * 3, 2)), t)  # 3-channel
    noisy = t.astype(int) + np.random.default_rng(0).integers(-20, 21, t.shape)
    np.testing.assert_array_equal(load_trimap(np.clip(noisy, 0, 255).astype(np.uint8)), t)  # JPEG-like noise
    pal = Image.fromarray(t).convert("P")
    pal.save(tmp_path / "pal.png")
    np.testing.assert_array_equal(load_trimap(tmp_path / "pal.png"), t)
    # documented thresholds: <64 -> 0, 64..191 -> 128, >=192 -> 255
    probe = np.zeros((1, 200), np.uint8)  # a few off-level pixels among clean ones
    probe[0, :6] = [0, 63, 64, 191, 192, 255]
    np.testing.assert_array_equal(load_trimap(probe)[0, :6], [0, 0, 128, 128, 255, 255])


def test_not_a_trimap_is_refused(rng):
    photo = rng.integers(0, 256, (32, 32), dtype=np.uint8)
    with pytest.raises(InvalidTrimapError, match="does not look like a trimap"):
        load_trimap(photo)
    with pytest.raises(InvalidTrimapError, match="colour image"):
        load_trimap(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    with pytest.raises(InvalidTrimapError, match="same size"):
        load_trimap(np.zeros((8, 8), np.uint8), shape=(8, 9))


# ------------------------------------------------------------------ predict
@pytest.mark.parametrize("size", [(7, 300), (1001, 37), (64, 48)])
def test_predict_size_dtype_range(tiny_vit, size, rng):
    img = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    result = tiny_vit.predict(img)
    assert result.alpha.shape == size and result.alpha.dtype == np.float32
    assert 0 <= result.alpha.min() and result.alpha.max() <= 1
    cut = result.cutout()
    assert cut.mode == "RGBA" and cut.size == (size[1], size[0])
    np.testing.assert_array_equal(np.asarray(cut)[..., 3], np.asarray(result.alpha_image()))


def test_max_side_bounds_network_but_alpha_is_full_size(tiny_vit, rng):
    assert network_size(3000, 2000, 1024) == (1024, 683)
    img = rng.random((300, 200, 3), dtype=np.float32)
    seen = []
    hook = tiny_vit.register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape[-2:])))
    try:
        result = tiny_vit.predict(img, max_side=96)
    finally:
        hook.remove()
    assert seen == [(96, 64)]
    assert result.alpha.shape == (300, 200)


def test_max_side_none_is_full_resolution_and_bad_values_are_refused(tiny_vit, rng):
    img = rng.random((40, 30, 3), dtype=np.float32)
    seen = []
    hook = tiny_vit.register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape[-2:])))
    try:
        tiny_vit.predict(img, max_side=None)
    finally:
        hook.remove()
    assert seen == [(40, 30)]
    for bad in (0, -1, 7, 12.5, "1024", True):
        with pytest.raises(InvalidSizeError, match="max_side"):
            tiny_vit.predict(img, max_side=bad)
        with pytest.raises(InvalidSizeError, match="max_side"):
            network_size(40, 30, bad)


def test_known_region_rule_and_trimap_checks(tiny_cnn_trimap, tiny_vit, rng):
    img = rng.random((40, 50, 3), dtype=np.float32)
    tri = np.full((40, 50), 128, np.uint8)
    tri[:10] = 0
    tri[-10:] = 255
    a = tiny_cnn_trimap.predict(img, trimap=tri).alpha
    assert (a[:10] == 0).all() and (a[-10:] == 1).all()
    assert ((a[10:-10] > 0) & (a[10:-10] < 1)).any()
    with pytest.raises(InvalidTrimapError, match="needs a trimap"):
        tiny_cnn_trimap.predict(img)
    with pytest.raises(InvalidTrimapError, match="same size"):
        tiny_cnn_trimap.predict(img, trimap=tri[:, :49])
    with pytest.raises(InvalidTrimapError, match="trimap-free"):
        tiny_vit.predict(img, trimap=tri)
    with pytest.raises(InvalidTrimapError, match="does not look like a trimap"):
        tiny_cnn_trimap.predict(img, trimap=rng.integers(0, 256, (40, 50), dtype=np.uint8))


def test_batch_equals_one_by_one(tiny_cnn_trimap, rng):
    imgs = [rng.random((30, 40, 3), dtype=np.float32) for _ in range(3)] + [rng.random((20, 25, 3), dtype=np.float32)]
    tris = [np.full(im.shape[:2], 128, np.uint8) for im in imgs]
    # the network's batching is under test: refinement (per image, after the network) is off
    batch = tiny_cnn_trimap.predict(imgs, trimap=tris, batch_size=2, refine=False)
    assert len(batch) == 4
    for im, tr, res in zip(imgs, tris, batch):
        np.testing.assert_allclose(tiny_cnn_trimap.predict(im, trimap=tr, refine=False).alpha, res.alpha, atol=1e-5)
    with pytest.raises(InvalidTrimapError, match="as many trimaps"):
        tiny_cnn_trimap.predict(imgs, trimap=tris[:2])


def test_composite_colour_and_image(tiny_vit, rng):
    img = rng.random((20, 30, 3), dtype=np.float32)
    r = tiny_vit.predict(img)
    r.alpha = np.zeros_like(r.alpha)
    assert np.asarray(r.composite("#ff0000"))[..., 0].min() == 255
    assert np.asarray(r.composite((0, 0, 255)))[..., 2].min() == 255
    bg = np.zeros((5, 5, 3), np.uint8)
    bg[..., 1] = 255
    assert np.asarray(r.composite(bg))[..., 1].min() == 255
    r.alpha = np.ones_like(r.alpha)
    np.testing.assert_allclose(np.asarray(r.composite("red")) / 255.0, r.foreground, atol=1 / 255 + 1e-6)
    with pytest.raises(InvalidImageError, match="colour"):
        r.composite("notacolour")


def test_foreground_removes_background_colour():
    """I = αF + (1-α)B with known F (red), B (blue): the estimate recovers red where α > 0."""
    h, w = 32, 32
    alpha = np.tile(np.linspace(0, 1, w, dtype=np.float32), (h, 1))
    fg = np.zeros((h, w, 3), np.float32)
    fg[..., 0] = 1
    bg = np.zeros((h, w, 3), np.float32)
    bg[..., 2] = 1
    image = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    est_f, est_b = estimate_foreground(image, alpha, return_background=True)
    m = alpha > 0.1
    assert np.abs(est_f[m] - fg[m]).mean() < 0.05  # the naive cut-out colour (the image) is off by ~0.5
    assert np.abs(image[m] - fg[m]).mean() > 0.25
    recon = alpha[..., None] * est_f + (1 - alpha[..., None]) * est_b
    assert np.abs(recon - image).mean() < 0.01


def test_real_photo_with_trimap(tiny_cnn_trimap):
    folder = shared_path("trimap-only")
    r = tiny_cnn_trimap.predict(folder / "lemur.png", trimap=folder / "lemur_trimap.png", max_side=256)
    tri = load_trimap(folder / "lemur_trimap.png")
    assert r.alpha.shape == tri.shape
    assert (r.alpha[tri == 255] == 1).all() and (r.alpha[tri == 0] == 0).all()


def test_adaptation_changes_prediction_and_keeps_model(tiny_cnn_trimap, rng):
    img = rng.random((40, 50, 3), dtype=np.float32)
    tri = np.full((40, 50), 128, np.uint8)
    tri[:10] = 0
    tri[-10:] = 255
    before = {k: v.clone() for k, v in tiny_cnn_trimap.state_dict().items()}
    plain = tiny_cnn_trimap.predict(img, trimap=tri).alpha
    adapted = tiny_cnn_trimap.predict(img, trimap=tri, adapt_steps=3)
    assert adapted.extra["adapt_steps"] == 3
    assert np.abs(adapted.alpha - plain).max() > 1e-4
    assert (adapted.alpha[:10] == 0).all() and (adapted.alpha[-10:] == 1).all()
    for k, v in tiny_cnn_trimap.state_dict().items():
        assert torch.equal(v, before[k]), k  # only a copy was tuned
    np.testing.assert_array_equal(tiny_cnn_trimap.predict(img, trimap=tri).alpha, plain)


def test_adaptation_needs_a_trimap_model(tiny_vit, rng):
    from afmatting import AFMattingError

    with pytest.raises(AFMattingError):
        tiny_vit.predict(rng.random((20, 20, 3), dtype=np.float32), adapt_steps=2)
