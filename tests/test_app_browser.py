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
    # the cut-out lies on a checkerboard, so transparency errors show
    background = page.locator("#afm-cutout img").first.evaluate("e => getComputedStyle(e).backgroundImage")
    assert "conic-gradient" in background
    assert page.locator("#afm-dl-alpha").is_enabled()
    assert page.locator("#afm-composite").count() == 0  # the composite is the slider's "after" side
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(500)  # let the images finish painting before the screenshot
    page.screenshot(path=str(ARTIFACTS / "app.png"), full_page=True)


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


def test_auto_trimap_then_paint_with_each_brush_and_matte_in_the_browser(page):
    from afmatting.app import ASSETS_DIR

    page.locator("#afm-photo input[type=file]").set_input_files(str(ASSETS_DIR / "astronaut.jpg"))
    page.wait_for_selector("#afm-photo img", timeout=30_000)
    # the painter is on the page, next to the photo, with a legend naming the three classes
    legend = page.locator("#afm-legend").inner_text()
    assert "Foreground" in legend and "Unknown" in legend and "Background" in legend
    page.click("#afm-auto-trimap")
    _wait_idle(page, "#afm-editor")
    page.click("#afm-run")
    page.wait_for_selector("#afm-trimap-used img", timeout=60_000)
    _wait_idle(page, "#afm-results-col")
    base = np.asarray(_fetch_image(page, "#afm-trimap-used img").convert("L"))
    alpha_before = np.asarray(_fetch_image(page, "#afm-alpha img"))
    assert base.shape == (512, 512)

    # the swatches carry their class's name
    page.locator("#afm-editor button[aria-label=Brush]").click()
    page.locator("#afm-editor button[aria-label=Color]").click()
    names = [page.locator("#afm-editor menu.swatch button.color").nth(i).evaluate(
        "e => getComputedStyle(e, '::after').content") for i in range(3)]
    assert names == ['"Foreground"', '"Unknown"', '"Background"']

    canvas = page.locator("#afm-editor canvas").first
    box = canvas.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    _pick(page, 0)  # foreground: a horizontal stroke above the middle
    _stroke(page, (cx - 80, cy - 40), (cx + 80, cy - 40))
    _pick(page, 1)  # unknown: a vertical stroke crossing it in the middle
    _stroke(page, (cx, cy - 90), (cx, cy - 10))
    _pick(page, 2)  # background: a horizontal stroke below the middle
    _stroke(page, (cx - 80, cy + 60), (cx + 80, cy + 60))
    page.locator("#afm-editor button[aria-label=Erase]").click()  # erase the right end of the background stroke
    _stroke(page, (cx + 20, cy + 60), (cx + 110, cy + 60))
    page.click("#afm-run")
    page.wait_for_timeout(500)
    _wait_idle(page, "#afm-results-col")
    trimap = np.asarray(_fetch_image(page, "#afm-trimap-used img").convert("L"))
    alpha = np.asarray(_fetch_image(page, "#afm-alpha img"))

    fg = (trimap == 255) & (base != 255)
    bg = (trimap == 0) & (base != 0)
    assert fg.sum() > 200 and bg.sum() > 200
    fy, fx = np.nonzero(fg)
    by, bx = np.nonzero(bg)
    assert fy.mean() < by.mean()  # the foreground stroke above, the background stroke below
    row, middle = int(round(fy.mean())), int(round((fx.min() + fx.max()) / 2))
    assert trimap[row, middle] == 128  # the unknown stroke cut through the foreground stroke
    assert trimap[row, fx.min() + 5] == 255 and trimap[row, fx.max() - 5] == 255
    # the eraser gave the automatic label back on the right part of the background stroke
    assert bx.max() < middle + 45 < fx.max()
    untouched = ~(fg | bg | (np.abs(np.arange(512)[None, :] - middle) < 40) & (np.abs(np.arange(512)[:, None] - row) < 80))
    assert (trimap[untouched] == base[untouched]).mean() > 0.99
    # the matte changed where the user painted, and follows the strokes there
    assert (alpha[fg] == 255).all() and (alpha[bg] == 0).all()
    assert (alpha_before[fg] < 255).mean() > 0.5 and (alpha_before[bg] > 0).mean() > 0.5
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app_trimap.png"), full_page=True)


def test_phone_width_layout(browser, app_url):
    """At phone width the columns stack: photo, the Matte button, then the results, then the painter."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    page.goto(app_url, wait_until="domcontentloaded")
    page.wait_for_selector("#afm-run", timeout=60_000)
    page.wait_for_timeout(500)
    run, results, painter = (page.locator(s).bounding_box() for s in ("#afm-run", "#afm-slider", "#afm-editor"))
    assert run["y"] + run["height"] < 844  # the Matte button is on the first screen
    assert run["y"] < results["y"] < painter["y"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app_phone.png"), full_page=True)
    context.close()
