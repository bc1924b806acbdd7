"""A generated corpus of hostile and odd inputs through ``predict`` and the CLI: every input gives a correct result
or a clear AFMattingError, never a traceback, a NaN matte, or exit code 0 on a wrong answer."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from afmatting.cli import main
from afmatting.errors import AFMattingError, InvalidImageError
from afmatting.io import MAX_IMAGE_PIXELS, load_image


def png_header_only(path, width, height, bit_depth=1, colour_type=0):
    """A PNG that declares ``width`` x ``height`` but holds no pixel data (what a header check must refuse)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


def float_tiff(path, values):
    Image.fromarray(values.astype(np.float32), mode="F").save(path)
    return path


def hostile_files(folder, rng):
    """name -> expected outcome ("ok" or "error") for files written into ``folder``."""
    folder.mkdir()
    cases = {}

    def bad(name, data):
        (folder / name).write_bytes(data)
        cases[name] = "error"

    bad("empty.png", b"")
    bad("text.png", b"this is not an image\n")
    bad("heic.jpg", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64)
    good = folder / "good.png"
    Image.fromarray(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)).save(good)
    bad("truncated.png", good.read_bytes()[:80])
    side = int(MAX_IMAGE_PIXELS ** 0.5) + 100
    png_header_only(folder / "huge_header.png", side, side)  # over the limit, no pixel data at all
    cases["huge_header.png"] = "error"
    nan = rng.random((20, 30)).astype(np.float32)
    nan[::2, ::3] = np.nan
    float_tiff(folder / "nan.tif", nan)
    cases["nan.tif"] = "error"
    inf = np.zeros((20, 30), np.float32)
    inf[5, 5] = np.inf
    float_tiff(folder / "inf.tif", inf)
    cases["inf.tif"] = "error"

    cases["good.png"] = "ok"
    Image.new("RGB", (1, 1), (200, 10, 10)).save(folder / "one_pixel.png")
    cases["one_pixel.png"] = "ok"
    Image.new("RGB", (300, 1)).save(folder / "thin.png")
    cases["thin.png"] = "ok"
    Image.fromarray(rng.random((16, 16)) > 0.5).save(folder / "bits.png")
    cases["bits.png"] = "ok"
    Image.fromarray((rng.random((18, 22)) * 65535).astype(np.uint16)).save(folder / "grey16.png")
    cases["grey16.png"] = "ok"
    Image.fromarray(rng.integers(0, 256, (12, 14, 4), dtype=np.uint8), mode="RGBA").save(folder / "rgba.png")
    cases["rgba.png"] = "ok"
    Image.new("CMYK", (10, 12), (10, 20, 30, 40)).save(folder / "cmyk.jpg")
    cases["cmyk.jpg"] = "ok"
    Image.new("P", (9, 7), 3).save(folder / "palette.png")
    cases["palette.png"] = "ok"
    float_tiff(folder / "float.tif", rng.random((15, 17)))
    cases["float.tif"] = "ok"
    return cases


def hostile_arrays(rng):
    nan = np.full((8, 8, 3), 0.5, np.float32)
    nan[2, 3, 1] = np.nan
    return {
        "nan": (nan, "error"),
        "inf": (np.full((8, 8), np.inf, np.float32), "error"),
        "negative": (np.full((8, 8, 3), -0.5, np.float32), "error"),
        "too_big_float": (np.full((8, 8, 3), 1e6, np.float64), "error"),
        "4d": (np.zeros((1, 8, 8, 3), np.uint8), "error"),
        "empty": (np.zeros((0, 5, 3), np.uint8), "error"),
        "five_channels": (np.zeros((8, 8, 5), np.uint8), "error"),
        "int32_range": (np.full((8, 8, 3), 70000, np.int32), "error"),
        "objects": (np.full((8, 8, 3), None, object), "error"),
        "bool": (rng.random((9, 11)) > 0.5, "ok"),
        "uint16": ((rng.random((9, 11, 3)) * 65535).astype(np.uint16), "ok"),
        "float255": (rng.random((9, 11, 3)) * 255, "error"),  # a float image is [0, 1] by its dtype
    }


def expected_shape(source):
    if isinstance(source, np.ndarray):
        return source.shape[:2]
    with Image.open(source) as img:
        return img.height, img.width


def test_every_hostile_input_gives_a_result_or_a_clear_error(tmp_path, rng, tiny_vit):
    files = hostile_files(tmp_path / "in", rng)
    inputs = {name: (tmp_path / "in" / name, outcome) for name, outcome in files.items()}
    inputs.update(hostile_arrays(rng))
    outcomes = {}
    for name, (source, expected) in inputs.items():
        try:
            result = tiny_vit.predict(source, max_side=64)
        except AFMattingError as e:
            assert str(e), name
            outcomes[name] = "error"
            continue
        # any other exception fails the test with its traceback
        alpha = result.alpha
        assert alpha.shape == expected_shape(source), name
        assert np.isfinite(alpha).all() and alpha.min() >= 0 and alpha.max() <= 1, name
        assert np.isfinite(result.foreground).all(), name
        outcomes[name] = "ok"
    assert outcomes == {name: expected for name, (_, expected) in inputs.items()}


def test_cli_on_the_hostile_folder(tmp_path, rng, tiny_vit, capsys):
    files = hostile_files(tmp_path / "in", rng)
    tiny_vit.save_pretrained(tmp_path / "model")
    code = main(["matte", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--model", str(tmp_path / "model"),
                 "--max-side", "64", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1  # some images failed: never 0
    assert "Traceback" not in err
    for name, expected in files.items():
        stem = name.rsplit(".", 1)[0]
        alpha_path = tmp_path / "out" / f"{stem}_alpha.png"
        if expected == "error":
            assert name in err and not alpha_path.exists(), name
        else:
            assert name not in err, name
            with Image.open(alpha_path) as alpha:
                assert (alpha.height, alpha.width) == expected_shape(tmp_path / "in" / name), name


def test_pixel_limit_is_checked_from_the_header_before_decoding(tmp_path):
    # the header claims just over the limit and there is no pixel data: a decoder would fail with "truncated";
    # the refusal says "too large", so it came from the header alone
    side = int(MAX_IMAGE_PIXELS ** 0.5) + 10
    path = png_header_only(tmp_path / "big.png", side, side)
    with pytest.raises(InvalidImageError, match="too large"):
        load_image(path)
    small = png_header_only(tmp_path / "small.png", 8, 8)
    with pytest.raises(AFMattingError, match="corrupt or truncated"):
        load_image(small)


def test_non_finite_float_tiff_is_refused(tmp_path, rng, tiny_vit):
    values = rng.random((40, 50)).astype(np.float32)
    values.flat[::5] = np.nan  # 400 NaN pixels
    path = float_tiff(tmp_path / "nan.tif", values)
    with pytest.raises(InvalidImageError, match="400 NaN or infinite"):
        tiny_vit.predict(path)
