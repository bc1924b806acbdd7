"""The Gradio app: its handlers called directly, then the served app driven through /matte with gradio_client."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

gr = pytest.importorskip("gradio")

from afmatting import AFMatting  # noqa: E402
from afmatting import bundled  # noqa: E402
from afmatting.app import (  # noqa: E402
    ASSETS_DIR,
    AUTO,
    BRUSH_COLOURS,
    DEFAULT_MAX_PIXELS,
    EXAMPLES,
    NO_MODEL_MESSAGE,
    DemoConfig,
    Handlers,
    MattingService,
    build_demo,
    build_parser,
    launch_kwargs,
    main,
    brush_radius,
    painted_trimap,
    parse_colour,
    tinted_photo,
    trimap_from_layers,
    trimap_from_matte,
)
from afmatting.errors import AFMattingError  # noqa: E402
from afmatting.trimap import load_trimap, mask_to_trimap  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CAT = ASSETS_DIR / "cat.jpg"
FG, UNK, BG = BRUSH_COLOURS


def _tiny(trimap_input: bool) -> AFMatting:
    torch.manual_seed(0)
    return AFMatting(backbone="test_vit", trimap_input=trimap_input,
                     fusion_widths=(32, 16, 16, 8), detail_widths=(8, 16, 16)).eval()


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory):
    """Tiny random-weight checkpoints on disk, as a user would pass them to --model."""
    root = tmp_path_factory.mktemp("app_models")
    _tiny(False).save_pretrained(root / "free")
    _tiny(True).save_pretrained(root / "trimap")
    return {"free": str(root / "free"), "trimap": str(root / "trimap")}


@pytest.fixture(scope="session")
def files(tmp_path_factory):
    """A photo, a matching trimap, and the bad uploads."""
    d = tmp_path_factory.mktemp("app_files")
    photo = d / "photo.png"
    img = np.asarray(Image.open(CAT).convert("RGB"))
    Image.fromarray(img[:96, :128]).save(photo)
    mask = np.zeros((96, 128), bool)
    mask[20:76, 30:100] = True
    trimap = d / "photo_trimap.png"
    Image.fromarray(mask_to_trimap(mask, band=6)).save(trimap)
    wrong = d / "wrong_size_trimap.png"
    Image.fromarray(np.full((50, 60), 128, np.uint8)).save(wrong)
    text = d / "notes.png"  # an image extension but not an image
    text.write_text("this is not an image\n")
    huge = d / "huge.png"  # just over the limit; all zeros compresses to a small file
    w = 8000
    Image.new("L", (w, DEFAULT_MAX_PIXELS // w + 100)).save(huge, compress_level=1)
    return {"photo": str(photo), "trimap": str(trimap), "wrong_trimap": str(wrong), "text": str(text),
            "huge": str(huge)}


@pytest.fixture(scope="session")
def service(model_dirs):
    s = MattingService(DemoConfig(model=model_dirs["free"], trimap_model=model_dirs["trimap"]))
    s.store.setup()
    return s


@pytest.fixture
def no_bundled(monkeypatch, tmp_path):
    """The state of a fresh checkout before the weights ship: an empty bundled-weights folder."""
    monkeypatch.setattr(bundled, "WEIGHTS_DIR", tmp_path / "no-weights")


# ---------------------------------------------------------------------------------------------------------------
# pure helpers
# ---------------------------------------------------------------------------------------------------------------


def _layer(h, w, strokes):
    """An RGBA layer with rectangles ((y0, y1, x0, x1), '#rrggbb', opacity 0..255) painted on it."""
    a = np.zeros((h, w, 4), np.uint8)
    for (y0, y1, x0, x1), colour, opacity in strokes:
        a[y0:y1, x0:x1, :3] = parse_colour(colour)
        a[y0:y1, x0:x1, 3] = opacity
    return a


def test_painted_layers_become_a_trimap():
    layer = _layer(20, 30, [((0, 5, 0, 30), FG, 255), ((5, 10, 0, 30), UNK, 255), ((10, 15, 0, 30), BG, 255),
                            ((15, 20, 0, 10), FG, 30)])  # a faint anti-aliased rim is not paint
    t = trimap_from_layers([layer], (20, 30), unpainted="unknown")
    assert t.dtype == np.uint8 and t.shape == (20, 30)
    assert (t[:5] == 255).all() and (t[5:10] == 128).all() and (t[10:15] == 0).all()
    assert (t[15:] == 128).all()  # unpainted (and the faint rim) -> unknown
    t = trimap_from_layers([layer], (20, 30), unpainted="background")
    assert (t[15:] == 0).all() and (t[:5] == 255).all()


def test_painted_colours_snap_to_the_nearest_brush_and_upper_layers_win():
    # a slightly off green (the canvas may blend edges) is still foreground
    lower = _layer(10, 10, [((0, 10, 0, 10), "#30c060", 255)])
    upper = _layer(10, 10, [((0, 5, 0, 10), BG, 255)])
    t = trimap_from_layers([lower, upper], (10, 10))
    assert (t[:5] == 0).all() and (t[5:] == 255).all()


def test_painted_layers_of_another_size_are_scaled_and_empty_layers_give_none():
    layer = _layer(10, 10, [((0, 5, 0, 10), FG, 255)])
    t = trimap_from_layers([Image.fromarray(layer)], (40, 40))
    assert t.shape == (40, 40) and (t[:20] == 255).all() and (t[20:] == 0).all()
    assert trimap_from_layers([np.zeros((10, 10, 4), np.uint8)], (10, 10)) is None
    assert trimap_from_layers([], (10, 10)) is None


def test_colour_picker_values():
    assert parse_colour("#ff8000") == (255, 128, 0)
    assert parse_colour("#fff") == (255, 255, 255)
    assert parse_colour("rgba(10, 20, 30, 1)") == (10, 20, 30)
    assert parse_colour("rgb(10.4, 20.6, 30)") == (10, 21, 30)
    assert parse_colour(None) == (255, 255, 255)
    with pytest.raises(ValueError, match="colour"):
        parse_colour("not-a-colour")


def test_examples_ship_small_and_licensed_with_a_trimap():
    licences = (ASSETS_DIR / "LICENSES.md").read_text()
    assert any(trimap for _, trimap in EXAMPLES)  # at least one example comes with its trimap
    for photo, trimap in EXAMPLES:
        im = Image.open(ASSETS_DIR / photo)
        assert max(im.size) <= 800
        assert photo in licences
        if trimap:
            assert trimap in licences
            t = load_trimap(ASSETS_DIR / trimap, (im.height, im.width))
            assert set(np.unique(t)) == {0, 128, 255}


def test_painter_trimap_is_the_library_automatic_trimap():
    from afmatting.auto_trimap import auto_trimap

    matte = np.zeros((100, 200), np.float32)
    matte[30:70, 50:150] = 1.0
    matte[10, 10] = 0.5  # an uncertain pixel far from the subject
    t = trimap_from_matte(matte)
    assert t.dtype == np.uint8 and set(np.unique(t)) == {0, 128, 255}
    assert t[50, 100] == 255 and t[90, 10] == 0 and t[10, 10] == 128
    np.testing.assert_array_equal(t, auto_trimap(matte))

def test_painter_strokes_correct_a_base_trimap_and_erasing_restores_it():
    base = np.full((20, 30), 128, np.uint8)
    base[:, :10] = 0
    base[:, 20:] = 255
    strokes = _layer(20, 30, [((0, 5, 0, 30), FG, 255), ((15, 20, 0, 30), BG, 255)])
    t = painted_trimap([strokes], (20, 30), base)
    assert (t[:5] == 255).all() and (t[15:] == 0).all()
    np.testing.assert_array_equal(t[5:15], base[5:15])  # unpainted pixels keep the base label
    erased = strokes.copy()
    erased[:5, :, 3] = 0  # the eraser clears the stroke's opacity
    np.testing.assert_array_equal(painted_trimap([erased], (20, 30), base)[:15], base[:15])
    # what an eraser leaves along a stroke's edge (a dotted 1-px line of half-erased pixels) is not paint
    erased[5, ::2, 3] = 200
    np.testing.assert_array_equal(painted_trimap([erased], (20, 30), base)[:15], base[:15])
    np.testing.assert_array_equal(painted_trimap([], (20, 30), base), base)


def test_painter_pictures():
    assert brush_radius(1000, 600) == 40 and brush_radius(40, 30) >= 3
    photo = np.full((4, 6, 3), 0.5, np.float32)
    trimap = np.array([[0] * 6, [128] * 6, [255] * 6, [0] * 6], np.uint8)
    tinted = np.asarray(tinted_photo(photo, trimap))
    assert tinted.shape == (4, 6, 3) and tinted.dtype == np.uint8
    # each class leans towards its brush colour: background red, unknown blue, foreground green
    assert tinted[0, 0].argmax() == 0 and tinted[1, 0].argmax() == 2 and tinted[2, 0].argmax() == 1


def test_guess_previews_show_each_subject_bright_at_thumbnail_size(tmp_path):
    from afmatting.app.painter import guess_previews

    photo = np.full((200, 400, 3), 200, np.uint8)
    path = tmp_path / "wide.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: shown rotated, as load_image reads it
    Image.fromarray(photo).save(path, exif=exif)
    left = np.zeros((400, 200), np.uint8)
    left[:200] = 255                                   # the subject: the top half of the upright photo
    whole = np.ones((400, 200), np.float32)
    top, everything = guess_previews(path, [left, whole], side=96)
    top, everything = np.asarray(top).astype(int), np.asarray(everything).astype(int)
    assert top.shape == (96, 48, 3) and everything.shape == (96, 48, 3)  # upright, long side 96
    assert abs(top[20, 24, 0] - 200) <= 3 and top[80, 24, 0] < 110       # outside the subject: dimmed
    assert abs(everything[80, 24, 0] - 200) <= 3


# ---------------------------------------------------------------------------------------------------------------
# handlers, called directly
# ---------------------------------------------------------------------------------------------------------------


def test_api_handler_returns_png_alpha_and_cutout_from_the_shared_pipeline(service, model_dirs, files):
    alpha_path, cutout_path = Handlers(service).api(files["photo"], None)
    alpha, cutout = Image.open(alpha_path), Image.open(cutout_path)
    assert alpha.format == "PNG" and cutout.format == "PNG"
    assert alpha.mode == "L" and cutout.mode == "RGBA"
    assert alpha.size == cutout.size == (128, 96)
    # the same numbers as the library's predict() (one pipeline for CLI, app and Python API)
    expected = AFMatting.from_pretrained(model_dirs["free"]).predict(files["photo"])
    np.testing.assert_array_equal(np.asarray(alpha), np.asarray(expected.alpha_image()))
    np.testing.assert_array_equal(np.asarray(cutout)[..., 3], np.asarray(alpha))


def test_api_handler_with_a_trimap_uses_the_trimap_model_and_keeps_known_pixels(service, files):
    alpha_path, _ = Handlers(service).api(files["photo"], files["trimap"])
    alpha = np.asarray(Image.open(alpha_path))
    trimap = np.asarray(Image.open(files["trimap"]))
    assert alpha.shape == trimap.shape
    assert (alpha[trimap == 0] == 0).all() and (alpha[trimap == 255] == 255).all()
    unknown = alpha[trimap == 128]
    assert ((unknown > 0) & (unknown < 255)).any()  # the network filled the unknown band


def _matte(h, files, editor=None, base=None, model=AUTO, refine=True, clicks=None, kind=None, colour="#fff"):
    """The Matte handler with the UI's arguments, at network size 512."""
    return h.matte(files["photo"], model, editor, base, kind, colour, None, 512, refine, clicks)


def test_ui_handler_strokes_need_a_matte_first(service, files):
    """Strokes correct a result: without one there is nothing to correct (never 'unpainted = background')."""
    layer = _layer(96, 128, [((30, 60, 40, 90), FG, 255)])
    with pytest.raises(gr.Error, match="Press Matte first"):
        _matte(Handlers(service), files, {"layers": [layer]})


def test_matte_fills_the_painter_with_its_trimap_and_corrections_change_only_where_painted(service, files):
    h = Handlers(service)
    out = _matte(h, files)
    result, editor, base, painter_box = out[7], out[8], out[9], out[10]
    assert painter_box["visible"] is True and base["source"] == "matte"
    # the painter starts from the automatic trimap of the very path Matte ran (here a network alone: of its matte)
    np.testing.assert_array_equal(base["trimap"], trimap_from_matte(result.alpha))
    shown = Image.open(editor["value"]["background"])
    assert shown.size == (128, 96) and editor["value"]["layers"] == []
    assert editor["brush"].default_size == editor["eraser"].default_size == brush_radius(128, 96)
    np.testing.assert_array_equal(np.asarray(shown), np.asarray(tinted_photo(service.read_photo(files["photo"]),
                                                                             base["trimap"])))
    # a correction: paint a block as foreground, another as background; the trimap changes there and only there
    strokes = _layer(96, 128, [((10, 30, 10, 40), FG, 255), ((60, 90, 80, 120), BG, 255)])
    out = _matte(h, files, {"layers": [strokes]}, base)
    corrected = out[7]
    assert out[8] is gr.skip() or out[8] == gr.skip()  # the strokes stay on the painter, over the same base
    assert (corrected.trimap[10:30, 10:40] == 255).all() and (corrected.alpha[10:30, 10:40] == 1).all()
    assert (corrected.trimap[60:90, 80:120] == 0).all() and (corrected.alpha[60:90, 80:120] == 0).all()
    untouched = np.ones((96, 128), bool)
    untouched[10:30, 10:40] = untouched[60:90, 80:120] = False
    np.testing.assert_array_equal(corrected.trimap[untouched], base["trimap"][untouched])
    # erasing the strokes gives the automatic labels back
    erased = strokes.copy()
    erased[..., 3] = 0
    again = _matte(h, files, {"layers": [erased]}, base)
    np.testing.assert_array_equal(again[9]["trimap"], base["trimap"])
    np.testing.assert_array_equal(again[7].alpha, result.alpha)


def test_uploaded_trimap_goes_into_the_painter_and_a_new_photo_clears_it(service, files):
    h = Handlers(service)
    editor, base = h.uploaded_trimap(files["photo"], files["trimap"])
    np.testing.assert_array_equal(base["trimap"], load_trimap(files["trimap"]))
    assert base["source"] == "upload"
    assert Image.open(editor["value"]["background"]).size == (128, 96)
    # Matte uses the uploaded trimap (unpainted)
    np.testing.assert_array_equal(_matte(h, files, {"layers": []}, base)[7].trimap, base["trimap"])
    with pytest.raises(gr.Error, match="same size"):
        h.uploaded_trimap(files["photo"], files["wrong_trimap"])
    with pytest.raises(gr.Error, match="Upload the photo first"):
        h.uploaded_trimap(None, files["trimap"])
    _, selection, select_box, clicks, _, editor, base, trimap_file, painter_box = h.new_photo(files["photo"])
    assert base is None and trimap_file is None and clicks == [] and painter_box["visible"] is False
    assert editor["value"]["background"] == files["photo"] and selection == files["photo"]
    assert select_box["visible"] is True


def test_progress_reports_real_stages(service, files):
    """A fake progress callback records what a client's progress bar shows (gr.Progress gets the same calls)."""
    events = []
    service.matte(files["photo"], load_trimap(files["trimap"]), max_side=512,
                  progress=lambda fraction, stage: events.append((fraction, stage)))
    stages = [stage for _, stage in events]
    fractions = [fraction for fraction, _ in events]
    assert fractions == sorted(fractions) and 0.0 <= fractions[0] and fractions[-1] <= 1.0
    assert stages[0] == "Reading the photo" and "Running the network" in stages
    refining = [f for f, s in events if s.startswith("Refining the edges")]
    assert len(refining) >= 3 and refining[-1] > refining[0]  # start, each refinement level, end
    assert "Estimating the foreground colours" in stages and stages[-1] == "Writing the results"
    # the handler passes them to a gr.Progress-like callable as (fraction, desc=...)
    seen = []
    base = {"trimap": load_trimap(files["trimap"]), "source": "upload"}
    Handlers(service).matte(files["photo"], AUTO, None, base, None, "#fff", None, 512,
                            progress=lambda fraction, desc=None: seen.append(desc))
    assert seen == stages


def test_ui_handler_without_trimap_and_recomposite(service, files):
    h = Handlers(service)
    out = _matte(h, files)
    result = out[7]
    assert out[3]["visible"] is False and out[6]["interactive"] is False  # no background asked for: none made
    assert Image.open(out[0]).mode == "RGBA"  # the first view is the transparent cut-out
    composite, download = h.background(result, "Colour", "rgba(255, 0, 0, 1)", None)
    assert composite["visible"] is True and download["interactive"] is True
    red = np.asarray(Image.open(composite["value"])).astype(float)
    a = result.alpha[..., None]
    expected = a * result.foreground * 255 + (1 - a) * np.array([255, 0, 0])
    assert np.abs(red - expected).max() <= 1.0
    # a background photo instead of a colour (the colour is not used: one choice at a time)
    composite, _ = h.background(result, "Photo", "#ff0000", str(CAT))
    assert Image.open(composite["value"]).size == (128, 96)
    with pytest.raises(gr.Error, match="Choose a background photo"):
        h.background(result, "Photo", "#ff0000", None)
    # a colour chosen before matting is used by the next matte
    out = _matte(h, files, kind="Colour", colour="#00ff00")
    assert out[3]["visible"] is True and out[6]["interactive"] is True


@pytest.mark.parametrize("case, match", [
    ("text", "not a photo this app can read"),
    ("huge", "too large"),
    ("wrong_trimap", "same size"),
    ("missing", "Upload a photo"),
])
def test_bad_uploads_give_clear_errors(service, files, case, match):
    h = Handlers(service)
    args = {
        "text": (files["text"], None),
        "huge": (files["huge"], None),
        "wrong_trimap": (files["photo"], files["wrong_trimap"]),
        "missing": (None, None),
    }[case]
    with pytest.raises(gr.Error, match=match) as info:
        h.api(*args)
    assert "/tmp/" not in info.value.message  # upload folders are not shown to the user


class _Select:
    """What Gradio passes to a select handler: the clicked pixel of the shown image."""

    def __init__(self, x, y):
        self.index = [x, y]


def test_clicks_select_the_subject_and_matte_it(service, files):
    pytest.importorskip("onnxruntime")
    h = Handlers(service)
    preview, clicks, note = h.click(files["photo"], [], "Subject", _Select(64, 48))
    assert clicks == [(64, 48, 1)] and "1 click on the subject" in note
    assert Image.open(preview).size == (128, 96)  # the photo's pixels: a click lands where it is shown
    preview, clicks, note = h.click(files["photo"], clicks, "Not the subject", _Select(2, 2))
    assert clicks == [(64, 48, 1), (2, 2, 0)] and "1 off it" in note
    seen = []
    out = h.matte(files["photo"], AUTO, None, None, None, "#fff", None, 512, True, clicks,
                  progress=lambda fraction, desc=None: seen.append((fraction, desc)))
    result = out[7]
    assert np.all(np.diff([f for f, _ in seen]) > -1e-9)  # one bar, moving forward through the real stages
    stages = [d for _, d in seen]
    assert "Selecting the subject you clicked" in stages and "Matting the edges of your selection" in stages
    np.testing.assert_array_equal(result.extra["prompt_mask"], service.prompt_mask(files["photo"], clicks))
    assert out[9]["trimap"] is result.trimap and "2 clicks" in out[11]  # the brushes start from this trimap
    _, clicks, _ = h.undo_click(files["photo"], clicks)
    assert clicks == [(64, 48, 1)]
    with pytest.raises(gr.Error, match="Upload a photo first"):
        h.click(None, [], "Subject", _Select(1, 1))


def test_odd_photos_are_refused_at_upload(service, files, tmp_path):
    h = Handlers(service)
    tiny = tmp_path / "dot.png"
    Image.new("RGB", (1, 1)).save(tiny)
    for path, words in ((tiny, "too small"), (files["huge"], "megapixels")):
        out = h.new_photo(str(path))  # gr.Warning shows the reason (outside a request it only logs)
        assert out[0] is None and out[2]["visible"] is False  # the photo is removed, nothing else shows it
        with pytest.raises(AFMattingError, match=words):
            service.check_photo(str(path))
    # a file that is not an image: the upload itself answers with a sentence, without server paths
    from afmatting.app.ui import photo_input
    from gradio.data_classes import FileData

    component = photo_input(service.config.max_pixels, type="filepath")
    with pytest.raises(gr.Error, match="not a photo this app can read") as info:
        component.preprocess(FileData(path=files["text"], orig_name="notes.png"))
    assert "/tmp" not in info.value.message and "preprocess" not in info.value.message
    with pytest.raises(gr.Error, match="megapixels"):
        component.preprocess(FileData(path=files["huge"], orig_name="huge.png"))
    assert component.get_block_name() == "image"


def test_unexpected_errors_are_reported_without_details():
    from afmatting.app.ui import user_errors

    with pytest.raises(gr.Error) as info:
        with user_errors():
            raise KeyError("/srv/secret/path.py")
    assert "/srv" not in info.value.message and "KeyError" not in info.value.message


def test_model_choice_checks_trimap_kind(service, model_dirs, files):
    h = Handlers(service)
    base = {"trimap": load_trimap(files["trimap"]), "source": "upload"}
    with pytest.raises(gr.Error, match="needs a trimap"):
        _matte(h, files, model=model_dirs["trimap"])
    with pytest.raises(gr.Error, match="trimap-free"):
        _matte(h, files, base=base, model=model_dirs["free"])
    assert _matte(h, files, base=base, model=model_dirs["trimap"])[7].trimap is not None


def test_refine_checkbox(service, model_dirs, files):
    h = Handlers(service)
    trimap = load_trimap(files["trimap"])
    base = {"trimap": trimap, "source": "upload"}
    plain = _matte(h, files, base=base, model=model_dirs["trimap"], refine=False)[7]
    refined = _matte(h, files, base=base, model=model_dirs["trimap"], refine=True)[7]
    assert refined.extra["refined"] is True and "refined" not in plain.extra
    assert np.abs(refined.alpha - plain.alpha).max() > 1e-4
    # the network-only matte is predict(refine=False)'s
    expected = service.store.load(model_dirs["trimap"]).predict(files["photo"], trimap=trimap, max_side=512,
                                                                refine=False)
    np.testing.assert_array_equal(plain.alpha, expected.alpha)
    # refined in stages (for progress), the matte is still predict()'s with its default refinement
    expected = service.store.load(model_dirs["trimap"]).predict(files["photo"], trimap=trimap, max_side=512)
    np.testing.assert_array_equal(refined.alpha, expected.alpha)
    # without a trimap the checkbox changes nothing
    free = [_matte(h, files, refine=r)[7].alpha for r in (False, True)]
    np.testing.assert_array_equal(*free)


def test_typed_models_are_refused_unless_opted_in(service, files, model_dirs, tmp_path, monkeypatch, tiny_vit):
    other = tmp_path / "someone-elses-model"
    tiny_vit.save_pretrained(other)
    for typed in (str(other), "someone/huge-matting-model"):
        with pytest.raises(gr.Error, match="not one of the models this app offers"):
            Handlers(service).matte(files["photo"], typed, None, None, None, "#fff", None, 512)
        assert typed not in service.store._models  # refused before loading anything
    monkeypatch.delenv("AFMATTING_ALLOW_CUSTOM_MODELS", raising=False)
    assert DemoConfig().allow_custom_models is False and DemoConfig.from_env().allow_custom_models is False
    monkeypatch.setenv("AFMATTING_ALLOW_CUSTOM_MODELS", "1")
    assert DemoConfig.from_env().allow_custom_models is True
    assert build_parser().parse_args(["--allow-custom-models"]).allow_custom_models is True
    opted_in = MattingService(DemoConfig(model=model_dirs["free"], allow_custom_models=True))
    opted_in.store.setup()
    out = Handlers(opted_in).matte(files["photo"], str(other), None, None, None, "#fff", None, 512)
    assert out[7].alpha.shape == (96, 128)


def test_unknown_hub_id_offline_gives_a_clear_message(model_dirs, files, monkeypatch):
    from huggingface_hub import constants

    service = MattingService(DemoConfig(model=model_dirs["free"], trimap_model=model_dirs["trimap"],
                                        allow_custom_models=True))
    service.store.setup()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    def no_network(*args, **kwargs):
        raise AssertionError("an offline app must answer at once, without trying the network")

    # no download is attempted (huggingface_hub would retry for ~30 s) and no connection is opened
    monkeypatch.setattr("afmatting.hub.hf_hub_download", no_network)
    monkeypatch.setattr("socket.create_connection", no_network)
    with pytest.raises(gr.Error, match="(?s)Hub.*unreachable"):
        Handlers(service).matte(files["photo"], "someone/some-matting-model", None, None, None, "#fff",
                                None, 512)
    with pytest.raises(gr.Error, match="does not exist"):
        Handlers(service).matte(files["photo"], "./no/such/model", None, None, None, "#fff", None, 512)


def test_no_model_installed_starts_and_explains(no_bundled, files, monkeypatch):
    monkeypatch.delenv("AFMATTING_MODEL", raising=False)
    monkeypatch.delenv("AFMATTING_TRIMAP_MODEL", raising=False)
    demo = build_demo(DemoConfig.from_env())
    store = demo.afm_service.store
    assert not store.any_model
    assert NO_MODEL_MESSAGE in store.status_markdown()
    with pytest.raises(gr.Error, match="No matting model is available"):
        Handlers(demo.afm_service).api(files["photo"], None)


def test_only_a_trimap_model_asks_for_a_trimap(no_bundled, model_dirs, files):
    s = MattingService(DemoConfig(model=model_dirs["trimap"]))
    s.store.setup()
    assert s.store.trimap_model == model_dirs["trimap"] and s.store.image_model is None
    with pytest.raises(gr.Error, match="needs a trimap"):
        Handlers(s).api(files["photo"], None)
    assert Image.open(Handlers(s).api(files["photo"], files["trimap"])[0]).size == (128, 96)


def test_bad_model_on_the_command_line_fails_at_startup(capsys):
    assert main(["--model", "./no/such/model/dir"]) == 2
    assert "does not exist" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------------------------
# the served app, through gradio_client
# ---------------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(model_dirs):
    cfg = DemoConfig(model=model_dirs["free"], trimap_model=model_dirs["trimap"])
    demo = build_demo(cfg)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                            **launch_kwargs(cfg))
    yield url
    demo.close()


@pytest.fixture(scope="module")
def client(served):
    from gradio_client import Client

    return Client(served, verbose=False)


@pytest.mark.e2e
def test_client_matte_without_and_with_trimap(client, files):
    from gradio_client import handle_file

    alpha_path, cutout_path = client.predict(handle_file(files["photo"]), None, api_name="/matte")
    alpha, cutout = Image.open(alpha_path), Image.open(cutout_path)
    assert (alpha.format, alpha.mode, alpha.size) == ("PNG", "L", (128, 96))
    assert (cutout.format, cutout.mode, cutout.size) == ("PNG", "RGBA", (128, 96))

    alpha_path, _ = client.predict(handle_file(files["photo"]), handle_file(files["trimap"]), api_name="/matte")
    alpha = np.asarray(Image.open(alpha_path))
    trimap = np.asarray(Image.open(files["trimap"]))
    assert (alpha[trimap == 0] == 0).all() and (alpha[trimap == 255] == 255).all()


@pytest.mark.e2e
def test_client_matte_with_every_option(client, service, model_dirs, files):
    from gradio_client import handle_file

    photo, trimap = handle_file(files["photo"]), handle_file(files["trimap"])
    tri = load_trimap(files["trimap"])

    def alpha_of(*args, **kwargs):
        paths = client.predict(*args, api_name="/matte", **kwargs)
        assert len(paths) == 2
        return np.asarray(Image.open(paths[0])), paths[1]

    # refine on (the default) / off, by keyword
    refined, _ = alpha_of(photo, trimap)
    plain, _ = alpha_of(photo, trimap, refine=False)
    assert np.abs(refined.astype(int) - plain).max() > 0
    expected = service.store.load(model_dirs["trimap"]).predict(files["photo"], trimap=tri, refine=False)
    np.testing.assert_array_equal(plain, np.asarray(expected.alpha_image()))
    # max_side: the network's resolution changes the matte, the output keeps the photo's size
    small, _ = alpha_of(photo, None, max_side=64)
    expected = service.store.load(model_dirs["free"]).predict(files["photo"], max_side=64)
    np.testing.assert_array_equal(small, np.asarray(expected.alpha_image()))
    # model: a model by name (here: the trimap-free folder) and a clear error for a trimap model without a trimap
    named, _ = alpha_of(photo, None, model=model_dirs["free"], max_side=64)
    np.testing.assert_array_equal(named, small)
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="needs a trimap"):
        client.predict(photo, None, model=model_dirs["trimap"], api_name="/matte")
    # background: the second file is the subject on that colour (RGB), not the transparent cut-out
    alpha, composite_path = alpha_of(photo, trimap, background="#ff0000")
    composite = Image.open(composite_path)
    assert (composite.mode, composite.size) == ("RGB", (128, 96))
    assert (np.asarray(composite)[tri == 0] == (255, 0, 0)).all()
    with pytest.raises(AppError, match="Unknown background colour"):
        client.predict(photo, None, background="no-such-colour", api_name="/matte")
    # all of them positionally, in the documented order
    alpha, _ = alpha_of(photo, trimap, False, 64, "auto", "")
    expected = service.store.load(model_dirs["trimap"]).predict(files["photo"], trimap=tri, max_side=64, refine=False)
    np.testing.assert_array_equal(alpha, np.asarray(expected.alpha_image()))


@pytest.mark.e2e
def test_readme_client_snippet_runs(served, files, tmp_path):
    """The gradio_client snippet of space/README.md, run against the served app (Space id -> local URL)."""
    import re

    readme = (ROOT / "space" / "README.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    snippet = snippet.replace('"USER/SPACE_NAME"', repr(served)).replace('"photo.jpg"', repr(files["photo"]))
    snippet = snippet.replace('"photo_trimap.png"', repr(files["trimap"]))
    namespace = {}
    exec(compile(snippet, "space/README.md", "exec"), namespace)  # noqa: S102  (our own documentation)
    assert Image.open(namespace["alpha_png"]).size == (128, 96)
    assert Image.open(namespace["cutout_png"]).mode == "RGBA"
    assert Image.open(namespace["composite_png"]).mode == "RGB"


@pytest.mark.e2e
def test_client_bad_uploads_are_reported_and_the_app_keeps_serving(client, files):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    for args, match in [
        ((files["text"], None), "not a photo this app can read"),
        ((files["huge"], None), "too large"),
        ((files["photo"], files["wrong_trimap"]), "same size"),
    ]:
        with pytest.raises(AppError, match=match):
            client.predict(*(handle_file(a) if a else None for a in args), api_name="/matte")
        # the next good request is served
        alpha_path, _ = client.predict(handle_file(files["photo"]), None, api_name="/matte")
        assert Image.open(alpha_path).size == (128, 96)


def _stage_space(tmp_path) -> Path:
    """The folder space/deploy.sh would upload."""
    out = subprocess.run(["bash", str(ROOT / "space" / "deploy.sh"), "someone/afmatting", "--dry-run"],
                         capture_output=True, text=True, check=True)
    stage = Path(out.stdout.strip().splitlines()[-1])
    dest = tmp_path / "space"
    shutil.move(str(stage), dest)
    return dest


@pytest.mark.e2e
def test_space_folder_is_complete(tmp_path):
    import yaml

    stage = _stage_space(tmp_path)
    meta = yaml.safe_load((stage / "README.md").read_text().split("---")[1])
    assert meta["sdk"] == "gradio" and (stage / meta["app_file"]).is_file()
    assert meta["sdk_version"].split(".")[0] == gr.__version__.split(".")[0]
    assert (stage / "afmatting" / "app" / "ui.py").is_file() and (stage / "afmatting" / "assets" / "cat.jpg").is_file()
    assert not list(stage.rglob("__pycache__"))
    # the Space's entry reuses the package's app rather than copying it
    assert "from afmatting.app import main" in (stage / "app.py").read_text()
    requirements = [ln for ln in (stage / "requirements.txt").read_text().splitlines() if ln and ln[0] != "#"]
    assert any(r.startswith("torch==") for r in requirements) and not any(r.startswith("afmatting") for r in requirements)


def _requirements(path: Path) -> tuple[list[str], dict[str, str]]:
    """(pip options, {distribution name: version pin}) of a requirements file; refuses unpinned lines."""
    options, pins = [], {}
    for line in path.read_text().splitlines():
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            options.append(line)
            continue
        name, sep, version = line.partition("==")
        assert sep, f"{line!r} is not pinned with =="
        pins[name.strip().lower().replace("_", "-")] = version.strip()
    return options, pins


def test_space_requirements_are_pinned_cpu_only_and_match_the_tested_versions():
    from importlib.metadata import version

    options, pins = _requirements(ROOT / "space" / "requirements.txt")
    # torch and torchvision from the CPU wheel index, as CPU builds; nothing CUDA-specific anywhere
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in options
    assert not any("cu1" in o or "cuda" in o for o in options)
    assert pins["torch"].endswith("+cpu") and pins["torchvision"].endswith("+cpu")
    assert not any(n.startswith(("nvidia-", "cuda-", "triton")) or "cu1" in v for n, v in pins.items())
    # lean: the inference path only (no training stack, no gradio: the Space's sdk_version brings it)
    assert not {"gradio", "datasets", "accelerate", "tensorboard", "afmatting"} & set(pins)
    # the pins are the versions installed here (the ones the tests ran with), local build labels aside
    for name, pinned in pins.items():
        assert version(name).split("+")[0] == pinned.split("+")[0], name


@pytest.mark.e2e
@pytest.mark.parametrize("entry", ["app.py", "space"])
def test_served_from_the_command_line(entry, model_dirs, files, tmp_path):
    """`python app.py` as a user runs it (and the Space's app.py in the uploaded layout): host and port from
    GRADIO_SERVER_*, the model from AFMATTING_MODEL."""
    from gradio_client import Client, handle_file

    if entry == "space":
        cwd = _stage_space(tmp_path)
        script = cwd / "app.py"
    else:
        cwd, script = tmp_path, ROOT / "app.py"
    port = free_port()
    env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port),
               AFMATTING_MODEL=model_dirs["free"], GRADIO_ANALYTICS_ENABLED="False")
    log_path = tmp_path / "app.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, str(script)], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 300  # a loaded 2-core machine imports torch + gradio slowly
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    assert proc.poll() is None, log_path.read_text()
                    assert time.time() < deadline, "the app did not start in 300 s"
                    time.sleep(0.5)
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            alpha_path, _ = client.predict(handle_file(files["photo"]), None, api_name="/matte")
            assert Image.open(alpha_path).size == (128, 96)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.mark.slow
def test_a_wrong_automatic_subject_is_fixed_by_starting_from_one_networks_guess():
    """GT15: the networks' vote keeps part of the backdrop; one click on the portrait network's guess fixes it."""
    pytest.importorskip("onnxruntime")
    from afmatting.app.ui import AUTOMATIC
    from afmatting.bundled import available_bundled_models
    from afmatting.data import read_alpha

    from .conftest import shared_path

    if len(available_bundled_models()) < 2:
        pytest.skip("the bundled models are not installed")
    photo = str(shared_path("alphamatting", "image", "GT15.png"))
    gt = read_alpha(shared_path("alphamatting", "alpha", "GT15.png")).astype(np.float32) / 255
    service = MattingService(DemoConfig())
    service.store.setup()
    h = Handlers(service)
    out = h.matte(photo, AUTO, None, None, None, "#fff", None, None, True, None)
    radio, guesses = out[12], out[13]
    assert radio["visible"] is True and radio["value"] == AUTOMATIC
    assert radio["choices"] == [AUTOMATIC, "Matting network (ours)", "Portrait network (MODNet)",
                                "Object network (U²-Net-p)"]
    automatic = out[7]
    assert guesses["automatic"] is automatic
    # each guess is shown as a thumbnail over the choice, in the choice's order: a click on one picks it
    gallery = out[14]
    assert gallery["visible"] is True and gallery["selected_index"] == 0
    assert [caption for _, caption in gallery["value"]] == ["Vote", "ours", "MODNet", "U²-Net-p"]
    thumbs = [np.asarray(Image.open(path)) for path, _ in gallery["value"]]
    assert all(max(t.shape[:2]) == 192 and t.shape[2] == 3 for t in thumbs)
    assert not np.array_equal(thumbs[1], thumbs[2])  # ours and MODNet found different subjects here
    assert h.pick_guess(guesses, 2) == "Portrait network (MODNet)" and h.pick_guess(guesses, 9) is None
    assert h.pick_guess(None, 0) is None
    picked = h.guess(photo, "Portrait network (MODNet)", guesses, None, "#fff", None, None, True)
    assert picked[12]["selected_index"] == 2  # the gallery follows a choice made on the radio
    result = picked[7]
    np.testing.assert_array_equal(result.extra["prior"], guesses["mattes"]["Portrait network (MODNet)"])
    sad = lambda r: float(np.abs(r.alpha - gt).sum() / 1000)  # noqa: E731
    assert sad(result) < 0.6 * sad(automatic), (sad(result), sad(automatic))  # measured: 15.5 -> 5.2
    assert picked[9]["prior"] is result.extra["prior"] and "portrait network's guess" in picked[11]
    # the brushes now correct this result; the automatic answer comes back at once
    back = h.guess(photo, AUTOMATIC, guesses, None, "#fff", None, None, True)
    assert back[7] is automatic and "automatic subject" in back[11]
    with pytest.raises(gr.Error, match="no guess called"):
        h.guess(photo, "Some other network", guesses, None, "#fff", None, None, True)
