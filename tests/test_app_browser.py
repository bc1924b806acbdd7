"""The Gradio app in a real browser: Debian's Chromium, headless, driven by Playwright for Python.

Skips where Chromium or Playwright is missing. Saves screenshots under artifacts/ (gitignored).
"""

from __future__ import annotations

import io
import os
import shutil
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

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed (apt install chromium)")


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


def test_upload_and_matte_in_the_browser(page):
    from afmatting.app import ASSETS_DIR

    page.locator("#afm-photo input[type=file]").set_input_files(str(ASSETS_DIR / "cat.jpg"))
    page.wait_for_selector("#afm-photo img", timeout=30_000)
    page.click("#afm-run")
    page.wait_for_selector("#afm-alpha img", timeout=60_000)
    page.wait_for_selector("#afm-cutout img", timeout=30_000)
    page.wait_for_selector("#afm-slider img", timeout=30_000)
    alpha = _fetch_image(page, "#afm-alpha img")
    cutout = _fetch_image(page, "#afm-cutout img")
    # what the browser shows is the lossless PNG at the photo's size
    assert (alpha.format, alpha.mode, alpha.size) == ("PNG", "L", (451, 300))
    assert (cutout.format, cutout.mode, cutout.size) == ("PNG", "RGBA", (451, 300))
    assert page.locator("#afm-dl-alpha").is_enabled()
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(500)  # let the images finish painting before the screenshot
    page.screenshot(path=str(ARTIFACTS / "app.png"), full_page=True)


def test_paint_a_trimap_in_the_browser(page):
    from afmatting.app import ASSETS_DIR

    page.locator("#afm-photo input[type=file]").set_input_files(str(ASSETS_DIR / "astronaut.jpg"))
    page.wait_for_selector("#afm-photo img", timeout=30_000)
    page.get_by_text("Trimap (for trimap-input models)").click()
    canvas = page.locator("#afm-editor canvas").first
    canvas.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)  # the editor loads the photo as its background
    box = canvas.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    # one stroke with the default (foreground, green) brush across the middle of the photo
    page.mouse.move(cx - 40, cy)
    page.mouse.down()
    page.mouse.move(cx + 40, cy, steps=10)
    page.mouse.up()
    page.wait_for_timeout(500)
    page.click("#afm-run")
    page.wait_for_selector("#afm-trimap-used img", timeout=60_000)
    trimap = np.asarray(_fetch_image(page, "#afm-trimap-used img").convert("L"))
    assert trimap.shape == (512, 512)
    fg = trimap == 255
    assert 50 < fg.sum() < 0.2 * trimap.size  # the stroke, and only the stroke, is foreground
    ys, xs = np.nonzero(fg)
    assert 150 < ys.mean() < 362 and 150 < xs.mean() < 362  # near the middle, where it was painted
    assert set(np.unique(trimap)) <= {0, 255}  # unpainted = background by default
    alpha = np.asarray(_fetch_image(page, "#afm-alpha img"))
    assert (alpha[trimap == 0] == 0).all() and (alpha[fg] == 255).all()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app_trimap.png"), full_page=True)
