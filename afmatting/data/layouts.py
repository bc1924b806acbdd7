"""Dataset folder layouts: scanning, pairing files by stem, checking sizes, and where each split's files live.

Layouts (``layout="auto"`` detects them):

* ``am2k``: ``train/original`` + ``train/mask``, ``validation/original`` + ``validation/mask`` (optional
  ``<split>/trimap``); splits ``train`` and ``validation``;
* ``p3m``: ``train/blurred_image`` + ``train/mask`` (split ``train``);
  ``validation/P3M-500-P/{blurred_image,mask,trimap}`` (split ``validation_p``);
  ``validation/P3M-500-NP/{original_image,mask,trimap}`` (split ``validation_np``);
* ``generic``: ``ROOT/image`` + ``ROOT/alpha`` and/or ``ROOT/trimap`` (one split, ``train`` unless told), or
  ``ROOT/<split>/{image,alpha,trimap}`` for several splits; the folder names are arguments.

Files are paired by stem (``x.jpg`` with ``x.png``). A missing partner, a size mismatch, a file that is not an
image and an empty folder raise :class:`~afmatting.errors.DatasetError` naming the file or folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import DatasetError, ImageReadError
from ..io import IMAGE_EXTENSIONS, image_size

#: files silently ignored in image folders
IGNORED_FILES = {"thumbs.db", "desktop.ini"}

LAYOUTS = ("auto", "am2k", "p3m", "generic")


# ---------------------------------------------------------------------------------------------------------------
# Folder scanning and pairing
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleFiles:
    """One sample's files: ``image`` always; ``alpha`` and ``trimap`` when the layout has them."""

    name: str
    image: str
    alpha: str | None = None
    trimap: str | None = None


@dataclass(frozen=True)
class SplitSource:
    """Where one split's files live. ``alpha_dir``/``trimap_dir`` are None when the layout has no such folder."""

    split: str
    image_dir: Path
    alpha_dir: Path | None = None
    trimap_dir: Path | None = None


def list_folder_images(folder: Path, what: str = "image") -> dict[str, Path]:
    """Map stem -> path for the image files of ``folder`` (not recursive).

    Raises DatasetError for a missing or empty folder, a file that is not an image (by extension), or two files
    with the same stem. Hidden files (``.*``), ``Thumbs.db`` and sub-folders are ignored.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"The {what} folder '{folder}' does not exist.")
    by_stem: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_dir() or path.name.startswith(".") or path.name.lower() in IGNORED_FILES:
            continue
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            raise DatasetError(
                f"'{path}' in the {what} folder is not an image (extension '{path.suffix}'; expected one of "
                f"{', '.join(IMAGE_EXTENSIONS)}). Remove it or move it elsewhere."
            )
        if path.stem in by_stem:
            raise DatasetError(f"Two {what} files share the name '{path.stem}': '{by_stem[path.stem]}' and '{path}'.")
        by_stem[path.stem] = path
    if not by_stem:
        raise DatasetError(f"The {what} folder '{folder}' is empty: no image files in it.")
    return by_stem


def pair_files(source: SplitSource) -> list[SampleFiles]:
    """Pair the image, alpha and trimap files of one split by stem; sorted by name.

    Raises DatasetError naming the first file whose partner is missing (an image without alpha/trimap, or an
    alpha/trimap without image).
    """
    images = list_folder_images(source.image_dir, "image")
    partners: dict[str, dict[str, Path]] = {}
    for kind, folder in (("alpha", source.alpha_dir), ("trimap", source.trimap_dir)):
        if folder is not None:
            partners[kind] = list_folder_images(folder, kind)
    for kind, files in partners.items():
        folder = source.alpha_dir if kind == "alpha" else source.trimap_dir
        for stem, path in images.items():
            if stem not in files:
                raise DatasetError(f"The image '{path}' has no {kind} partner: no '{stem}.*' in '{folder}'.")
        for stem, path in files.items():
            if stem not in images:
                raise DatasetError(f"The {kind} '{path}' has no image partner: no '{stem}.*' in '{source.image_dir}'.")
    return [
        SampleFiles(
            name=stem,
            image=str(images[stem]),
            alpha=str(partners["alpha"][stem]) if "alpha" in partners else None,
            trimap=str(partners["trimap"][stem]) if "trimap" in partners else None,
        )
        for stem in sorted(images)
    ]


def _probe_size(path: str, what: str) -> tuple[int, int]:
    """(width, height) as read (EXIF applied), from the file header; DatasetError when it is not a readable image."""
    try:
        return image_size(path, what)
    except ImageReadError as e:
        raise DatasetError(f"The {what} file '{path}' is not a readable image ({e}).") from None


def check_sizes(samples: Sequence[SampleFiles]) -> None:
    """Open each file's header; raise DatasetError for an unreadable file or an alpha/trimap whose size differs."""
    for sample in samples:
        size = _probe_size(sample.image, "image")
        for kind in ("alpha", "trimap"):
            path = getattr(sample, kind)
            if path is None:
                continue
            other = _probe_size(path, kind)
            if other != size:
                raise DatasetError(
                    f"Size mismatch: the {kind} '{path}' is {other[0]}x{other[1]} but its image '{sample.image}' is "
                    f"{size[0]}x{size[1]} (WxH)."
                )


# ---------------------------------------------------------------------------------------------------------------
# Layouts
# ---------------------------------------------------------------------------------------------------------------


def _optional_dir(path: Path) -> Path | None:
    return path if path.is_dir() else None


def _split_name(text: str) -> str:
    """A valid datasets split name from a folder name (letters, digits and underscores)."""
    name = re.sub(r"\W+", "_", text).strip("_")
    if not name:
        raise DatasetError(f"Cannot make a split name from the folder name '{text}'.")
    return name


def detect_layout(root, image_dir: str = "image") -> str:
    """``"am2k"``, ``"p3m"`` or ``"generic"`` for a dataset folder; DatasetError when it is none of them."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"The dataset folder '{root}' does not exist.")
    if any((root / split / "original").is_dir() for split in ("train", "validation")):
        return "am2k"
    if (root / "train" / "blurred_image").is_dir() or (root / "validation" / "P3M-500-P").is_dir() or (
        root / "validation" / "P3M-500-NP"
    ).is_dir():
        return "p3m"
    if (root / image_dir).is_dir() or any((sub / image_dir).is_dir() for sub in root.iterdir() if sub.is_dir()):
        return "generic"
    raise DatasetError(
        f"Cannot tell the layout of '{root}': expected AM-2K (train/original + train/mask), P3M-10K "
        f"(train/blurred_image + train/mask, validation/P3M-500-P, ...) or a generic folder with '{image_dir}/' and "
        f"'alpha/' and/or 'trimap/' sub-folders (directly or per split)."
    )


def layout_splits(
    root,
    layout: str = "auto",
    *,
    image_dir: str = "image",
    alpha_dir: str = "alpha",
    trimap_dir: str = "trimap",
    split_name: str = "train",
) -> list[SplitSource]:
    """The splits of a dataset folder and where their files are (see the module doc for the layouts)."""
    root = Path(root)
    if layout not in LAYOUTS:
        raise DatasetError(f"Unknown layout '{layout}'; choose one of {', '.join(LAYOUTS)}.")
    if layout == "auto":
        layout = detect_layout(root, image_dir)
    if not root.is_dir():
        raise DatasetError(f"The dataset folder '{root}' does not exist.")
    splits: list[SplitSource] = []
    if layout == "am2k":
        for split in ("train", "validation"):
            base = root / split
            if not base.is_dir():
                continue
            if not (base / "original").is_dir():
                raise DatasetError(f"AM-2K layout: '{base / 'original'}' is missing.")
            if not (base / "mask").is_dir():
                raise DatasetError(f"AM-2K layout: '{base / 'mask'}' is missing (the alpha mattes).")
            splits.append(SplitSource(split, base / "original", base / "mask", _optional_dir(base / "trimap")))
    elif layout == "p3m":
        candidates = [
            ("train", root / "train", "blurred_image", False),
            ("validation_p", root / "validation" / "P3M-500-P", "blurred_image", True),
            ("validation_np", root / "validation" / "P3M-500-NP", "original_image", True),
        ]
        for split, base, image_sub, has_trimap in candidates:
            if not base.is_dir():
                continue
            for sub in (image_sub, "mask"):
                if not (base / sub).is_dir():
                    raise DatasetError(f"P3M-10K layout: '{base / sub}' is missing.")
            trimap = _optional_dir(base / "trimap") if has_trimap else None
            splits.append(SplitSource(split, base / image_sub, base / "mask", trimap))
    else:  # generic

        def generic(split: str, base: Path) -> SplitSource:
            alpha, trimap = _optional_dir(base / alpha_dir), _optional_dir(base / trimap_dir)
            if alpha is None and trimap is None:
                raise DatasetError(
                    f"'{base}' has '{image_dir}/' but neither '{alpha_dir}/' nor '{trimap_dir}/': a matting dataset "
                    f"needs alphas or trimaps."
                )
            return SplitSource(split, base / image_dir, alpha, trimap)

        if (root / image_dir).is_dir():
            splits.append(generic(_split_name(split_name), root))
        else:
            for sub in sorted(p for p in root.iterdir() if p.is_dir() and (p / image_dir).is_dir()):
                splits.append(generic(_split_name(sub.name), sub))
    if not splits:
        raise DatasetError(f"No splits found in '{root}' for the {layout} layout.")
    return splits
