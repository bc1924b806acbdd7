"""Models that ship inside the package, loadable offline by name with ``AFMatting.from_pretrained(NAME)``."""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent / "weights"

#: bundled name -> folder under afmatting/weights/
BUNDLED_MODELS = {
    "afmatting/lite0-trimap": "lite0-trimap",
    "afmatting/lite0-trimap-free": "lite0-trimap-free",
}
#: defaults of the CLI and the app
DEFAULT_TRIMAP_MODEL = "afmatting/lite0-trimap"
DEFAULT_TRIMAP_FREE_MODEL = "afmatting/lite0-trimap-free"
#: trimap-free bundled model -> the trimap model its two-stage path hands the automatic trimap to
TRIMAP_PARTNERS = {DEFAULT_TRIMAP_FREE_MODEL: DEFAULT_TRIMAP_MODEL}


def resolve_bundled(name: str) -> Path | None:
    """The folder of a bundled model that is installed, else None."""
    folder = BUNDLED_MODELS.get(name)
    if folder is None:
        return None
    path = WEIGHTS_DIR / folder
    return path if (path / "model.safetensors").exists() else None


def available_bundled_models() -> list[str]:
    """Names of the bundled models present in this installation."""
    return [name for name in BUNDLED_MODELS if resolve_bundled(name) is not None]


def trimap_partner(name) -> str | None:
    """The bundled trimap model paired with the trimap-free model ``name`` (see :data:`TRIMAP_PARTNERS`), when both
    are installed; None for any other model."""
    partner = TRIMAP_PARTNERS.get(str(name).strip()) if isinstance(name, str) else None
    if partner is None or resolve_bundled(name.strip()) is None or resolve_bundled(partner) is None:
        return None
    return partner
