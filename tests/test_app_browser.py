"""The Gradio app in a real browser: Debian's Chromium, headless, driven by Playwright for Python.

Skips where Chromium or Playwright is missing. Saves screenshots under artifacts/ (gitignored).
"""

from __future__ import annotations

import io
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from .test_app import _tiny, free_port  # noqa: E402  (the same tiny models and port helper)

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = os.environ.get("AFMATTING_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed (apt install chromium)")]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    pytest.importorskip("gradio")
    from afmatting.app import DemoConfig, build_demo, launch_kwargs

    root = tmp_path_factory.mktemp("browser_models")
    _tiny(False).save_pretrained(root / "free")
    _tiny(True).save_pretrained(root / "trimap")
    cfg = DemoConfig(model=str(root / "free"), trimap_model=str(root / "trimap"))
    demo = build_demo(cfg)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                            **launch_kwargs(cfg))
    yield url
    demo.close()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        # Playwright gives each launch a fresh temporary profile (the --user-data-dir of the flags above)
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def bundled_url():
    """The app as a visitor meets it: the bundled models (and MobileSAM for clicks)."""
    pytest.importorskip("gradio")
    pytest.importorskip("onnxruntime")
    from afmatting.app import DemoConfig, build_demo, launch_kwargs
    from afmatting.bundled import available_bundled_models

    if len(available_bundled_models()) < 2:
        pytest.skip("the bundled models are not installed")
    cfg = DemoConfig()
    demo = build_demo(cfg)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                            **launch_kwargs(cfg))
    yield url
    demo.close()


def _open(browser, url, **context_options):
    context = browser.new_context(**({"viewport": {"width": 1400, "height": 1100}} | context_options))
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("#afm-run", timeout=60_000)
    return page


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.goto(app_url, wait_until="domcontentloaded")
    page.wait_for_selector("#afm-run", timeout=60_000)
    yield page
    context.close()


def _fetch_image(page, selector: str) -> Image.Image:
    """The image a result component shows, fetched the way the browser does (same URL)."""
    src = page.locator(selector).first.get_attribute("src")
    body = page.request.get(src).body()
    return Image.open(io.BytesIO(body))


def _wait_idle(page, selector: str, timeout_ms: int = 60_000) -> None:
    """Wait until the component's status tracker (Gradio's progress overlay) is hidden again."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "sel => !document.querySelector(sel + ' [data-testid=status-tracker]:not(.hide)')", arg=selector,
        timeout=timeout_ms,
    )


def _stroke(page, start, end, steps=12):
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=steps)
    page.mouse.up()
    page.wait_for_timeout(300)


def _pick(page, swatch: int):
    """Select the brush and the swatch-th colour (0 foreground, 1 unknown, 2 background)."""
    page.locator("#afm-editor button[aria-label=Brush]").click()
    page.locator("#afm-editor button[aria-label=Color]").click()
    page.locator("#afm-editor menu.swatch button.color").nth(swatch).click()
    page.wait_for_timeout(200)


def _matte_and_wait(page, timeout_ms: int = 120_000) -> None:
    """Press Matte and wait until the status line under it says it is done (a fresh result has arrived)."""
    page.evaluate("document.querySelector('#afm-progress').dataset.before = document.querySelector("
                  "'#afm-cutout img')?.src || ''")
    page.click("#afm-run")
    page.wait_for_function(
        "() => { const img = document.querySelector('#afm-cutout img');"
        " return img && img.src !== document.querySelector('#afm-progress').dataset.before"
        " && document.querySelector('#afm-progress').innerText.includes('Done'); }", timeout=timeout_ms)
    page.wait_for_timeout(300)


def _upload(page, path, timeout_ms: int = 60_000) -> None:
    """Upload ``path`` as the photo and wait until the app's upload handler shows it for clicking.

    Once in CI (a loaded machine, the third page of the bundled app) the handler's answer never came within 30 s;
    it has not happened again in 8 runs here, loaded or not. So the wait is longer, and where it still runs out,
    the page as it stood is saved (artifacts/upload_timeout.png) and the file is set once more, so that a lost
    upload event shows up as a saved screenshot instead of failing a test about something else.
    """
    for attempt in range(2):
        page.locator("#afm-photo input[type=file]").set_input_files(str(path))
        try:
            page.wait_for_selector("#afm-selection img", timeout=timeout_ms)
            break
        except Exception:
            if attempt:
                raise
            _screenshot(page, "upload_timeout.png", full_page=True)
            warnings.warn(f"the upload of {Path(path).name} was not answered within {timeout_ms / 1000:.0f} s; "
                          "setting the file again (screenshot: artifacts/upload_timeout.png)")
    page.wait_for_timeout(300)


def _screenshot(page, name: str, **kwargs) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), **kwargs)
    return path


@pytest.mark.e2e
def test_first_screen_speaks_plainly_and_shows_the_examples(page):
    title = page.locator("#afm-title").inner_text()
    for jargon in ("trimap", "alpha matte", "RGBA", "lossless", "AAAI", "Liu et al"):
        assert jargon.lower() not in title.lower()
    # the examples are on the first screen, each with its own name
    labels = [b.inner_text() for b in page.locator("#afm-examples button").all()]
    assert len(labels) == len(set(labels)) >= 3
    example = page.locator("#afm-examples button").first.bounding_box()
    assert example["y"] + example["height"] < 1100
    # what cannot be used yet is not shown: clicks need a photo, brushes need a result
    assert not page.locator("#afm-select-box").is_visible() and not page.locator("#afm-painter").is_visible()
    assert page.locator("#afm-status").inner_text().strip() == ""  # no model ids in code style
    _screenshot(page, "app_first_screen.png")


@pytest.mark.e2e
def test_upload_and_matte_in_the_browser_and_errors_keep_the_result(page):
    from afmatting.app import ASSETS_DIR

    _upload(page, ASSETS_DIR / "cat.jpg")
    _matte_and_wait(page)
    cutout = _fetch_image(page, "#afm-cutout img")
    # the first view is the transparent cut-out, the lossless PNG at the photo's size, on a checkerboard
    assert (cutout.format, cutout.mode, cutout.size) == ("PNG", "RGBA", (451, 300))
    background = page.locator("#afm-cutout img").first.evaluate("e => getComputedStyle(e).backgroundImage")
    assert "conic-gradient" in background
    assert page.locator("#afm-dl-cutout").is_enabled() and page.locator("#afm-dl-alpha").is_enabled()
    assert page.locator("#afm-painter").is_visible()  # the brushes appear with a result to correct
    shown = page.locator("#afm-cutout img").first.get_attribute("src")
    # an error (a background photo asked for but not given) is a sentence, and the result stays on screen
    page.get_by_role("tab", name="Background").click()
    page.locator("#afm-bg-kind label", has_text="Photo").click()
    page.get_by_role("tab", name="Cut-out").click()
    page.click("#afm-run")
    page.wait_for_selector(".toast-body", timeout=30_000)
    message = page.locator(".toast-body").first.inner_text()
    assert "Choose a background photo" in message and "Traceback" not in message and "/tmp" not in message
    assert page.locator("#afm-cutout img").first.get_attribute("src") == shown
    _screenshot(page, "app.png", full_page=True)


@pytest.mark.e2e
def test_a_file_that_is_not_a_photo_is_refused_at_upload(page, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    page.locator("#afm-photo input[type=file]").set_input_files(str(bad))
    page.wait_for_selector(".toast-body", timeout=30_000)
    message = page.locator(".toast-body").first.inner_text()
    assert "not a photo this app can read" in message
    for leak in ("Traceback", "/tmp", "preprocess", "UnidentifiedImageError", "index 0"):
        assert leak not in message
    tiny = tmp_path / "dot.png"
    Image.new("RGB", (1, 1)).save(tiny)
    page.locator(".toast-body").first.evaluate("e => e.closest('.toast-wrap, [data-testid=toast-body]')?.remove()")
    page.locator("#afm-photo input[type=file]").set_input_files(str(tiny))
    page.wait_for_function("() => [...document.querySelectorAll('.toast-body')].some(e => "
                           "e.innerText.includes('too small'))", timeout=30_000)
    page.wait_for_timeout(300)
    assert not page.locator("#afm-select-box").is_visible()  # the photo is not taken
    _screenshot(page, "app_refused_upload.png")


def _shown_to_photo(page, selector: str, x: float, y: float) -> tuple[float, float]:
    """Page coordinates of photo pixel (x, y) in the image element ``selector`` (object-fit: contain)."""
    img = page.locator(selector).first
    box = img.bounding_box()
    nw, nh = img.evaluate("e => [e.naturalWidth, e.naturalHeight]")
    scale = min(box["width"] / nw, box["height"] / nh)
    left = box["x"] + (box["width"] - nw * scale) / 2
    top = box["y"] + (box["height"] - nh * scale) / 2
    return left + x * scale, top + y * scale


@pytest.mark.e2e
def test_click_the_plant_of_gt13_and_matte(browser, bundled_url):
    """The automatic subject of GT13 is wrong (whole-image SAD about 250); one click in the foliage fixes it."""
    from .conftest import shared_path

    photo = shared_path("alphamatting", "image", "GT13.png")
    gt = np.asarray(Image.open(shared_path("alphamatting", "alpha", "GT13.png")).convert("L")) / 255.0
    page = _open(browser, bundled_url)
    _upload(page, photo)
    page.mouse.click(*_shown_to_photo(page, "#afm-selection img", 480, 200))
    page.wait_for_function("() => document.querySelector('#afm-clicks-note').innerText.includes('1 click')",
                           timeout=60_000)
    _matte_and_wait(page)
    alpha = np.asarray(_fetch_image(page, "#afm-cutout img"))[..., 3] / 255.0
    sad = np.abs(alpha - gt).sum() / 1000
    assert sad < 120, sad
    _screenshot(page, "app_click_gt13.png", full_page=True)
    page.context.close()


@pytest.mark.e2e
def test_a_wrong_subject_is_fixed_in_one_click_on_another_guess(browser, bundled_url):
    """GT15: after Matte, the guesses appear under the button, each as a thumbnail of the subject it found; one click
    on the portrait network's thumbnail gives a better cut-out (whole-image SAD 15.5 -> 5.2 measured through the
    handlers), and the choice under the thumbnails follows."""
    from .conftest import shared_path

    photo = shared_path("alphamatting", "image", "GT15.png")
    gt = np.asarray(Image.open(shared_path("alphamatting", "alpha", "GT15.png")).convert("L")) / 255.0
    page = _open(browser, bundled_url)
    _upload(page, photo)
    _matte_and_wait(page)
    page.wait_for_selector("#afm-guess", state="visible", timeout=30_000)
    automatic = np.asarray(_fetch_image(page, "#afm-cutout img"))[..., 3] / 255.0
    before = page.locator("#afm-cutout img").first.get_attribute("src")
    # each guess is shown as a thumbnail, in the choice's order: one click on MODNet's picks it and runs it
    thumbs = page.locator("#afm-guess-views .thumbnail-item")
    assert thumbs.count() == 4
    thumbs.nth(2).click()
    page.wait_for_function(
        "before => { const img = document.querySelector('#afm-cutout img');"
        " return img && img.src !== before"
        " && document.querySelector('#afm-progress').innerText.includes(\"portrait network's guess\"); }",
        arg=before, timeout=120_000)
    page.wait_for_timeout(300)
    assert page.locator("#afm-guess label", has_text="Portrait network (MODNet)").locator("input").is_checked()
    picked = np.asarray(_fetch_image(page, "#afm-cutout img"))[..., 3] / 255.0
    sad = lambda a: np.abs(a - gt).sum() / 1000  # noqa: E731
    assert sad(picked) < 0.6 * sad(automatic), (sad(picked), sad(automatic))
    _screenshot(page, "app_guess_gt15.png", full_page=True)
    page.context.close()


@pytest.mark.e2e
def test_one_keep_stroke_changes_the_matte_only_near_it(browser, bundled_url):
    from scipy import ndimage

    from afmatting.app import ASSETS_DIR

    page = _open(browser, bundled_url)
    _upload(page, ASSETS_DIR / "astronaut.jpg")
    _matte_and_wait(page)
    before = np.asarray(_fetch_image(page, "#afm-cutout img"))[..., 3] / 255.0
    page.locator("#afm-editor").scroll_into_view_if_needed()
    _pick(page, 0)  # Keep: a short stroke in the plain dark background between the flag and the head
    canvas = page.locator("#afm-editor canvas").first.bounding_box()
    y = canvas["y"] + canvas["height"] * 0.13
    _stroke(page, (canvas["x"] + canvas["width"] * 0.285, y), (canvas["x"] + canvas["width"] * 0.315, y))
    _matte_and_wait(page)
    after = np.asarray(_fetch_image(page, "#afm-cutout img"))[..., 3] / 255.0
    painted = (after > 0.99) & (before < 0.5)  # the stroke: background before, kept now
    assert painted.sum() > 100
    near = ndimage.binary_dilation(painted, iterations=24)
    changed = np.abs(after - before) > 0.05
    ARTIFACTS.mkdir(exist_ok=True)
    Image.fromarray(np.concatenate([before, after, changed], 1).astype(np.float32) * 255).convert("L").save(
        ARTIFACTS / "app_stroke_alphas.png")  # before | after | changed
    assert changed[~near].sum() <= 0.001 * changed.size, changed[~near].sum()
    _screenshot(page, "app_stroke.png", full_page=True)
    page.context.close()


@pytest.mark.e2e
def test_phone_shows_progress_then_the_result_without_scrolling(browser, app_url):
    """390 x 844: after tapping Matte the progress line (under the button) and then the result are in view."""
    from afmatting.app import ASSETS_DIR

    page = _open(browser, app_url, viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    page.wait_for_timeout(500)
    run = page.locator("#afm-run").bounding_box()
    assert run["y"] + run["height"] < 844  # the Matte button is on the first screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    _screenshot(page, "app_phone_first.png")
    _upload(page, ASSETS_DIR / "astronaut.jpg")
    # the photo is shown once: the selection view has it, the upload box above has shrunk to a strip
    assert page.locator("#afm-photo").bounding_box()["height"] <= 80
    assert page.locator("#afm-selection img").bounding_box()["height"] > 150
    _screenshot(page, "app_phone_uploaded.png", full_page=True)
    page.locator("#afm-run").scroll_into_view_if_needed()
    page.click("#afm-run")
    page.wait_for_timeout(150)
    progress = page.evaluate("(() => { const r = document.querySelector('#afm-progress').getBoundingClientRect();"
                             " return [r.top, r.bottom]; })()")
    assert 0 <= progress[0] and progress[1] <= 844, progress  # the progress line is in view after the tap
    _screenshot(page, "app_phone_progress.png")
    page.wait_for_function("() => document.querySelector('#afm-progress').innerText.includes('Done')",
                           timeout=120_000)
    # the page scrolls to the result by itself
    page.wait_for_function("() => Math.abs(document.getElementById('afm-results-col').getBoundingClientRect().top)"
                           " < 60", timeout=10_000)
    page.wait_for_timeout(300)
    top, bottom = page.evaluate("(() => { const r = document.querySelector('#afm-cutout img').getBoundingClientRect();"
                                " return [r.top, r.bottom]; })()")
    assert 0 <= top < 844 and bottom > 0, (top, bottom)  # the result is on screen, its top visible
    _screenshot(page, "app_phone_result.png")
    page.context.close()


@pytest.mark.e2e
def test_an_example_with_a_trimap_opens_the_brushes_on_it(page):
    page.locator("#afm-examples button", has_text="with a trimap").click()
    page.wait_for_selector("#afm-painter", state="visible", timeout=30_000)
    page.wait_for_selector("#afm-selection img", timeout=30_000)
    _matte_and_wait(page)
    assert "the uploaded trimap" in page.locator("#afm-progress").inner_text()  # the example's trimap was used
