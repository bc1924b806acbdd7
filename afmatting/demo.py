"""The Gradio demo: upload a photo, get its alpha matte, an RGBA cut-out and a new background.

``build_demo(config)`` returns the Blocks app; ``main()`` parses the command line and serves it. The repository's
``app.py`` and the Hugging Face Space's ``app.py`` are both thin launchers of ``main()``, so there is one app.

Models. ``--model`` / ``AFMATTING_MODEL`` and ``--trimap-model`` / ``AFMATTING_TRIMAP_MODEL`` name a local
directory, a Hub id or a bundled name. Without them the bundled models serve: the trimap-free one for a photo
alone, the trimap-input one when a trimap is given. When no model at all is available the app still starts, says
so at the top of the page, and every matte request answers with the same message; a model typed into the model box
(a local folder or a Hub id) still works. A model named explicitly on the command line that cannot be loaded stops
the app at startup instead, since that is a mistake in the command.

Painted trimaps. The trimap painter has three fixed brush colours: green = foreground, blue = unknown, red =
background. Every painted pixel (on any layer; upper layers win) takes the class of the nearest of those colours;
unpainted pixels are background by default (paint the subject and its edge) or unknown (only scribble), as chosen.
An uploaded trimap wins over a painted one.

All matting goes through :func:`afmatting.inference.predict`; outputs are written as PNG (never webp, which would
destroy the alpha).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
from PIL import Image

from .bundled import (
    BUNDLED_MODELS,
    DEFAULT_TRIMAP_FREE_MODEL,
    DEFAULT_TRIMAP_MODEL,
    available_bundled_models,
    resolve_bundled,
)
from .errors import AFMattingError, CheckpointError, InvalidTrimapError
from .inference import DEFAULT_MAX_SIDE, MattingResult
from .io import load_image
from .trimap import BACKGROUND, FOREGROUND, UNKNOWN

log = logging.getLogger("afmatting.demo")

ASSETS_DIR = Path(__file__).parent / "assets"
EXAMPLE_PHOTOS = ("cat.jpg", "astronaut.jpg", "coffee.jpg")

#: the model box's default: pick the trimap-free or the trimap model depending on whether a trimap was given
AUTO = "auto"
#: photos above this many pixels are refused (the network sees at most max_side anyway; this bounds memory)
DEFAULT_MAX_PIXELS = 40_000_000

#: fixed brush colours of the trimap painter, and the class each stands for
BRUSH_COLOURS = {"#22c55e": FOREGROUND, "#3b82f6": UNKNOWN, "#ef4444": BACKGROUND}
#: a layer pixel counts as painted when its opacity is at least this (0..255); anti-aliased rims below it do not
PAINT_MIN_ALPHA = 64
UNPAINTED_CHOICES = {"background": BACKGROUND, "unknown": UNKNOWN}

NO_MODEL_MESSAGE = (
    "No matting model is available: the bundled models are not installed in this version of afmatting. "
    "Start the app with `--model DIR_OR_HUB_ID` (or set `AFMATTING_MODEL`), or type a local model folder or a "
    "Hub id into the Model box."
)


@dataclass
class DemoConfig:
    """What the app serves. ``model`` / ``trimap_model``: directory, Hub id or bundled name, or None for the
    bundled defaults."""

    model: str | None = None
    trimap_model: str | None = None
    max_side: int = DEFAULT_MAX_SIDE
    max_pixels: int = DEFAULT_MAX_PIXELS
    concurrency: int = 1
    device: str | None = None
    #: let visitors type local paths / Hub ids into the model box (turn off for a public deployment if you like)
    allow_custom_models: bool = True

    @classmethod
    def from_env(cls, **overrides) -> "DemoConfig":
        env = os.environ
        cfg = cls(
            model=env.get("AFMATTING_MODEL") or None,
            trimap_model=env.get("AFMATTING_TRIMAP_MODEL") or None,
            max_side=int(env.get("AFMATTING_MAX_SIDE", DEFAULT_MAX_SIDE)),
            max_pixels=int(env.get("AFMATTING_MAX_PIXELS", DEFAULT_MAX_PIXELS)),
            concurrency=int(env.get("AFMATTING_CONCURRENCY", 1)),
            device=env.get("AFMATTING_DEVICE") or None,
            allow_custom_models=env.get("AFMATTING_ALLOW_CUSTOM_MODELS", "1").lower() not in ("0", "false", "no"),
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(cfg, key, value)
        return cfg


# ---------------------------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------------------------


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers a TCP connect: huggingface_hub retries for ~30 s before giving up, far
    too long for a web request, so the app asks first."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def _is_local_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or "\\" in name or name.count("/") >= 2 or Path(name).expanduser().exists()


class ModelStore:
    """Loads models on first use, keeps the few most recent, and picks the one that serves a request."""

    def __init__(self, config: DemoConfig, keep: int = 3):
        self.config = config
        self.keep = keep
        self._models: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()
        self.image_model: str | None = None  # serves photos without a trimap in "auto" mode
        self.trimap_model: str | None = None  # serves photos with a trimap in "auto" mode

    def setup(self) -> None:
        """Load the models named in the config (errors propagate: a bad --model should stop the app) and fill the
        auto slots, falling back to the bundled models that are installed."""
        cfg = self.config
        if cfg.model:
            m = self.load(cfg.model)
            if m.trimap_input:
                self.trimap_model = cfg.model
            else:
                self.image_model = cfg.model
        if cfg.trimap_model:
            m = self.load(cfg.trimap_model)
            if not m.trimap_input:
                raise CheckpointError(
                    f"--trimap-model '{cfg.trimap_model}' is trimap-free; pass it as --model instead."
                )
            self.trimap_model = cfg.trimap_model
        if self.image_model is None and resolve_bundled(DEFAULT_TRIMAP_FREE_MODEL) is not None:
            self.image_model = DEFAULT_TRIMAP_FREE_MODEL
        if self.trimap_model is None and resolve_bundled(DEFAULT_TRIMAP_MODEL) is not None:
            self.trimap_model = DEFAULT_TRIMAP_MODEL

    @property
    def any_model(self) -> bool:
        return self.image_model is not None or self.trimap_model is not None

    def choices(self) -> list[tuple[str, str]]:
        """(label, value) pairs for the model box."""
        out = [(self._auto_label(), AUTO)]
        names = [n for n in (self.image_model, self.trimap_model) if n] + available_bundled_models()
        for name in dict.fromkeys(names):
            out.append((name, name))
        return out

    def _auto_label(self) -> str:
        if not self.any_model:
            return "auto (no model installed: type a folder or Hub id)"
        return f"auto: {self.image_model or '—'} without a trimap, {self.trimap_model or '—'} with one"

    def status_markdown(self) -> str:
        if not self.any_model:
            return f"⚠️ **{NO_MODEL_MESSAGE}**"
        parts = []
        if self.image_model:
            parts.append(f"photo only: `{self.image_model}`")
        if self.trimap_model:
            parts.append(f"with a trimap: `{self.trimap_model}`")
        if self.image_model is None:
            parts.append("(no trimap-free model: give a trimap)")
        return "Models — " + "; ".join(parts)

    def load(self, name: str):
        """The model called ``name`` (bundled name, local directory or Hub id), loaded once and cached."""
        from .model import AFMatting

        name = name.strip()
        with self._lock:
            if name in self._models:
                self._models.move_to_end(name)
                return self._models[name]
            if name in BUNDLED_MODELS and resolve_bundled(name) is None:
                raise CheckpointError(f"The bundled model '{name}' is not installed in this version of afmatting.")
            source = name
            if resolve_bundled(name) is None and _is_local_path(name):
                source = str(Path(name).expanduser())
            elif resolve_bundled(name) is None:
                source = self._hub_source(name)
            model = AFMatting.from_pretrained(source)
            if self.config.device:
                model.to(self.config.device)
            model.eval()
            self._models[name] = model
            while len(self._models) > self.keep:
                self._models.popitem(last=False)
            return model

    @staticmethod
    def _hub_source(name: str) -> str:
        """A Hub id: use the local cache when it holds the model; otherwise require the Hub to be reachable."""
        from huggingface_hub import snapshot_download

        try:
            return snapshot_download(name, local_files_only=True)
        except Exception:  # not cached (or not a valid id): fall through to the online check
            pass
        if not hub_reachable():
            raise CheckpointError(
                f"'{name}' is not a local folder or a bundled model, and as a Hugging Face Hub id it cannot be "
                f"downloaded: the Hub is unreachable (offline) and the model is not in the local cache."
            )
        return name

    def resolve(self, choice: str | None, has_trimap: bool):
        """The model that serves a request: ``choice`` (AUTO, a bundled name, a folder or a Hub id)."""
        choice = (choice or AUTO).strip() or AUTO
        if choice == AUTO:
            if has_trimap:
                if self.trimap_model is None:
                    raise InvalidTrimapError(
                        "A trimap was given but no trimap-input model is available"
                        + (": remove the trimap to matte the photo alone." if self.image_model else
                           f". {NO_MODEL_MESSAGE}")
                    )
                return self.load(self.trimap_model)
            if self.image_model is None:
                if self.trimap_model is not None:
                    raise InvalidTrimapError(
                        f"The model '{self.trimap_model}' needs a trimap: upload one or paint one on the photo "
                        f"(no trimap-free model is available)."
                    )
                raise CheckpointError(NO_MODEL_MESSAGE)
            return self.load(self.image_model)
        known = {value for _, value in self.choices()}
        if choice not in known and not self.config.allow_custom_models:
            raise CheckpointError(f"'{choice}' is not one of the models this app offers.")
        model = self.load(choice)
        if model.trimap_input and not has_trimap:
            raise InvalidTrimapError(
                f"The model '{choice}' needs a trimap: upload one, or paint foreground / unknown / background on "
                f"the photo in the Trimap panel."
            )
        if has_trimap and not model.trimap_input:
            raise InvalidTrimapError(
                f"The model '{choice}' is trimap-free: remove the trimap (uploaded or painted), or pick a "
                f"trimap-input model."
            )
        return model


# ---------------------------------------------------------------------------------------------------------------
# Pure helpers (no Gradio): painted trimaps, colours, output files
# ---------------------------------------------------------------------------------------------------------------


def _hex_rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return tuple(int(colour[i:i + 2], 16) for i in (0, 2, 4))


def trimap_from_layers(layers, shape: tuple[int, int], unpainted: str = "background") -> np.ndarray | None:
    """Painted ImageEditor layers -> uint8 trimap (H, W) in {0, 128, 255}, or None when nothing is painted.

    Each layer is an RGBA image (numpy, PIL or path). A pixel is painted where its opacity is at least
    PAINT_MIN_ALPHA; it takes the class of the nearest brush colour. Later layers lie on top and win. Layers of
    another size than the photo (the editor may scale) are resized with nearest neighbour.
    """
    if unpainted not in UNPAINTED_CHOICES:
        raise ValueError(f"unpainted must be one of {sorted(UNPAINTED_CHOICES)}, got {unpainted!r}.")
    h, w = shape
    palette = np.array([_hex_rgb(c) for c in BRUSH_COLOURS], dtype=np.float32)
    classes = np.array(list(BRUSH_COLOURS.values()), dtype=np.uint8)
    trimap = np.full((h, w), UNPAINTED_CHOICES[unpainted], dtype=np.uint8)
    painted_any = False
    for layer in layers or []:
        if layer is None:
            continue
        img = layer if isinstance(layer, Image.Image) else (
            Image.fromarray(np.asarray(layer)) if isinstance(layer, np.ndarray) else Image.open(layer))
        img = img.convert("RGBA")
        if img.size != (w, h):
            img = img.resize((w, h), Image.NEAREST)
        rgba = np.asarray(img)
        painted = rgba[..., 3] >= PAINT_MIN_ALPHA
        if not painted.any():
            continue
        painted_any = True
        rgb = rgba[painted][:, :3].astype(np.float32)
        nearest = ((rgb[:, None, :] - palette[None]) ** 2).sum(-1).argmin(1)
        trimap[painted] = classes[nearest]
    return trimap if painted_any else None


def parse_colour(value) -> tuple[int, int, int]:
    """A ColorPicker value ('#rrggbb', '#rgb', 'rgb(r, g, b)' or 'rgba(r, g, b, a)', float components allowed)."""
    if not value:
        return (255, 255, 255)
    s = str(value).strip()
    if s.startswith("#"):
        s = s[1:]
        if len(s) in (3, 4):
            s = "".join(ch * 2 for ch in s[:3])
        if len(s) in (6, 8) and re.fullmatch(r"[0-9a-fA-F]+", s):
            return _hex_rgb(s[:6])
    m = re.fullmatch(r"rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)(?:[\s,/]+[\d.%]+)?\s*\)", s)
    if m:
        return tuple(int(round(min(255.0, float(v)))) for v in m.groups())
    raise AFMattingError(f"Unknown background colour {value!r}: pick one with the colour picker.")


class OutputDir:
    """Folder of the PNGs the app writes; files older than ``max_age`` seconds are swept on each request."""

    def __init__(self, root: str | None = None, max_age: float = 3600.0):
        self.root = Path(root or tempfile.mkdtemp(prefix="afmatting-demo-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_age = max_age

    def new(self) -> Path:
        self._sweep()
        d = self.root / uuid.uuid4().hex[:12]
        d.mkdir()
        return d

    def _sweep(self) -> None:
        cutoff = time.time() - self.max_age
        for d in self.root.iterdir():
            with contextlib.suppress(OSError):
                if d.stat().st_mtime < cutoff:
                    shutil.rmtree(d, ignore_errors=True)


def _stem(path) -> str:
    stem = Path(str(path)).stem if path else "image"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)[:60] or "image"


# ---------------------------------------------------------------------------------------------------------------
# The matting service: what the handlers call
# ---------------------------------------------------------------------------------------------------------------


class MattingService:
    """Handler logic, Gradio-free: raises AFMattingError subclasses with messages meant for the user."""

    def __init__(self, config: DemoConfig, store: ModelStore | None = None, outputs: OutputDir | None = None):
        self.config = config
        self.store = store or ModelStore(config)
        self.outputs = outputs or OutputDir()

    def read_photo(self, path) -> np.ndarray:
        if not path:
            raise AFMattingError("Upload a photo first.")
        return load_image(path, max_pixels=self.config.max_pixels)

    def matte(self, image_path, trimap=None, *, model_choice: str | None = AUTO,
              max_side: int | None = None, refine_steps: int = 0) -> MattingResult:
        """Matte one photo (a file path); ``trimap`` is a trimap file path or uint8 array, or None."""
        img = self.read_photo(image_path)
        refine_steps = int(refine_steps or 0)
        if refine_steps and trimap is None:
            raise AFMattingError("Refinement needs a trimap: paint or upload one, or set the refinement steps to 0.")
        model = self.store.resolve(model_choice, has_trimap=trimap is not None)
        result = model.predict(img, trimap=trimap, max_side=int(max_side or self.config.max_side),
                               refine_steps=refine_steps)
        result.name = _stem(image_path)
        return result

    def save(self, result: MattingResult, background=None) -> dict[str, str]:
        """Write alpha, cut-out, composite (and the trimap used) as PNG; return their paths by kind."""
        d = self.outputs.new()
        stem = result.name or "image"
        paths = {
            "alpha": d / f"{stem}_alpha.png",
            "cutout": d / f"{stem}_cutout.png",
        }
        result.alpha_image().save(paths["alpha"])
        result.cutout().save(paths["cutout"])
        if background is not None:
            paths["composite"] = d / f"{stem}_composite.png"
            result.composite(background).save(paths["composite"])
        if result.trimap is not None:
            paths["trimap"] = d / f"{stem}_trimap.png"
            Image.fromarray(result.trimap, mode="L").save(paths["trimap"])
        return {k: str(v) for k, v in paths.items()}

    def composite(self, result: MattingResult, colour=None, background_image=None) -> str:
        background = background_image if background_image else parse_colour(colour)
        d = self.outputs.new()
        path = d / f"{result.name or 'image'}_composite.png"
        result.composite(background).save(path)
        return str(path)

    def api_matte(self, image_path, trimap_path=None) -> tuple[str, str]:
        """The /matte endpoint: (alpha PNG path, RGBA cut-out PNG path) at the input's size."""
        result = self.matte(image_path, trimap_path or None)
        paths = self.save(result)
        return paths["alpha"], paths["cutout"]

    def painted_or_uploaded_trimap(self, image_path, trimap_path, editor_value, unpainted: str):
        """The trimap of a UI request: an uploaded file wins, else the painted layers, else None."""
        if trimap_path:
            return trimap_path
        layers = (editor_value or {}).get("layers") or []
        if not layers or not image_path:
            return None
        with Image.open(image_path) as im:
            from PIL import ImageOps

            size = ImageOps.exif_transpose(im).size
        return trimap_from_layers(layers, (size[1], size[0]), unpainted)


# ---------------------------------------------------------------------------------------------------------------
# Gradio
# ---------------------------------------------------------------------------------------------------------------


def _friendly(e: Exception, *paths) -> str:
    """The error's message, with Gradio's upload folders cut from file names."""
    msg = str(e)
    for p in paths:
        if p and isinstance(p, (str, os.PathLike)):
            msg = msg.replace(str(p), Path(str(p)).name)
    return msg


@contextlib.contextmanager
def user_errors(*paths):
    """Turn input errors into gr.Error (shown to the user); log anything unexpected, and report it briefly."""
    import gradio as gr

    try:
        yield
    except gr.Error:
        raise
    except (AFMattingError, OSError) as e:
        raise gr.Error(_friendly(e, *paths), title="Cannot matte this input", print_exception=False) from None
    except Exception as e:  # a bug must not take the server down; the log keeps the traceback
        log.exception("unexpected error in a request")
        raise gr.Error(f"Unexpected error ({type(e).__name__}: {e}).", title="Internal error") from None


class Handlers:
    """The Gradio event handlers (callable directly, e.g. in tests). Input errors become gr.Error."""

    def __init__(self, service: MattingService):
        self.service = service

    def matte(self, photo, model_choice, trimap_file, editor_value, unpainted, colour, bg_image, max_side,
              refine_steps=0):
        """The Matte button: slider, alpha, cut-out, composite, trimap used, 3 downloads, result state."""
        import gradio as gr

        service = self.service
        with user_errors(photo, trimap_file, bg_image):
            trimap = service.painted_or_uploaded_trimap(photo, trimap_file, editor_value, unpainted)
            result = service.matte(photo, trimap, model_choice=model_choice, max_side=max_side,
                                   refine_steps=refine_steps)
            background = bg_image if bg_image else parse_colour(colour)
            paths = service.save(result, background)
        used = paths.get("trimap")
        return (
            (photo, paths["composite"]),
            paths["alpha"],
            paths["cutout"],
            paths["composite"],
            gr.update(value=used, visible=used is not None),
            gr.update(value=paths["alpha"], interactive=True),
            gr.update(value=paths["cutout"], interactive=True),
            gr.update(value=paths["composite"], interactive=True),
            result,
        )

    def background(self, result, photo, colour, bg_image):
        """A new colour or background photo: recomposite the last result without running the network again."""
        import gradio as gr

        if result is None:  # nothing matted yet: the colour is used by the next run
            return gr.skip(), gr.skip(), gr.skip()
        with user_errors(bg_image):
            path = self.service.composite(result, colour, bg_image)
        return (photo, path), path, gr.update(value=path, interactive=True)

    def api(self, image, trimap):
        """/matte: (image path, trimap path or None) -> (alpha PNG path, RGBA cut-out PNG path)."""
        with user_errors(image, trimap):
            return self.service.api_matte(image, trimap)

    @staticmethod
    def photo(photo):
        """A new photo goes into the trimap painter with empty layers (old strokes belong to the old photo)."""
        if not photo:
            return None
        return {"background": photo, "layers": [], "composite": photo}


CSS = """
#afm-title {text-align: center}
.afm-legend span {display: inline-block; padding: 0 .5em; border-radius: 4px; color: white; font-weight: 600}
#afm-colour .dialog-button {border: 1px solid var(--border-color-primary)}
"""


def build_demo(config: DemoConfig | None = None, service: MattingService | None = None):
    """The Gradio Blocks app. Raises CheckpointError when a model named in ``config`` cannot be loaded."""
    import gradio as gr

    config = config or (service.config if service else DemoConfig.from_env())
    service = service or MattingService(config)
    service.store.setup()
    store = service.store
    fg, unk, bg = BRUSH_COLOURS

    handlers = Handlers(service)

    with gr.Blocks(title="afmatting — alpha matting without alpha labels", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(
            "# afmatting: cut out anything\n"
            "Upload a photo and get its **alpha matte**, an **RGBA cut-out** and the subject on a **new "
            "background**. The models were trained without any alpha labels (Liu et al., AAAI 2025). Results are "
            "lossless PNG.",
            elem_id="afm-title",
        )
        status = gr.Markdown(store.status_markdown(), elem_id="afm-status")
        result_state = gr.State(None, time_to_live=3600)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1):
                photo = gr.Image(label="Photo", type="filepath", image_mode=None, format="png",
                                 sources=["upload", "clipboard"], height=360, elem_id="afm-photo")
                model_box = gr.Dropdown(
                    choices=store.choices(), value=AUTO, allow_custom_value=config.allow_custom_models,
                    label="Model", elem_id="afm-model",
                    info="a bundled model, a local model folder or a Hugging Face Hub id",
                )
                with gr.Accordion("Trimap (for trimap-input models)", open=False, elem_id="afm-trimap-panel"):
                    gr.Markdown(
                        f"Paint on the photo: <span class='afm-legend'><span style='background:{fg}'>green = "
                        f"foreground</span> <span style='background:{unk}'>blue = unknown (hair, fur, soft edges)"
                        f"</span> <span style='background:{bg}'>red = background</span></span>. "
                        "Or upload a trimap (black 0 = background, grey 128 = unknown, white 255 = foreground; the "
                        "photo's size). An uploaded trimap wins over painting."
                    )
                    with gr.Tabs():
                        with gr.Tab("Paint"):
                            editor = gr.ImageEditor(
                                label="Paint the trimap", type="numpy", image_mode="RGBA", format="png",
                                sources=(), transforms=(), height=420, elem_id="afm-editor",
                                brush=gr.Brush(colors=list(BRUSH_COLOURS), default_color=fg, color_mode="fixed"),
                                layers=gr.LayerOptions(layers=["strokes"], allow_additional_layers=True),
                            )
                            unpainted = gr.Radio(
                                list(UNPAINTED_CHOICES), value="background", label="Unpainted pixels are",
                                info="background: paint the subject (green) and its edge (blue); "
                                     "unknown: scribbles are enough",
                            )
                        with gr.Tab("Upload"):
                            trimap_file = gr.Image(label="Trimap", type="filepath", image_mode=None, format="png",
                                                   sources=["upload"], height=300, elem_id="afm-trimap-upload")
                with gr.Accordion("Background", open=True):
                    with gr.Row():
                        colour = gr.ColorPicker(value="#ffffff", label="Colour", elem_id="afm-colour")
                        bg_image = gr.Image(label="…or a background photo", type="filepath", image_mode=None,
                                            format="png", sources=["upload"], height=160)
                with gr.Accordion("Advanced", open=False):
                    max_side = gr.Slider(256, 2048, value=config.max_side, step=64, label="Network resolution",
                                         info="long side the network sees; the matte is always full size")
                    refine = gr.Slider(0, 400, value=0, step=50, label="Refinement steps (with a trimap)",
                                       info="after the network, optimise the matte under the paper's DDC loss on "
                                            "this photo: sharper edges, slower (at 100: about 20 s for an 800-px photo "
                                            "on a 2-core CPU; more is not better: 400 scored worse than 100)",
                                       elem_id="afm-refine")
                run = gr.Button("Matte", variant="primary", elem_id="afm-run")
                examples = [str(ASSETS_DIR / n) for n in EXAMPLE_PHOTOS if (ASSETS_DIR / n).exists()]
                if examples:
                    gr.Examples([[p] for p in examples], inputs=[photo], label="Example photos (CC0 / public domain)")
            with gr.Column(scale=1):
                slider = gr.ImageSlider(label="Before / after", type="filepath", format="png", elem_id="afm-slider",
                                        max_height=520)
                with gr.Row():
                    alpha_out = gr.Image(label="Alpha matte", type="filepath", format="png", interactive=False,
                                         elem_id="afm-alpha")
                    cutout_out = gr.Image(label="Cut-out (RGBA)", type="filepath", format="png", interactive=False,
                                          elem_id="afm-cutout")
                with gr.Row():
                    composite_out = gr.Image(label="Composite", type="filepath", format="png", interactive=False,
                                             elem_id="afm-composite")
                    trimap_out = gr.Image(label="Trimap used", type="filepath", format="png", interactive=False,
                                          visible=False, elem_id="afm-trimap-used")
                with gr.Row():
                    dl_alpha = gr.DownloadButton("Alpha PNG", interactive=False, elem_id="afm-dl-alpha")
                    dl_cutout = gr.DownloadButton("Cut-out PNG", interactive=False, elem_id="afm-dl-cutout")
                    dl_composite = gr.DownloadButton("Composite PNG", interactive=False, elem_id="afm-dl-composite")

        # the API: plain files in, PNG files out (hidden components; the endpoint is what matters)
        with gr.Row(visible=False):
            api_image = gr.File(label="image", type="filepath")
            api_trimap = gr.File(label="trimap (optional)", type="filepath")
            api_alpha = gr.File(label="alpha PNG")
            api_cutout = gr.File(label="RGBA cut-out PNG")
            api_button = gr.Button("matte")

        # UI and API share one concurrency group: the network runs at most `concurrency` times at once
        run.click(
            handlers.matte,
            [photo, model_box, trimap_file, editor, unpainted, colour, bg_image, max_side, refine],
            [slider, alpha_out, cutout_out, composite_out, trimap_out, dl_alpha, dl_cutout, dl_composite,
             result_state],
            api_name="matte_ui", api_visibility="private", concurrency_id="network",
        )
        api_button.click(handlers.api, [api_image, api_trimap], [api_alpha, api_cutout], api_name="matte",
                         concurrency_id="network",
                         api_description="Matte a photo: (image, optional trimap) -> (alpha PNG, RGBA cut-out PNG).")
        gr.on([colour.change, bg_image.change], handlers.background, [result_state, photo, colour, bg_image],
              [slider, composite_out, dl_composite], api_name="recomposite", api_visibility="private",
              concurrency_limit=4, show_progress="minimal")
        photo.change(handlers.photo, photo, editor, api_name="photo_to_painter", api_visibility="private",
                     concurrency_limit=4, show_progress="hidden")
        demo.load(store.status_markdown, None, status, api_name="status", api_visibility="private")
    demo.queue(default_concurrency_limit=max(1, config.concurrency), max_size=32)
    demo.afm_service = service  # for tests and embedding
    return demo


def launch_kwargs(config: DemoConfig) -> dict:
    """Arguments for ``demo.launch`` shared by app.py and the tests."""
    import gradio as gr

    return dict(
        theme=gr.themes.Soft(),
        css=CSS,
        allowed_paths=[str(ASSETS_DIR)],
        max_file_size=os.environ.get("AFMATTING_MAX_FILE_SIZE", "100mb"),
        show_error=True,
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="app.py",
        description="The afmatting web demo. Host and port: GRADIO_SERVER_NAME / GRADIO_SERVER_PORT "
                    "(or --host / --port).",
    )
    p.add_argument("--model", help="model for photos (directory, Hub id or bundled name); env AFMATTING_MODEL. "
                                    "A trimap-input model here serves trimap requests.")
    p.add_argument("--trimap-model", help="trimap-input model for photos with a trimap; env AFMATTING_TRIMAP_MODEL")
    p.add_argument("--host", default=None, help="default: GRADIO_SERVER_NAME or 127.0.0.1")
    p.add_argument("--port", type=int, default=None, help="default: GRADIO_SERVER_PORT or 7860")
    p.add_argument("--max-side", type=int, default=None, help=f"network resolution (default {DEFAULT_MAX_SIDE})")
    p.add_argument("--concurrency", type=int, default=None, help="matting requests run at once (default 1)")
    p.add_argument("--device", default=None, help="torch device, e.g. cuda")
    p.add_argument("--share", action="store_true", help="also create a public gradio.live link (needs internet)")
    return p


def main(argv=None) -> int:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    config = DemoConfig.from_env(model=args.model, trimap_model=args.trimap_model, max_side=args.max_side,
                                 concurrency=args.concurrency, device=args.device)
    try:
        demo = build_demo(config)
    except AFMattingError as e:
        print(f"error: {e}", flush=True)
        return 2
    if not demo.afm_service.store.any_model:
        log.warning(NO_MODEL_MESSAGE)
    # None lets Gradio read GRADIO_SERVER_NAME / GRADIO_SERVER_PORT itself
    demo.launch(server_name=args.host, server_port=args.port, share=args.share or None, **launch_kwargs(config))
    return 0
