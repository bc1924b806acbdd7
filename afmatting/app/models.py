"""Model choice: which model serves a request (bundled names, local folders, Hub ids), loaded once and cached."""

from __future__ import annotations

import threading
from collections import OrderedDict

from ..bundled import (
    DEFAULT_TRIMAP_FREE_MODEL,
    DEFAULT_TRIMAP_MODEL,
    available_bundled_models,
    resolve_bundled,
)
from ..errors import CheckpointError, InvalidTrimapError
from ..loading import Matter, load_model, partner_of
from .config import DemoConfig

#: the model box's default: pick the trimap-free or the trimap model depending on whether a trimap was given
AUTO = "auto"

NO_MODEL_MESSAGE = (
    "No matting model is available: the bundled models are not installed in this version of afmatting. "
    "Start the app with `--model DIR_OR_HUB_ID` (or set `AFMATTING_MODEL`)."
)



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
            return "auto (no model installed)"
        return "auto (recommended)"

    def auto_info(self) -> str:
        """The model box's help line: what "auto" picks, then what else may be typed."""
        typed = "type a local model folder or a Hugging Face Hub id" if self.config.allow_custom_models else ""
        if not self.any_model:
            return "no model is installed" + (f": {typed}" if typed else " (start the app with --model)")
        return (f"auto: {self.image_model or '—'} for a photo alone, {self.trimap_model or '—'} with a trimap"
                + (f"; or {typed}" if typed else ""))

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
        """The network called ``name`` (see :func:`afmatting.loading.load_model`), loaded once and cached."""
        name = name.strip()
        with self._lock:
            if name in self._models:
                self._models.move_to_end(name)
                return self._models[name]
            model = load_model(name, self.config.device)
            self._models[name] = model
            while len(self._models) > self.keep:
                self._models.popitem(last=False)
            return model

    def matter(self, name: str) -> Matter:
        """The pipeline of model ``name``: its network and, for a trimap-free one, its trimap partner
        (:func:`afmatting.loading.partner_of`: a fine-tuned model's own second stage, else the bundled partner)."""
        model = self.load(name)
        partner = partner_of(name.strip(), model)
        return Matter(model, self.load(partner) if partner is not None else None)

    def resolve(self, choice: str | None, has_trimap: bool) -> Matter:
        """The pipeline that serves a request: ``choice`` (AUTO, a bundled name, a folder or a Hub id)."""
        choice = (choice or AUTO).strip() or AUTO
        if choice == AUTO:
            if has_trimap:
                if self.trimap_model is None:
                    raise InvalidTrimapError(
                        "A trimap was given but no trimap-input model is available"
                        + (": remove the trimap to matte the photo alone." if self.image_model else
                           f". {NO_MODEL_MESSAGE}")
                    )
                return self.matter(self.trimap_model)
            if self.image_model is None:
                if self.trimap_model is not None:
                    raise InvalidTrimapError(
                        f"The model '{self.trimap_model}' needs a trimap: upload one or paint one on the photo "
                        f"(no trimap-free model is available)."
                    )
                raise CheckpointError(NO_MODEL_MESSAGE)
            return self.matter(self.image_model)
        known = {value for _, value in self.choices()}
        if choice not in known and not self.config.allow_custom_models:
            raise CheckpointError(f"'{choice}' is not one of the models this app offers (it serves only its listed "
                                  f"models; typed folders and Hub ids are off unless the app's owner allows them: "
                                  f"--allow-custom-models or AFMATTING_ALLOW_CUSTOM_MODELS=1).")
        model = self.matter(choice)
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

