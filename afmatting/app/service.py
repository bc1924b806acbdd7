"""The matting service: what the handlers call, Gradio-free; raises AFMattingError subclasses meant for the user."""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import AFMattingError
from ..io import image_size, load_image
from ..processing import check_max_side
from ..result import MattingResult
from .config import DemoConfig
from .inputs import parse_colour, trimap_from_layers
from .models import AUTO, ModelStore

#: ``max_side`` of a request that names none: the app's configured network resolution
CONFIGURED = "configured"


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
              max_side: int | None | str = CONFIGURED, refine_steps: int = 0) -> MattingResult:
        """Matte one photo (a file path); ``trimap`` is a trimap file path or uint8 array, or None.

        ``max_side``: as in :mod:`afmatting.processing`, or CONFIGURED for the app's configured resolution.
        """
        max_side = self.config.max_side if max_side == CONFIGURED else check_max_side(max_side)
        img = self.read_photo(image_path)
        refine_steps = int(refine_steps or 0)
        if refine_steps and trimap is None:
            raise AFMattingError("Refinement needs a trimap: paint or upload one, or set the refinement steps to 0.")
        model = self.store.resolve(model_choice, has_trimap=trimap is not None)
        result = model.predict(img, trimap=trimap, max_side=max_side,
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
        width, height = image_size(image_path, "photo")  # as the photo is read: EXIF orientation applied
        return trimap_from_layers(layers, (height, width), unpainted)

