"""Reliability, third pass (issue 22): each test reproduces one failure found by hostile inputs."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from afmatting.errors import AFMattingError, ImageReadError, InvalidImageError
from afmatting.io import image_size, list_images, load_image
from afmatting.trimap import load_trimap


# ------------------------------------------------------------------ 1. float images slightly above 1.0
def test_float_image_slightly_above_one_is_clipped_not_divided_by_255():
    image = np.full((6, 7, 3), 0.6, np.float32)
    image[0, 0, 0] = 1.0001
    out = load_image(image)
    assert out.max() == 1.0 and abs(float(out[3, 3, 0]) - 0.6) < 1e-6


def test_float_tiff_slightly_above_one_keeps_its_brightness(tmp_path):
    grey = np.full((6, 7), 0.6, np.float32)
    grey[0, 0] = 1.001
    Image.fromarray(grey, mode="F").save(tmp_path / "f.tif")
    out = load_image(tmp_path / "f.tif")
    assert abs(float(out[3, 3, 0]) - 0.6) < 1e-6 and out.max() == 1.0


@pytest.mark.parametrize("value", [2.0, 200.0, -0.5])
def test_float_images_clearly_out_of_range_are_refused(value):
    image = np.full((6, 7, 3), 0.5, np.float32)
    image[1, 1] = value
    with pytest.raises(InvalidImageError, match=r"\[0, 1\]"):
        load_image(image)


# ------------------------------------------------------------------ 2. trimap labels stored in the alpha channel
@pytest.mark.parametrize("mode", ["LA", "RGBA"])
def test_trimap_in_the_alpha_channel_is_read_from_it(tmp_path, mode):
    labels = np.zeros((8, 9), np.uint8)
    labels[:, 3:6] = 128
    labels[:, 6:] = 255
    colour = np.zeros((8, 9, len(mode) - 1), np.uint8)
    Image.fromarray(np.dstack([colour, labels]), mode=mode).save(tmp_path / "t.png")
    np.testing.assert_array_equal(load_trimap(tmp_path / "t.png"), labels)
    np.testing.assert_array_equal(load_trimap(np.dstack([colour, labels])), labels)


def test_opaque_black_rgba_trimap_is_background_not_foreground():
    rgba = np.zeros((5, 5, 4), np.uint8)
    rgba[..., 3] = 255
    assert (load_trimap(rgba) == 0).all()


# ------------------------------------------------------------------ 3. literal file names with glob characters
def test_existing_file_name_with_glob_characters_is_literal(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "photo[1].png")
    Image.new("RGB", (4, 4)).save(tmp_path / "photo1.png")
    assert list_images([tmp_path / "photo[1].png"]) == [tmp_path / "photo[1].png"]
    (tmp_path / "photo1.png").unlink()
    assert list_images([str(tmp_path / "photo[1].png")]) == [tmp_path / "photo[1].png"]
    assert list_images([str(tmp_path / "*.png")]) == [tmp_path / "photo[1].png"]  # patterns still expand


# ------------------------------------------------------------------ also seen: EXIF orientation 6 on a TIFF
def test_image_size_agrees_with_load_image_on_an_oriented_tiff(tmp_path):
    img = Image.fromarray(np.zeros((10, 20, 3), np.uint8))
    exif = img.getexif()
    exif[0x0112] = 6
    img.save(tmp_path / "o.tif", exif=exif)
    img.save(tmp_path / "o.jpg", exif=exif)
    for name in ("o.tif", "o.jpg"):
        h, w = load_image(tmp_path / name).shape[:2]
        assert image_size(tmp_path / name) == (w, h) == (10, 20)


# ------------------------------------------------------------------ 5. corrupt headers, and the fuzz test
def _seed_files() -> dict[str, bytes]:
    """Small valid files of every format the readers meet, as bytes."""
    rng = np.random.default_rng(1)
    rgb = Image.fromarray((rng.random((12, 10, 3)) * 255).astype(np.uint8))
    out = {}
    for fmt, ext, img in (("PNG", "png", rgb), ("JPEG", "jpg", rgb), ("PPM", "ppm", rgb), ("TIFF", "tif", rgb),
                          ("BMP", "bmp", rgb), ("WEBP", "webp", rgb), ("GIF", "gif", rgb.convert("P")),
                          ("TIFF", "f.tif", Image.fromarray(rng.random((12, 10)).astype(np.float32), mode="F")),
                          ("PNG", "16.png", Image.fromarray((rng.random((12, 10)) * 65535).astype(np.uint16)))):
        buf = io.BytesIO()
        img.save(buf, format=fmt)
        out[ext] = buf.getvalue()
    return out


def _mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """A few random byte flips, mostly in the header (where Pillow's plugins parse), sometimes a truncation."""
    raw = bytearray(data)
    header = min(len(raw), 64)
    for _ in range(int(rng.integers(1, 5))):
        where = int(rng.integers(0, header)) if rng.random() < 0.8 else int(rng.integers(0, len(raw)))
        raw[where] = int(rng.integers(0, 256))
    if rng.random() < 0.15:
        raw = raw[: int(rng.integers(1, len(raw)))]
    return bytes(raw)


@pytest.mark.filterwarnings("ignore")
def test_fuzzed_files_decode_or_raise_an_afmatting_error_naming_the_file(tmp_path):
    rng = np.random.default_rng(22)
    seeds = _seed_files()
    failures, escaped = 0, []
    for i in range(400):
        ext = list(seeds)[i % len(seeds)]
        path = tmp_path / f"fuzz{i:03d}.{ext.split('.')[-1]}"
        path.write_bytes(_mutate(seeds[ext], rng))
        try:
            image_size(path)
            load_image(path)
        except AFMattingError as e:
            failures += 1
            assert path.name in str(e)
        except Exception as e:  # noqa: BLE001 - the test's point: nothing else may escape
            escaped.append(f"{path.name}: {type(e).__name__}: {e}")
    assert not escaped, escaped[:10]
    assert failures > 50  # the mutations do break files


def test_mutated_ppm_header_is_an_image_read_error(tmp_path):
    # a PPM whose maxval is mutated to 0 made Pillow raise a bare ValueError
    (tmp_path / "bad.png").write_bytes(b"P6\n4 4\n0\n" + bytes(48))
    with pytest.raises(ImageReadError, match="bad.png"):
        load_image(tmp_path / "bad.png")


# ------------------------------------------------------------------ CLI folder runs: 4, 15, 16 and the file mode
@pytest.fixture(scope="module")
def free_model_dir(tmp_path_factory, tiny_vit):
    folder = tmp_path_factory.mktemp("models") / "free"
    tiny_vit.save_pretrained(folder)
    return folder


def _photos(folder, names, size=(20, 24)):
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        Image.fromarray(np.full((*size, 3), 40 * k + 10, np.uint8)).save(folder / name)


def test_skip_existing_redoes_an_image_whose_outputs_are_incomplete(tmp_path, free_model_dir):
    from afmatting.cli import main

    _photos(tmp_path / "in", ["a.png", "b.png"])
    args = ["matte", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--model", str(free_model_dir), "--quiet"]
    assert main(args) == 0
    (tmp_path / "out" / "a_cutout.png").unlink()  # interrupted between a's alpha and its cut-out
    assert main(args + ["--skip-existing"]) == 0
    assert Image.open(tmp_path / "out" / "a_cutout.png").size == (24, 20)


def test_outputs_get_the_umask_mode_not_0600(tmp_path, free_model_dir):
    import os

    from afmatting.cli import main

    _photos(tmp_path / "in", ["a.png"])
    assert main(["matte", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--model", str(free_model_dir),
                 "--quiet"]) == 0
    mask = os.umask(0o022)
    os.umask(mask)
    for name in ("a_alpha.png", "a_cutout.png"):
        assert (tmp_path / "out" / name).stat().st_mode & 0o777 == 0o666 & ~mask


def test_input_folder_as_out_never_mattes_previous_outputs(tmp_path, free_model_dir):
    from afmatting.cli import main

    _photos(tmp_path / "gt", ["GT01.png", "GT02.png"])
    args = ["matte", str(tmp_path / "gt"), "--out", str(tmp_path / "gt"), "--model", str(free_model_dir), "--quiet"]
    assert main(args) == 0
    assert main(args + ["--skip-existing"]) == 0
    assert main(args + ["--overwrite"]) == 0
    assert sorted(p.name for p in (tmp_path / "gt").iterdir()) == [
        "GT01.png", "GT01_alpha.png", "GT01_cutout.png", "GT02.png", "GT02_alpha.png", "GT02_cutout.png"]


SIGTERM_DURING_WRITE = """
import os, signal, sys
from PIL import Image
from afmatting.cli import main
save = Image.Image.save
def save_then_terminate(self, fp, *args, **kwargs):
    save(self, fp, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGTERM)  # as a service manager stops the run mid-write
Image.Image.save = save_then_terminate
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.e2e
def test_sigterm_during_a_write_leaves_no_partial_file(tmp_path, free_model_dir):
    import os
    import signal
    import subprocess
    import sys

    _photos(tmp_path / "in", ["a.png"])
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", SIGTERM_DURING_WRITE, "matte", str(tmp_path / "in"), "--out",
                           str(out), "--model", str(free_model_dir), "--quiet"],
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr[-2000:]
    assert list(out.iterdir()) == []  # neither a .partial file nor a half-finished output


# ------------------------------------------------------------------ 8, 11, 12, 13: model folders and the API
def test_enormous_timm_backbone_is_refused_before_it_is_built():
    from afmatting.errors import ModelConfigError
    from afmatting.model_config import validate_model_config

    with pytest.raises(ModelConfigError, match="vit_gigantic_patch14_224.*M-parameter"):
        validate_model_config({"backbone": "vit_gigantic_patch14_224"}, "cfg")
    assert validate_model_config({"backbone": "resnet18"})["backbone"] == "resnet18"


def test_deeply_nested_config_json_is_a_checkpoint_error(tmp_path):
    from afmatting.errors import CheckpointError
    from afmatting.hub import resolve_source

    (tmp_path / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CheckpointError, match="config.json"):
        resolve_source(str(tmp_path))


def test_int8_tensors_for_float_parameters_are_refused_naming_the_key(tmp_path, tiny_vit):
    import torch
    from safetensors.torch import save_file

    from afmatting.errors import CheckpointError
    from afmatting.hub import load_checkpoint

    state = {k: v.clone() for k, v in tiny_vit.state_dict().items()}
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key] = state[key].to(torch.int8)
    save_file(state, tmp_path / "w.safetensors")
    with pytest.raises(CheckpointError, match=key.replace(".", r"\.") + ".*int8"):
        load_checkpoint(tiny_vit, str(tmp_path / "w.safetensors"))


@pytest.mark.parametrize("batch_size", [0, -1, 1.5])
def test_predict_refuses_a_batch_size_below_one(tiny_vit, batch_size):
    from afmatting.inference import predict

    image = np.full((8, 8, 3), 0.5, np.float32)
    with pytest.raises(AFMattingError, match="batch_size"):
        predict(tiny_vit, [image, image], batch_size=batch_size, two_stage=False)


# ------------------------------------------------------------------ 7. the app caps a request's max_side
def test_app_caps_a_requests_max_side_server_side():
    from afmatting.app.config import MAX_REQUEST_SIDE, DemoConfig
    from afmatting.app.service import CONFIGURED, MattingService

    service = MattingService(DemoConfig(max_side=1024))
    assert service._max_side(10**9) == MAX_REQUEST_SIDE == 2048
    assert service._max_side(None) == MAX_REQUEST_SIDE  # "full resolution" from a visitor is capped too
    assert service._max_side(512) == 512 and service._max_side(CONFIGURED) == 1024
    assert MattingService(DemoConfig(max_side=None))._max_side(10**9) == 10**9  # the operator chose full size


# ------------------------------------------------------------------ 6. the band solver's memory is bounded
def test_stencil_is_the_same_whatever_the_window_chunk(monkeypatch, rng):
    from afmatting import laplacian

    image = rng.random((17, 23, 3))
    mask = rng.random((17, 23)) > 0.3
    whole = laplacian.laplacian_stencil(image, mask)
    monkeypatch.setattr(laplacian, "WINDOW_CHUNK", 7)  # many chunks, each a few windows
    np.testing.assert_allclose(laplacian.laplacian_stencil(image, mask), whole, atol=1e-12)
    np.testing.assert_allclose(laplacian.laplacian_stencil(image, mask, dtype=np.float32), whole, atol=1e-4)


def test_restricted_system_is_compact_float32_csr_with_its_diagonal(rng):
    from afmatting.laplacian import laplacian_stencil, restrict_to_unknown

    image = rng.random((15, 19, 3))
    unknown = np.zeros((15, 19), bool)
    unknown[4:11, 3:16] = True
    stencil = laplacian_stencil(image)
    exact, pull = restrict_to_unknown(stencil, unknown, np.zeros((15, 19)))
    compact, pull32 = restrict_to_unknown(stencil, unknown, np.zeros((15, 19)), dtype=np.float32)
    assert compact.dtype == np.float32 and compact.indices.dtype == np.int32 and compact.has_sorted_indices
    assert (compact.indptr[1:] - compact.indptr[:-1]).max() <= 25  # one entry per stencil offset at most
    np.testing.assert_allclose(compact.toarray(), exact.toarray(), atol=1e-6)
    np.testing.assert_array_equal(pull32, pull)
    diagonal_stored = compact.tocoo()
    assert ((diagonal_stored.row == diagonal_stored.col).sum()) == unknown.sum()


def test_refine_takes_a_per_pixel_prior_weight():
    from afmatting.refine import refine_alpha
    from tests.conftest import two_colour_case

    image, trimap, _ = two_colour_case()
    prior = np.full(trimap.shape, 0.3, np.float32)
    scalar = refine_alpha(image, trimap, prior, prior_weight=1e-3)
    np.testing.assert_allclose(refine_alpha(image, trimap, prior, prior_weight=np.full(trimap.shape, 1e-3)), scalar,
                               atol=1e-5)
    heavy = np.full(trimap.shape, 1e-3, np.float32)
    heavy[:, : trimap.shape[1] // 2] = 10.0  # the left half is held at the network's matte
    held = refine_alpha(image, trimap, prior, prior_weight=heavy)
    left = (trimap == 128) & (np.arange(trimap.shape[1]) < trimap.shape[1] // 2)[None, :]
    assert np.abs(held[left] - 0.3).max() < np.abs(scalar[left] - 0.3).max()
    with pytest.raises(AFMattingError, match="prior_weight"):
        refine_alpha(image, trimap, prior, prior_weight=np.full((3, 3), 1.0))


# ------------------------------------------------------------------ 9. the ONNX contract
def _onnx_graph(tmp_path, name, nodes, out_shape, *, in_shape=("B", 3, "H", "W"), output="alpha", **meta):
    """A hand-made ONNX file with afmatting metadata: one float input 'image' -> ``output`` through ``nodes``."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("image", TensorProto.FLOAT, list(in_shape))],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, list(out_shape))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    contract = {"format_version": "1", "config": '{"backbone": "resnet18", "trimap_input": false}',
                "trimap_input": "false", "size_multiple": "32", "precision": "fp32", **meta}
    for key, value in contract.items():
        model.metadata_props.add(key="afmatting." + key, value=value)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


def _mean_node(out="alpha"):
    from onnx import helper

    return helper.make_node("ReduceMean", ["image"], [out], axes=[1], keepdims=1)


@pytest.mark.parametrize("case, meta, match", [
    ("multiple", {"size_multiple": "abc"}, "size_multiple"),
    ("json", {"config": "{not json"}, "config.*JSON"),
    ("config", {"config": '{"backbone": 7}'}, "config"),
    ("precision", {"precision": "int4"}, "precision"),
])
def test_onnx_metadata_is_checked_at_load(tmp_path, case, meta, match):
    from afmatting.errors import OnnxModelError
    from afmatting.onnx_model import OnnxMattingModel

    path = _onnx_graph(tmp_path, case, [_mean_node()], ("B", 1, "H", "W"), **meta)
    with pytest.raises(OnnxModelError, match=match):
        OnnxMattingModel(path)


def test_onnx_graph_is_checked_at_load(tmp_path):
    from afmatting.errors import OnnxModelError
    from afmatting.onnx_model import OnnxMattingModel

    OnnxMattingModel(_onnx_graph(tmp_path, "good", [_mean_node()], ("B", 1, "H", "W")))  # the contract itself
    renamed = _onnx_graph(tmp_path, "renamed", [_mean_node("matte")], ("B", 1, "H", "W"), output="matte")
    with pytest.raises(OnnxModelError, match="'alpha'"):
        OnnxMattingModel(renamed)
    fixed = _onnx_graph(tmp_path, "fixed", [_mean_node()], (1, 1, 320, 320), in_shape=(1, 3, 320, 320))
    with pytest.raises(OnnxModelError, match="fixed size 320x320"):
        OnnxMattingModel(fixed)


def test_onnx_outputs_are_checked_at_run_time(tmp_path):
    import torch
    from onnx import helper, numpy_helper

    from afmatting.errors import ModelOutputError, OnnxModelError
    from afmatting.onnx_model import OnnxMattingModel

    free = ("N", "C", "h", "w")  # a graph that declares nothing about its output
    scale = numpy_helper.from_array(np.array(1000.0, np.float32), "scale")
    shift = numpy_helper.from_array(np.array(500.0, np.float32), "shift")
    graphs = {
        "three_channels": [helper.make_node("Identity", ["image"], ["alpha"])],
        "half_size": [_mean_node("m"), helper.make_node("AveragePool", ["m"], ["alpha"], kernel_shape=[2, 2],
                                                        strides=[2, 2])],
        "wide_range": [helper.make_node("Constant", [], ["scale"], value=scale),
                       helper.make_node("Constant", [], ["shift"], value=shift), _mean_node("m"),
                       helper.make_node("Mul", ["m", "scale"], ["big"]),
                       helper.make_node("Sub", ["big", "shift"], ["alpha"])],
        "nan": [helper.make_node("Log", ["image"], ["l"]), helper.make_node("ReduceMean", ["l"], ["alpha"], axes=[1],
                                                                            keepdims=1)],
    }
    image = torch.rand(1, 3, 16, 20)
    image[0, :, 0, 0] = -1.0  # log(-1) is NaN for the "nan" graph
    for name, nodes in graphs.items():
        # onnxruntime's shape inference may already show the break at load (three channels); else the run does
        with pytest.raises((OnnxModelError, ModelOutputError), match=f"{name}.onnx"):
            OnnxMattingModel(_onnx_graph(tmp_path, name, nodes, free))(image)


# ------------------------------------------------------------------ 10. export-onnx never overwrites in place
def test_export_onnx_refuses_existing_replaces_links_and_keeps_the_file_on_failure(tmp_path, tiny_cnn_trimap,
                                                                                   monkeypatch, capsys):
    import os

    import torch

    from afmatting.cli import main

    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    tiny_cnn_trimap.save_pretrained(tmp_path / "model")
    out = tmp_path / "m.onnx"
    out.write_bytes(b"precious")
    base = ["export-onnx", "--model", str(tmp_path / "model"), "--out", str(out), "--no-check"]
    assert main(base) == 2
    assert "already exists" in capsys.readouterr().err and out.read_bytes() == b"precious"

    victim = tmp_path / "victim.txt"
    victim.write_text("do not touch")
    link = tmp_path / "link.onnx"
    os.symlink(victim, link)
    assert main(["export-onnx", "--model", str(tmp_path / "model"), "--out", str(link), "--no-check",
                 "--overwrite"]) == 0
    assert victim.read_text() == "do not touch" and not link.is_symlink() and link.stat().st_size > 1000

    def failing_export(*args, **kwargs):
        raise RuntimeError("graph(%image : Float(...)) " + "x" * 200_000)  # a tracing failure printing the graph

    monkeypatch.setattr(torch.onnx, "export", failing_export)
    assert main(base + ["--overwrite"]) == 2
    err = capsys.readouterr().err
    assert len(err) < 1000 and "Cannot export" in err
    assert out.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.onnx", "m.onnx", "model", "victim.txt"]


def test_band_trimap_in_tiles_is_the_whole_image_result(monkeypatch, rng):
    from scipy import ndimage

    from afmatting import trimap as trimap_module

    subject = ndimage.binary_opening(rng.random((90, 130)) > 0.45, iterations=2)
    subject[:, 100:] = True  # a tile that is all subject
    subject[70:, :40] = False
    for band in (0.0, 2.5, 7.0):
        expected = np.full(subject.shape, 128, np.uint8)
        expected[ndimage.distance_transform_edt(subject) > band] = 255
        expected[ndimage.distance_transform_edt(~subject) > band] = 0
        monkeypatch.setattr(trimap_module, "BAND_TILE", 16)
        np.testing.assert_array_equal(trimap_module.band_trimap(subject, band), expected)


def test_band_trimap_with_a_narrow_band_is_the_two_bands_combined(monkeypatch, rng):
    """One pair of distance transforms with each pixel's own band (auto_trimap's wide and narrow bands) gives exactly
    the two separate band trimaps combined, in tiles too."""
    from scipy import ndimage

    from afmatting import trimap as trimap_module

    subject = ndimage.binary_opening(rng.random((90, 130)) > 0.45, iterations=2)
    subject[70:, :40] = False
    narrow = rng.random(subject.shape) > 0.5
    for wide, thin in ((7.0, 2.0), (4.0, 0.0), (2.0, 5.5)):
        expected = np.where(narrow, trimap_module.band_trimap(subject, thin), trimap_module.band_trimap(subject, wide))
        monkeypatch.setattr(trimap_module, "BAND_TILE", 16)
        got = trimap_module.band_trimap(subject, wide, narrow_band=thin, narrow=narrow)
        monkeypatch.setattr(trimap_module, "BAND_TILE", 1024)
        np.testing.assert_array_equal(got, expected)
    with pytest.raises(trimap_module.InvalidTrimapError, match="both narrow and narrow_band"):
        trimap_module.band_trimap(subject, 3.0, narrow=narrow)
    with pytest.raises(trimap_module.InvalidTrimapError, match="shape"):
        trimap_module.band_trimap(subject, 3.0, narrow_band=1.0, narrow=narrow[:5])


# ------------------------------------------------------------------ 14. resuming training with changed settings
@pytest.mark.e2e
def test_resume_with_changed_settings_is_refused_naming_them(tmp_path, capsys):
    from tests.conftest import ROOT, import_script

    train = import_script("train/train.py", "afm_train_resume_settings")
    common = ["--config", str(ROOT / "train" / "configs" / "smoke.yaml"), "--log_with", "none", "--max_steps", "2",
              "--checkpointing_steps", "2", "--validation_steps", "0", "--num_workers", "0",
              "--output_dir", str(tmp_path / "run")]
    assert train.run_from_command_line(common) == 0
    config_before = (tmp_path / "run" / "config.yaml").read_text()
    resume = common + ["--resume_from_checkpoint", "latest"]
    for changed, name in ((["--loss", "known"], "loss"), (["--learning_rate", "0.01"], "learning_rate"),
                          (["--backbone", "resnet34"], "backbone"), (["--fusion_widths", "[8, 8, 8, 8]"],
                                                                     "fusion_widths")):
        assert train.run_from_command_line(resume + changed) == 2
        err = capsys.readouterr().err
        assert f"different settings: {name} (" in err, err
    assert (tmp_path / "run" / "config.yaml").read_text() == config_before  # the run's record is untouched
    assert train.run_from_command_line(resume + ["--max_steps", "2", "--log_steps", "1"]) == 0  # logging may change


# ------------------------------------------------------------------ also seen: training on all-unknown trimaps
def test_all_unknown_training_trimaps_are_counted_and_warned_about(caplog):
    import logging

    import torch

    from tests.conftest import import_script

    from accelerate import PartialState

    PartialState()  # the training script's logger needs accelerate's state, as in a run
    train = import_script("train/train.py", "afm_train_all_unknown")
    batch = torch.full((3, 1, 8, 8), 0.5)
    batch[1, 0, 0, 0] = 1.0  # one crop has a known pixel
    with caplog.at_level(logging.WARNING):
        assert train.count_all_unknown(batch, 0, step=7) == 2
        assert train.count_all_unknown(batch, 2, step=8) == 2  # counted again, warned once
    warnings = [r.getMessage() for r in caplog.records if "unknown everywhere" in r.getMessage()]
    assert len(warnings) == 1 and "2 of 3" in warnings[0] and "step 7" in warnings[0]
