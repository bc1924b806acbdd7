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

from ..errors import AFMattingError, ImageReadError
from ..io import image_size, load_image
from ..processing import check_max_side
from ..result import MattingResult
from ..trimap import load_trimap
from .auto import trimap_from_matte
from .config import MAX_REQUEST_SIDE, DemoConfig
from .inputs import parse_colour
from .models import AUTO, ModelStore
from .inputs import painted_classes
from .painter import painted_trimap, selection_picture

#: ``max_side`` of a request that names none: the app's configured network resolution
CONFIGURED = "configured"
#: photos with a side shorter than this are refused (nothing sensible can be cut out of them)
MIN_PHOTO_SIDE = 16


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


def _no_progress(fraction: float, stage: str) -> None:
    """The progress callback of a request nobody watches."""


class MattingService:
    """Handler logic, Gradio-free: raises AFMattingError subclasses with messages meant for the user.

    Long calls take ``progress``, a callback ``(fraction in [0, 1], stage description)`` called at each real stage:
    reading, the network, every refinement level, the foreground colours, writing the PNGs.
    """

    def __init__(self, config: DemoConfig, store: ModelStore | None = None, outputs: OutputDir | None = None):
        self.config = config
        self.store = store or ModelStore(config)
        self.outputs = outputs or OutputDir()

    def read_photo(self, path) -> np.ndarray:
        if not path:
            raise AFMattingError("Upload a photo first.")
        self.check_photo(path)
        return load_image(path, max_pixels=self.config.max_pixels)

    def check_photo(self, path) -> tuple[int, int]:
        """(width, height) of a photo file, read from its header; refuses what cannot be matted (unreadable, too
        small, too many pixels) with a message for the user, before any decoding."""
        try:
            width, height = image_size(path, "photo")
        except ImageReadError:
            raise ImageReadError(f"'{Path(str(path)).name}' is not a photo this app can read: upload a JPEG, PNG or "
                                 f"WebP image.") from None
        if min(width, height) < MIN_PHOTO_SIDE:
            raise AFMattingError(f"This photo is {width} x {height} pixels: too small to cut anything out of "
                                 f"(at least {MIN_PHOTO_SIDE} pixels a side).")
        if width * height > self.config.max_pixels:
            raise AFMattingError(f"This photo is too large: {width * height / 1e6:.1f} megapixels, and this app takes "
                                 f"up to {self.config.max_pixels / 1e6:.1f}. Please upload a smaller version.")
        return width, height

    def prompt_mask(self, image_path, clicks) -> np.ndarray:
        """The bundled MobileSAM's mask (float32 (H, W) in [0, 1]) of the subject the clicks point at
        (``[(x, y, label), ...]``, label 1 on the subject, 0 off it); the photo's embeddings are cached."""
        from ..prompt_segment import bundled_prompt_segmenter

        return bundled_prompt_segmenter()(self.read_photo(image_path), clicks=clicks)

    def selection_preview(self, image_path, clicks) -> str:
        """A PNG of the photo with the selected subject highlighted and the clicks marked (see
        :func:`afmatting.app.painter.selection_picture`)."""
        photo = self.read_photo(image_path)
        mask = self.prompt_mask(image_path, clicks) if clicks else None
        path = self.outputs.new() / "selection.png"
        selection_picture(photo, mask, clicks or []).save(path)
        return str(path)

    def _max_side(self, max_side) -> int | None:
        """A request's ``max_side``, capped server-side at MAX_REQUEST_SIDE (or the configured side when larger; a
        request for full resolution (None) gets that cap too, unless the app is configured for full resolution)."""
        if max_side == CONFIGURED:
            return self.config.max_side
        side = check_max_side(max_side)
        if self.config.max_side is None:
            return side
        cap = max(MAX_REQUEST_SIDE, self.config.max_side)
        return cap if side is None else min(side, cap)

    def matte(self, image_path, trimap=None, *, model_choice: str | None = AUTO,
              max_side: int | None | str = CONFIGURED, refine: bool = True, clicks=None, prior=None,
              corrects=None, progress=None) -> MattingResult:
        """Matte one photo (a file path); ``trimap`` is a trimap file path or uint8 array, or None.

        ``clicks``: ``[(x, y, label), ...]`` on the photo: the subject they select (:mod:`afmatting.prompted`)
        instead of the automatic one; the trimap model does the edges.

        ``prior``: with a trimap that corrects an automatic (or clicked) result, that result's prior (uint8 (H, W),
        ``result.extra["prior"]``): the same second stage reruns with the corrected trimap
        (:func:`afmatting.two_stage.matte_from_prior`), so only what was painted changes. ``corrects``: with it,
        ``(alpha uint8 (H, W), trimap uint8 (H, W))`` of that result: the matte is kept as it was away from the
        painted pixels (:func:`afmatting.two_stage.keep_outside_edits`).

        ``max_side``: as in :mod:`afmatting.processing`, or CONFIGURED for the app's configured resolution.
        ``refine``: ``predict``'s switch (with a trimap, the network's matte is refined; without one, the second
        matte of the bundled trimap-free model's two-stage path). ``predict`` reports its stages through
        ``on_progress``; the result's foreground colours are computed here too, so that stage is reported.
        """
        progress = progress or _no_progress
        max_side = self._max_side(max_side)
        progress(0.0, "Reading the photo")
        img = self.read_photo(image_path)
        selecting = bool(clicks) and trimap is None
        # clicks: the trimap model mattes the edges of the subject they select
        matter = self.store.resolve(AUTO if selecting else model_choice, has_trimap=trimap is not None or selecting)
        refining = bool(refine) and matter.trimap_input and trimap is not None
        # the share of the bar each stage of predict takes (measured: on a 1 MP photo refinement and the network
        # are similar); the foreground colours and writing take the rest
        spans = {"adapt": (0.05, 0.45), "network": (0.05, 0.45 if refining else 0.7), "refine": (0.45, 0.85),
                 "select": (0.05, 0.3), "two_stage": (0.3 if selecting else 0.05, 0.85)}
        labels = {"adapt": "Adapting the model", "network": "Running the network", "refine": "Refining the edges",
                  "select": "Selecting the subject you clicked",
                  "two_stage": ("Matting the edges of your selection" if selecting else
                                "Matting in two stages (subject, trimap, edges)")}

        def on_progress(stage: str, fraction: float) -> None:
            start, end = spans.get(stage, (0.05, 0.85))
            label = labels.get(stage, stage)
            progress(start + (end - start) * fraction, f"{label} ({round(100 * fraction)} %)" if 0 < fraction < 1
                     else label)

        if prior is not None and trimap is not None and matter.trimap_input and np.shape(prior) == img.shape[:2]:
            from ..two_stage import matte_from_prior

            on_progress("two_stage", 0.0)
            trimap_array = trimap if isinstance(trimap, np.ndarray) else self.uploaded_trimap(trimap, image_path)
            before = None
            if corrects is not None and np.shape(corrects[0]) == img.shape[:2]:
                before = (np.asarray(corrects[0], np.float32) / 255.0, corrects[1])
            result = matte_from_prior(img, np.asarray(prior, np.float32) / 255.0, trimap_model=matter.model,
                                      max_side=max_side, refine=bool(refine), trimap=trimap_array, corrects=before)
            on_progress("two_stage", 1.0)
        else:
            # the automatic path keeps each first-stage network's matte: the user may start from one of them
            result = matter.predict(img, trimap=trimap, max_side=max_side, refine=bool(refine),
                                    on_progress=on_progress, clicks=clicks if selecting else None,
                                    keep_guesses=trimap is None and not selecting)
        return self._finish(result, image_path, progress,
                            0.85 if refining or selecting or matter.trimap_model is not None else 0.7)

    @staticmethod
    def _finish(result: MattingResult, image_path, progress, fraction: float) -> MattingResult:
        """The last stages of a matte: its foreground colours (computed once here, so the stage is reported; cached
        for the outputs), then its name."""
        progress(fraction, "Estimating the foreground colours")
        result.foreground  # noqa: B018
        progress(0.95, "Writing the results")
        result.name = _stem(image_path)
        return result

    def matte_guess(self, image_path, guess, *, max_side: int | None | str = CONFIGURED, refine: bool = True,
                    progress=None) -> MattingResult:
        """The second stage of the automatic path from one first-stage network's matte (``guess``, uint8 (H, W),
        one of an automatic result's ``extra["guesses"]``): for a photo whose automatic subject came out wrong.
        The bundled trimap-free model's partner does the edges (:func:`afmatting.two_stage.matte_from_guess`)."""
        from ..two_stage import matte_from_guess

        progress = progress or _no_progress
        progress(0.0, "Reading the photo")
        img = self.read_photo(image_path)
        if np.shape(guess) != img.shape[:2]:
            raise AFMattingError("That guess belongs to another photo: press Matte again.")
        matter = self.store.resolve(AUTO, has_trimap=False)
        if matter.trimap_model is None:
            raise AFMattingError("Starting from another guess needs the bundled trimap model, which is not "
                                 "installed here.")
        progress(0.1, "Matting the edges of that guess")
        result = matte_from_guess(img, guess, trimap_model=matter.trimap_model, max_side=self._max_side(max_side),
                                  refine=bool(refine))
        return self._finish(result, image_path, progress, 0.85)

    def automatic_trimap(self, image_path, *, max_side: int | None | str = CONFIGURED, progress=None) -> np.ndarray:
        """The trimap the painter starts from: uint8 (H, W) in {0, 128, 255}, made from the trimap-free model's
        matte of the photo (see :mod:`afmatting.app.auto`)."""
        progress = progress or _no_progress
        progress(0.0, "Reading the photo")
        img = self.read_photo(image_path)
        matter = self.store.resolve(AUTO, has_trimap=False)
        progress(0.1, "Running the network")
        matte = matter.predict(img, max_side=self._max_side(max_side), refine=False, two_stage=False).alpha
        progress(0.9, "Drawing the trimap")
        return trimap_from_matte(matte)

    def uploaded_trimap(self, trimap_path, image_path) -> np.ndarray:
        """An uploaded trimap file as uint8 (H, W) in {0, 128, 255}, checked against the photo's size."""
        shape = None
        if image_path:
            width, height = image_size(image_path, "photo")
            shape = (height, width)
        trimap = load_trimap(trimap_path, shape)
        return trimap

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

    def api_matte(self, image_path, trimap_path=None, *, refine: bool | None = True, max_side=None,
                  model: str | None = AUTO, background: str | None = None, progress=None) -> tuple[str, str]:
        """The /matte endpoint: (alpha PNG path, second PNG path), both at the input's size.

        The second file is the RGBA cut-out, or with ``background`` (a colour) the subject on that colour (RGB).
        ``max_side`` None or 0: the app's configured network resolution. ``refine`` None counts as on.
        """
        side = CONFIGURED if not max_side else int(max_side)
        result = self.matte(image_path, trimap_path or None, model_choice=model or AUTO, max_side=side,
                            refine=True if refine is None else bool(refine), progress=progress)
        colour = parse_colour(background) if background else None
        paths = self.save(result, colour)
        return paths["alpha"], paths["composite"] if colour is not None else paths["cutout"]

    def painter_trimap(self, image_path, editor_value, base):
        """The trimap of a UI request: the painter's strokes over its base trimap (the trimap of the last Matte, or
        an uploaded one), or None when there is no base. Strokes correct a base and only where painted; without
        one they mean nothing, and are refused (see :func:`afmatting.app.painter.painted_trimap`)."""
        layers = (editor_value or {}).get("layers") or []
        if not image_path:
            return None
        width, height = image_size(image_path, "photo")  # as the photo is read: EXIF orientation applied
        if base is not None and np.asarray(base).shape != (height, width):
            base = None  # the base of an earlier photo
        if base is None:
            if painted_classes(layers, (height, width))[1].any():
                raise AFMattingError("Press Matte first: the brushes correct its result.")
            return None
        return painted_trimap(layers, (height, width), base)
