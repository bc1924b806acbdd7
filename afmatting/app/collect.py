""""Save this trimap for fine-tuning": collect the painter's photo + trimap pairs in a folder that
``afmatting finetune`` reads (``FOLDER/images/<name>.png`` and ``FOLDER/trimaps/<name>.png``).

The folder is ``AFMATTING_FINETUNE_DIR``, else ``./afmatting-finetune``. On a hosted Space (``SPACE_ID`` set) the
action is off unless that variable names a folder: visitors' photos are not kept on a public server by default.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import AFMattingError
from ..io import load_image
from ..processing import to_uint8
from ..trimap import BACKGROUND, FOREGROUND, UNKNOWN

FOLDER_ENV = "AFMATTING_FINETUNE_DIR"
DEFAULT_FOLDER = "afmatting-finetune"

HOW_TO = (
    "**Teach it your photos.** Where the matte is wrong, press **Auto trimap**, correct it with the brushes "
    "(green: subject, blue: uncertain edge, red: background) and press **Save this trimap for fine-tuning**. "
    "Collect a few photos like this (8 or more is good), then fine-tune the default model on them, on a CPU in "
    "minutes:\n\n"
    "```\nafmatting finetune {folder}/images --trimaps {folder}/trimaps --out my-model\n"
    "afmatting matte photos/ --model my-model --out mattes/\n```\n"
    "It prints the held-out photos' scores before and after; `my-model` loads in the model box of "
    "`python app.py --model my-model`."
)


def collection_folder() -> Path | None:
    """Where pairs are collected, or None when collecting is off (a hosted Space without AFMATTING_FINETUNE_DIR)."""
    folder = os.environ.get(FOLDER_ENV)
    if folder:
        return Path(folder).expanduser()
    if os.environ.get("SPACE_ID"):
        return None
    return Path(DEFAULT_FOLDER)


def free_name(folder: Path, stem: str) -> str:
    """``stem``, or ``stem-2``, ``stem-3``, ... : the first name with neither an image nor a trimap in ``folder``."""
    name, n = stem, 1
    while (folder / "images" / f"{name}.png").exists() or (folder / "trimaps" / f"{name}.png").exists():
        n += 1
        name = f"{stem}-{n}"
    return name


def save_training_pair(photo, trimap: np.ndarray | None, folder: Path) -> tuple[Path, Path]:
    """Write the photo (as read: EXIF applied, 8-bit PNG) and its trimap (uint8 (H, W) {0, 128, 255}) under
    ``folder``; returns their paths. AFMattingError (a sentence for the user) when the trimap cannot train: none,
    another size, or no known or no unknown pixels."""
    if trimap is None:
        raise AFMattingError("There is no trimap to save: press Matte first (or upload a trimap), then fix it with the brushes.")
    image = to_uint8(load_image(photo))
    trimap = np.asarray(trimap, dtype=np.uint8)
    if trimap.shape != image.shape[:2]:
        raise AFMattingError(f"The trimap is {trimap.shape[1]}x{trimap.shape[0]} but the photo is "
                             f"{image.shape[1]}x{image.shape[0]}; make the trimap again for this photo.")
    if not np.isin(trimap, (BACKGROUND, FOREGROUND)).any():
        raise AFMattingError("This trimap is all unknown: paint some subject (green) or background (red) first.")
    if not (trimap == UNKNOWN).any():
        raise AFMattingError("This trimap has no uncertain edge: paint the subject's border blue first.")
    for sub in ("images", "trimaps"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    name = free_name(folder, Path(str(photo)).stem or "photo")
    image_path, trimap_path = folder / "images" / f"{name}.png", folder / "trimaps" / f"{name}.png"
    Image.fromarray(image).save(image_path)
    Image.fromarray(trimap, mode="L").save(trimap_path)
    return image_path, trimap_path


def save_for_finetuning(service, photo, editor_value, base_trimap) -> str:
    """The button's handler: the painter's trimap (strokes over the base: the app's state ``{"trimap": uint8 (H, W),
    "source": ...}`` or the trimap itself) and the photo saved as a pair; returns
    a status line (markdown). Input problems become gr.Error."""
    import gradio as gr

    folder = collection_folder()
    if folder is None:
        raise gr.Error(f"Collecting trimaps is off on this server (set {FOLDER_ENV} to a folder to turn it on).")
    if not photo:
        raise gr.Error("Upload a photo first.")
    try:
        base = base_trimap.get("trimap") if isinstance(base_trimap, dict) else base_trimap
        trimap = service.painter_trimap(photo, editor_value, base)
        image_path, _ = save_training_pair(photo, trimap, folder)
    except (AFMattingError, OSError) as e:
        raise gr.Error(str(e), title="Cannot save this trimap", print_exception=False) from None
    count = len(list((folder / "trimaps").glob("*.png")))
    return (f"Saved `{image_path.name}` ({count} pair{'s' if count != 1 else ''} in `{folder}`). Fine-tune: "
            f"`afmatting finetune {folder}/images --trimaps {folder}/trimaps --out my-model`")


def add_finetune_controls(service, photo, editor, base_trimap) -> None:
    """The button, its status line and the how-to, placed where this is called inside a Blocks layout."""
    import gradio as gr

    folder = collection_folder()
    button = gr.Button("Save this trimap for fine-tuning", elem_id="afm-save-pair", size="sm",
                       interactive=folder is not None)
    status = gr.Markdown("", elem_id="afm-save-pair-status")
    with gr.Accordion("Fine-tune on your photos", open=False):
        gr.Markdown(HOW_TO.format(folder=folder or DEFAULT_FOLDER))
    button.click(lambda *values: save_for_finetuning(service, *values), [photo, editor, base_trimap],
                 status, api_name="save_for_finetuning", api_visibility="private", concurrency_limit=4,
                 show_progress="hidden")
