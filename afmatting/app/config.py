"""What the app serves: the configuration read from the command line and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..processing import DEFAULT_MAX_SIDE, parse_max_side

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"
#: the app's examples: (photo, its trimap or None), files in ASSETS_DIR (licences in LICENSES.md there)
EXAMPLES = (("astronaut.jpg", "astronaut_trimap.png"), ("astronaut.jpg", None), ("cat.jpg", None))
EXAMPLE_PHOTOS = tuple(photo for photo, _ in EXAMPLES)

#: the largest ``max_side`` a request may ask for (the UI slider's maximum): a request for 10**9 on a 24 MP upload
#: would run the network at full resolution (8 GiB and more); an operator's configured max_side may be larger
MAX_REQUEST_SIDE = 2048

#: photos above this many pixels are refused (the network sees at most max_side anyway; this bounds memory)
DEFAULT_MAX_PIXELS = 40_000_000


@dataclass
class DemoConfig:
    """What the app serves. ``model`` / ``trimap_model``: directory, Hub id or bundled name, or None for the
    bundled defaults."""

    model: str | None = None
    trimap_model: str | None = None
    #: the network resolution (see afmatting.processing; None: full resolution)
    max_side: int | None = DEFAULT_MAX_SIDE
    max_pixels: int = DEFAULT_MAX_PIXELS
    concurrency: int = 1
    device: str | None = None
    #: let visitors type local paths / Hub ids into the model box: off by default, since a hostile repository's
    #: config or weights could exhaust the server; only bundled models and those named at startup are served
    allow_custom_models: bool = False

    @classmethod
    def from_env(cls, **overrides) -> "DemoConfig":
        env = os.environ
        cfg = cls(
            model=env.get("AFMATTING_MODEL") or None,
            trimap_model=env.get("AFMATTING_TRIMAP_MODEL") or None,
            max_side=parse_max_side(env.get("AFMATTING_MAX_SIDE", str(DEFAULT_MAX_SIDE)), "AFMATTING_MAX_SIDE"),
            max_pixels=int(env.get("AFMATTING_MAX_PIXELS", DEFAULT_MAX_PIXELS)),
            concurrency=int(env.get("AFMATTING_CONCURRENCY", 1)),
            device=env.get("AFMATTING_DEVICE") or None,
            allow_custom_models=env.get("AFMATTING_ALLOW_CUSTOM_MODELS", "0").lower() in ("1", "true", "yes"),
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(cfg, key, value)
        return cfg

