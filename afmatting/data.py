"""Matting datasets: folder layouts -> Hugging Face ``datasets``, one loader, training and validation transforms.

Dataset columns (see docs/DESIGN.md):

* ``image``: PIL RGB (stored as the original JPEG/PNG bytes when they already are RGB JPEG/PNG);
* ``trimap``: PIL L with values {0, 128, 255} (from the layout's trimap folder, else generated from the alpha with
  :func:`afmatting.trimap.alpha_to_trimap` and a fixed per-image seed);
* ``alpha``: PIL L 0..255, present when the layout has alphas (evaluation and the fine-label baseline only);
* ``name``: the file stem (str).

Folder layouts understood by :func:`convert_folder` (``layout="auto"`` detects them):

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

import hashlib
import io
import math
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image

from .errors import AFMattingError, DatasetError, ImageReadError
from .io import EXIF_ORIENTATION, IMAGE_EXTENSIONS, image_size, load_image, load_matte
from .processing import alpha_to_tensor, image_to_tensor, to_uint8, trimap_to_tensor
from .trimap import alpha_to_trimap, load_trimap

#: bump when the conversion output changes, so cached conversions are rebuilt
CONVERSION_VERSION = 1
#: default seed of the generated trimaps
DEFAULT_TRIMAP_SEED = 0
#: split preferred for evaluation when none is named, in this order
EVAL_SPLIT_PREFERENCE = ("validation", "validation_p", "test", "val")
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


# ---------------------------------------------------------------------------------------------------------------
# Encoding one sample
# ---------------------------------------------------------------------------------------------------------------


def trimap_seed_for(name: str, seed: int = DEFAULT_TRIMAP_SEED) -> int:
    """The per-image seed of a generated trimap: depends on the base seed and the sample name, not on order."""
    return (int(seed) * 1_000_003 + zlib.crc32(name.encode("utf-8"))) % (2**32)


def _png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def _as_dataset_error(error: AFMattingError, path: str, what: str) -> DatasetError:
    """A reader's error on one file of a dataset folder, as the DatasetError that names the file."""
    return DatasetError(f"Cannot decode the {what} file '{path}': {error}")


def _keeps_own_bytes(path: str, modes: tuple, formats: tuple) -> bool:
    """Whether a file can go into the dataset as it is: the right mode and format, and no EXIF rotation to apply."""
    with Image.open(path) as img:
        return img.mode in modes and img.format in formats and img.getexif().get(EXIF_ORIENTATION, 1) == 1


def encode_image(path: str) -> dict:
    """``{"bytes", "path"}`` for the image column: the file's own bytes when it is an RGB JPEG/PNG without an EXIF
    rotation, else a PNG of the pixels as :func:`afmatting.io.load_image` reads them (8-bit RGB, EXIF applied)."""
    try:
        if _keeps_own_bytes(path, ("RGB",), ("JPEG", "PNG")):
            return {"bytes": Path(path).read_bytes(), "path": None}
        return {"bytes": _png_bytes(to_uint8(load_image(path))), "path": None}
    except (AFMattingError, OSError) as e:
        raise _as_dataset_error(e, path, "image") from None


def read_alpha(path: str) -> np.ndarray:
    """An alpha file as uint8 (H, W) (:func:`afmatting.io.load_matte` on 8-bit levels); DatasetError when unreadable."""
    try:
        return read_alpha_value(path)
    except AFMattingError as e:
        raise _as_dataset_error(e, path, "alpha") from None


def encode_sample(sample: SampleFiles, seed: int = DEFAULT_TRIMAP_SEED) -> dict:
    """One dataset row (encoded images) from a sample's files; trimaps are generated from the alpha when absent."""
    row: dict = {"image": encode_image(sample.image), "name": sample.name}
    alpha = None
    if sample.alpha is not None:
        alpha = read_alpha(sample.alpha)
        if _keeps_own_bytes(sample.alpha, ("L",), ("PNG",)):  # keep the file's own bytes (lossless already)
            row["alpha"] = {"bytes": Path(sample.alpha).read_bytes(), "path": None}
        else:
            row["alpha"] = {"bytes": _png_bytes(alpha), "path": None}
    if sample.trimap is not None:
        trimap = load_trimap(sample.trimap)
    else:
        trimap = alpha_to_trimap(alpha, seed=trimap_seed_for(sample.name, seed))
    row["trimap"] = {"bytes": _png_bytes(trimap), "path": None}
    return row


def _generate_rows(samples: list, seed: int):
    """datasets generator: yields encoded rows for ``samples`` (tuples name, image, alpha, trimap)."""
    for fields in samples:
        yield encode_sample(SampleFiles(*fields), seed)


def dataset_features(has_alpha: bool):
    """datasets.Features of a matting split (image, trimap, [alpha], name)."""
    import datasets

    columns = {"image": datasets.Image(), "trimap": datasets.Image()}
    if has_alpha:
        columns["alpha"] = datasets.Image()
    columns["name"] = datasets.Value("string")
    return datasets.Features(columns)


def _fingerprint(samples: Sequence[SampleFiles], seed: int) -> str:
    """Hash of the inputs (paths, sizes, modification times, seed, code version): a changed file re-converts."""
    h = hashlib.sha256(f"afmatting-convert-v{CONVERSION_VERSION}-seed{seed}".encode())
    for sample in samples:
        for path in (sample.image, sample.alpha, sample.trimap):
            if path is None:
                h.update(b"-")
                continue
            st = os.stat(path)
            h.update(f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:32]


def build_split(
    samples: Sequence[SampleFiles],
    *,
    split: str = "train",
    seed: int = DEFAULT_TRIMAP_SEED,
    num_proc: int | None = None,
    cache_dir: str | None = None,
    progress: bool = True,
):
    """A ``datasets.Dataset`` from paired sample files (decoded, normalised, trimaps generated where absent)."""
    import datasets

    if not samples:
        raise DatasetError(f"The {split} split has no samples.")
    has_alpha = samples[0].alpha is not None
    if samples[0].alpha is None and samples[0].trimap is None:
        raise DatasetError(f"The {split} split has neither alphas nor trimaps.")
    rows = [(s.name, s.image, s.alpha, s.trimap) for s in samples]
    was_disabled = datasets.is_progress_bar_enabled() is False
    if not progress:
        datasets.disable_progress_bars()
    try:
        return datasets.Dataset.from_generator(
            _generate_rows,
            features=dataset_features(has_alpha),
            gen_kwargs={"samples": rows, "seed": int(seed)},
            num_proc=num_proc if num_proc and num_proc > 1 and len(rows) > 1 else None,
            cache_dir=cache_dir,
            split=datasets.NamedSplit(split),
            fingerprint=_fingerprint(samples, seed),
        )
    except Exception as e:  # datasets wraps generator errors; surface ours
        cause = e
        while cause is not None and not isinstance(cause, AFMattingError):
            cause = cause.__cause__ or cause.__context__
        if cause is not None:
            raise cause from None
        raise
    finally:
        if not progress and not was_disabled:
            datasets.enable_progress_bars()


def convert_folder(
    root,
    layout: str = "auto",
    *,
    image_dir: str = "image",
    alpha_dir: str = "alpha",
    trimap_dir: str = "trimap",
    split_name: str = "train",
    seed: int = DEFAULT_TRIMAP_SEED,
    num_proc: int | None = None,
    cache_dir: str | None = None,
    progress: bool = True,
):
    """Convert a dataset folder (AM-2K, P3M-10K or generic; see the module doc) into a ``datasets.DatasetDict``.

    Every pair is checked (partners present, readable, same size) before any conversion starts. Trimaps missing from
    the layout are generated from the alpha with :func:`afmatting.trimap.alpha_to_trimap` and the per-image seed
    :func:`trimap_seed_for` ``(name, seed)``. Results are cached by datasets under ``cache_dir`` (default: the
    datasets cache), keyed on the input files' paths, sizes and modification times.
    """
    import datasets

    sources = layout_splits(
        root, layout, image_dir=image_dir, alpha_dir=alpha_dir, trimap_dir=trimap_dir, split_name=split_name
    )
    paired = {}
    for source in sources:
        samples = pair_files(source)
        check_sizes(samples)
        paired[source.split] = samples
    out = datasets.DatasetDict()
    for split, samples in paired.items():
        if progress:
            print(f"Converting {split}: {len(samples)} images from '{Path(samples[0].image).parent}'", flush=True)
        out[split] = build_split(
            samples, split=split, seed=seed, num_proc=num_proc, cache_dir=cache_dir, progress=progress
        )
    return out


# ---------------------------------------------------------------------------------------------------------------
# Saving, dataset card, loading
# ---------------------------------------------------------------------------------------------------------------


def dataset_card(dataset_dict, *, title: str, source: str = "", layout: str = "", seed: int = DEFAULT_TRIMAP_SEED) -> str:
    """A README.md (YAML front matter + text) describing a converted matting dataset."""
    lines_splits = "\n".join(f"| `{name}` | {len(ds)} |" for name, ds in dataset_dict.items())
    columns = sorted({c for ds in dataset_dict.values() for c in ds.column_names})
    has_alpha = "alpha" in columns
    return f"""---
pretty_name: {title}
task_categories:
- image-segmentation
tags:
- image-matting
- alpha-matting
- trimap
license: other
---

# {title}

Converted with `afmatting` (`train/prepare_dataset.py`){f" from the {layout} folder layout" if layout else ""}.
{f"Source: `{source}`." if source else ""}

| split | images |
|---|---|
{lines_splits}

## Columns
- `image`: RGB photo.
- `trimap`: grey PNG with 0 = background, 128 = unknown, 255 = foreground. Where the source has no trimaps they were
  generated from the alpha matte as in "Training Matting Models without Alpha Labels" (Liu et al., AAAI 2025):
  foreground (alpha = 1) and background (alpha = 0) eroded separately by random elliptical kernels of 1-29 px
  (at 640 px resolution, scaled to the image), the rest unknown; base seed {seed}, per-image seed from the file name.
  The unknown band covers every fractional-alpha pixel and the known labels are exact.
{"- `alpha`: the ground-truth alpha matte (grey PNG, 0..255). Alpha-free training must drop this column; it is kept for evaluation and for the fine-label baseline." if has_alpha else ""}
- `name`: the source file's stem.

## Licence
The images and mattes keep the licence of the original dataset; check its terms (AM-2K and P3M-10K are released for
non-commercial research) before redistributing this conversion.
"""


def save_dataset(dataset_dict, out_dir, card: str | None = None) -> Path:
    """``save_to_disk`` into ``out_dir`` and write the dataset card as ``README.md`` beside it."""
    out = Path(out_dir)
    dataset_dict.save_to_disk(str(out))
    if card is not None:
        (out / "README.md").write_text(card, encoding="utf-8")
    return out


def push_dataset(dataset_dict, repo_id: str, card: str | None = None, private: bool | None = None) -> None:
    """``push_to_hub`` and replace the card's text with ``card`` (keeping the metadata datasets wrote)."""
    dataset_dict.push_to_hub(repo_id, private=private)
    if card is not None:
        from huggingface_hub import DatasetCard

        existing = DatasetCard.load(repo_id, repo_type="dataset")
        ours = DatasetCard(card)
        merged = existing.data.to_dict()
        merged.update({k: v for k, v in ours.data.to_dict().items() if k not in merged})
        ours.data = type(existing.data)(**merged)
        ours.push_to_hub(repo_id, repo_type="dataset")


def _is_saved_dataset(path: Path) -> bool:
    return (path / "dataset_dict.json").is_file() or (
        (path / "state.json").is_file() and (path / "dataset_info.json").is_file()
    )


def load_matting_dataset(
    source,
    split: str | None = None,
    *,
    layout: str = "auto",
    image_dir: str = "image",
    alpha_dir: str = "alpha",
    trimap_dir: str = "trimap",
    seed: int = DEFAULT_TRIMAP_SEED,
    cache_dir: str | None = None,
    progress: bool = False,
):
    """Load a matting dataset, the one loader that training and evaluation share.

    ``source`` is a folder written by ``save_to_disk`` (``train/prepare_dataset.py``), a raw dataset folder in one of
    the layouts of :func:`convert_folder` (converted on the fly, cached), or a Hub dataset id. Returns the
    ``DatasetDict`` (``split=None``) or the ``Dataset`` of ``split``; DatasetError names the available splits when
    ``split`` is not one of them. The columns are ``image``, ``trimap``, ``name`` and, when known, ``alpha``.
    """
    import datasets

    text = os.fspath(source)
    path = Path(text).expanduser()
    if path.is_dir():
        if _is_saved_dataset(path):
            loaded = datasets.load_from_disk(str(path))
        else:
            loaded = convert_folder(
                path,
                layout,
                image_dir=image_dir,
                alpha_dir=alpha_dir,
                trimap_dir=trimap_dir,
                seed=seed,
                cache_dir=cache_dir,
                progress=progress,
            )
    elif path.exists():
        raise DatasetError(f"'{text}' is a file; expected a dataset folder or a Hub dataset id.")
    else:
        if not re.fullmatch(r"[\w.\-]+(/[\w.\-]+)?", text):
            raise DatasetError(f"'{text}' is neither an existing folder nor a Hub dataset id (owner/name).")
        try:
            loaded = datasets.load_dataset(text, cache_dir=cache_dir)
        except Exception as e:
            raise DatasetError(
                f"'{text}' is not a local folder, and loading it as a Hub dataset failed: {type(e).__name__}: {e}"
            ) from None
    if isinstance(loaded, datasets.Dataset):
        if split is not None and str(loaded.split) not in (split, "None"):
            raise DatasetError(f"'{text}' holds only the split '{loaded.split}', not '{split}'.")
        loaded = validate_columns(loaded, text)
        return loaded
    for name in loaded:
        validate_columns(loaded[name], f"{text} [{name}]")
    if split is None:
        return loaded
    return select_split(loaded, split, source_name=text)


def validate_columns(dataset, source_name: str = "dataset"):
    """Check that a split has ``image``, ``trimap`` (or ``alpha`` to derive it from) and ``name``; return it.

    A dataset with ``alpha`` but no ``trimap`` gets a ``trimap`` column generated with :func:`alpha_to_trimap`.
    """
    columns = set(dataset.column_names)
    if "image" not in columns:
        raise DatasetError(f"{source_name} has no 'image' column (columns: {sorted(columns)}).")
    if "trimap" not in columns and "alpha" not in columns:
        raise DatasetError(f"{source_name} has neither a 'trimap' nor an 'alpha' column (columns: {sorted(columns)}).")
    if "name" not in columns:
        dataset = dataset.add_column("name", [f"{i:06d}" for i in range(len(dataset))])
    if "trimap" not in columns:
        import datasets

        def add_trimap(example):
            alpha = read_alpha_value(example["alpha"])
            trimap = alpha_to_trimap(alpha, seed=trimap_seed_for(example["name"]))
            return {"trimap": Image.fromarray(trimap)}

        features = dataset.features.copy()
        features["trimap"] = datasets.Image()
        dataset = dataset.map(add_trimap, features=features)
    return dataset


def select_split(dataset_dict, split: str | None = None, *, source_name: str = "dataset"):
    """The named split, or for ``split=None`` the only split or the first of EVAL_SPLIT_PREFERENCE present."""
    names = list(dataset_dict.keys())
    if split is None:
        if len(names) == 1:
            return dataset_dict[names[0]]
        for candidate in EVAL_SPLIT_PREFERENCE:
            if candidate in dataset_dict:
                return dataset_dict[candidate]
        raise DatasetError(f"{source_name} has the splits {names}; name one (--split).")
    if split not in dataset_dict:
        raise DatasetError(f"{source_name} has no split '{split}'; its splits are {names}.")
    return dataset_dict[split]


def drop_alpha(dataset):
    """The dataset (Dataset or DatasetDict) without its ``alpha`` column: what alpha-free training may see."""
    names = dataset.column_names
    has_alpha = any("alpha" in cols for cols in names.values()) if isinstance(names, dict) else "alpha" in names
    if not has_alpha:
        return dataset
    if isinstance(names, dict):
        import datasets

        return datasets.DatasetDict(
            {k: (ds.remove_columns("alpha") if "alpha" in ds.column_names else ds) for k, ds in dataset.items()}
        )
    return dataset.remove_columns("alpha")


# ---------------------------------------------------------------------------------------------------------------
# Decoded values -> arrays
# ---------------------------------------------------------------------------------------------------------------


def dataset_value(value, what: str):
    """A dataset cell (PIL image, ``{"bytes", "path"}`` dict as ``datasets`` stores images, path, bytes or array) as
    something the :mod:`afmatting.io` readers take."""
    if isinstance(value, dict):
        if value.get("bytes") is not None:
            return value["bytes"]
        if value.get("path"):
            return value["path"]
    if isinstance(value, (Image.Image, np.ndarray, str, os.PathLike, bytes, bytearray)):
        return value
    raise DatasetError(f"Cannot read the {what} value of type {type(value).__name__}.")


def read_image_value(value) -> np.ndarray:
    """A dataset ``image`` value -> float32 (H, W, 3) RGB in [0, 1] (:func:`afmatting.io.load_image`: EXIF applied)."""
    return load_image(dataset_value(value, "image"))


def read_trimap_value(value) -> np.ndarray:
    """A dataset ``trimap`` value -> uint8 (H, W) {0, 128, 255} (:func:`afmatting.trimap.load_trimap`)."""
    return load_trimap(dataset_value(value, "trimap"))


def read_alpha_value(value) -> np.ndarray:
    """A dataset ``alpha`` value -> uint8 (H, W) 0..255 (:func:`afmatting.io.load_matte`, on the 8-bit levels the
    dataset stores)."""
    return to_uint8(load_matte(dataset_value(value, "alpha")))


# ---------------------------------------------------------------------------------------------------------------
# Transforms
# ---------------------------------------------------------------------------------------------------------------

SUPERVISIONS = ("alpha_free", "alpha")


def _uniform(low: float, high: float) -> float:
    import torch

    return low + (high - low) * float(torch.rand(()))


def _randint(high: int) -> int:
    """Uniform integer in [0, high) from torch's RNG (seeded per DataLoader worker)."""
    import torch

    return int(torch.randint(high, ()))


def choose_crop(trimap: np.ndarray, window: int) -> tuple[int, int]:
    """Top-left (y, x) of a ``window`` x ``window`` crop centred on a random unknown (128) pixel.

    The centre is drawn among the unknown pixels at which a centred window fits inside the image (as the paper's
    code does), so ``trimap[y + window // 2, x + window // 2] == 128``. Without such pixels the window is centred on
    any unknown pixel and clamped to the image; without unknown pixels it is placed uniformly at random.
    ``trimap`` is uint8 (H, W) with H, W >= window.
    """
    h, w = trimap.shape
    half = window // 2
    inner = trimap[half : h - window + half + 1, half : w - window + half + 1]
    ys, xs = np.nonzero(inner == 128)
    if len(ys):
        i = _randint(len(ys))
        return int(ys[i]), int(xs[i])
    ys, xs = np.nonzero(trimap == 128)
    if len(ys):
        i = _randint(len(ys))
        return int(min(max(ys[i] - half, 0), h - window)), int(min(max(xs[i] - half, 0), w - window))
    return _randint(h - window + 1), _randint(w - window + 1)


def colour_jitter(image, strength: float):
    """Random brightness, contrast and saturation, each by a factor in [1 - strength, 1 + strength].

    ``image`` is a float tensor (3, H, W) in [0, 1]; returns the same shape, clamped to [0, 1].
    """
    if strength <= 0:
        return image
    brightness = _uniform(1 - strength, 1 + strength)
    contrast = _uniform(1 - strength, 1 + strength)
    saturation = _uniform(1 - strength, 1 + strength)
    out = image * brightness
    grey = (0.299 * out[0] + 0.587 * out[1] + 0.114 * out[2]).unsqueeze(0)
    out = (out - grey.mean()) * contrast + grey.mean()
    grey = (0.299 * out[0] + 0.587 * out[1] + 0.114 * out[2]).unsqueeze(0)
    out = (out - grey) * saturation + grey
    return out.clamp(0.0, 1.0)


class TrainTransform:
    """Training transform for ``Dataset.set_transform`` / ``with_transform`` (picklable, DataLoader-worker safe).

    Per example: a square window centred on a random unknown pixel (scale jitter picks its side as
    ``crop_size / s`` with ``log s`` uniform in ``log(scale_range)``; images smaller than the window are in effect
    upscaled, since the window then shrinks to the short side and is resized to ``crop_size``), a horizontal flip with
    probability 0.5, and colour jitter of the image. ``scale_range=(1, 1)``, ``hflip=False``, ``colour=0`` give the
    paper's recipe (crop only; small images upscaled).

    Output per example (dict): ``image`` float (3, S, S) in [0, 1], ``trimap`` float (1, S, S) in {0, 0.5, 1},
    ``name`` str, ``neighbours`` int8 (K, 2, S, S) when ``with_neighbours`` (DDC search of
    :func:`afmatting.losses.find_similar_neighbours` on the final image, ``K = neighbour_kernel``), and ``alpha``
    float (1, S, S) in [0, 1] only when ``supervision="alpha"``.

    With ``supervision="alpha_free"`` (default) the transform reads only ``image``, ``trimap`` and ``name``; use
    :func:`training_dataset`, which also removes the ``alpha`` column before any transform sees it.
    Randomness comes from torch's global RNG (seeded per DataLoader worker; ``torch.manual_seed`` for repeatability).
    """

    def __init__(
        self,
        crop_size: int = 512,
        *,
        supervision: str = "alpha_free",
        scale_range: tuple[float, float] = (0.75, 1.33),
        hflip: bool = True,
        colour: float = 0.2,
        with_neighbours: bool = False,
        neighbour_kernel: int = 11,
    ):
        if supervision not in SUPERVISIONS:
            raise AFMattingError(f"supervision must be one of {SUPERVISIONS}, got '{supervision}'.")
        if crop_size < 8:
            raise AFMattingError(f"crop_size must be at least 8, got {crop_size}.")
        lo, hi = scale_range
        if not 0 < lo <= hi:
            raise AFMattingError(f"scale_range must be 0 < low <= high, got {scale_range}.")
        self.crop_size = int(crop_size)
        self.supervision = supervision
        self.scale_range = (float(lo), float(hi))
        self.hflip = bool(hflip)
        self.colour = float(colour)
        self.with_neighbours = bool(with_neighbours)
        self.neighbour_kernel = int(neighbour_kernel)

    def crop_window(self, height: int, width: int) -> int:
        """Side of the source window for this draw: ``crop_size / scale``, at most the image's short side."""
        lo, hi = self.scale_range
        scale = math.exp(_uniform(math.log(lo), math.log(hi))) if hi > lo else lo
        return max(1, min(int(round(self.crop_size / scale)), height, width))

    def transform_example(self, image, trimap, name: str = "", alpha=None) -> dict:
        """Transform one example (PIL or arrays; see :class:`TrainTransform` for the output)."""
        import torch

        size = self.crop_size
        image_pil = Image.fromarray(to_uint8(read_image_value(image)), mode="RGB")
        trimap_arr = read_trimap_value(trimap)
        if trimap_arr.shape != (image_pil.height, image_pil.width):
            raise DatasetError(
                f"Example '{name}': trimap is {trimap_arr.shape[1]}x{trimap_arr.shape[0]} but the image is "
                f"{image_pil.width}x{image_pil.height}."
            )
        window = self.crop_window(*trimap_arr.shape)
        top, left = choose_crop(trimap_arr, window)
        box = (left, top, left + window, top + window)
        image_crop = np.asarray(image_pil.resize((size, size), Image.BILINEAR, box=box))
        trimap_crop = np.asarray(Image.fromarray(trimap_arr).resize((size, size), Image.NEAREST, box=box))
        out = {"image": image_to_tensor(image_crop), "trimap": trimap_to_tensor(trimap_crop)}
        if self.supervision == "alpha":
            alpha_img = Image.fromarray(read_alpha_value(alpha))
            alpha_crop = np.asarray(alpha_img.resize((size, size), Image.BILINEAR, box=box))
            out["alpha"] = alpha_to_tensor(alpha_crop)
        if self.hflip and float(torch.rand(())) < 0.5:
            out = {k: v.flip(-1) for k, v in out.items()}
        out["image"] = colour_jitter(out["image"], self.colour).contiguous()
        out["trimap"] = out["trimap"].contiguous()
        if "alpha" in out:
            out["alpha"] = out["alpha"].contiguous()
        if self.with_neighbours:
            from .losses import find_similar_neighbours

            out["neighbours"] = find_similar_neighbours(out["image"], kernel_size=self.neighbour_kernel)
        out["name"] = name
        return out

    def __call__(self, batch: dict) -> dict:
        """Batched form for ``set_transform``: dict of lists in, dict of lists out."""
        images, trimaps = batch["image"], batch["trimap"]
        names = batch.get("name") or [""] * len(images)
        if self.supervision == "alpha":
            if "alpha" not in batch:
                raise DatasetError("supervision='alpha' needs an 'alpha' column; this dataset has none.")
            alphas = batch["alpha"]
        else:
            alphas = [None] * len(images)
        outs = [self.transform_example(i, t, n, a) for i, t, n, a in zip(images, trimaps, names, alphas)]
        return {key: [o[key] for o in outs] for key in outs[0]}


class EvalTransform:
    """Validation transform: the full image, no augmentation (the model pads to its stride itself).

    Output per example: ``image`` float (3, H, W) in [0, 1], ``trimap`` float (1, H, W) {0, 0.5, 1}, ``name``, and
    ``alpha`` float (1, H, W) in [0, 1] when ``with_alpha`` and the dataset has it. Sizes differ between images, so
    batch with ``batch_size=1``.
    """

    def __init__(self, with_alpha: bool = True):
        self.with_alpha = bool(with_alpha)

    def transform_example(self, image, trimap, name: str = "", alpha=None) -> dict:
        out = {"image": image_to_tensor(read_image_value(image)),
               "trimap": trimap_to_tensor(read_trimap_value(trimap))}
        if alpha is not None:
            out["alpha"] = alpha_to_tensor(read_alpha_value(alpha))
        out["name"] = name
        return out

    def __call__(self, batch: dict) -> dict:
        images, trimaps = batch["image"], batch["trimap"]
        names = batch.get("name") or [""] * len(images)
        alphas = batch["alpha"] if self.with_alpha and "alpha" in batch else [None] * len(images)
        outs = [self.transform_example(i, t, n, a) for i, t, n, a in zip(images, trimaps, names, alphas)]
        return {key: [o[key] for o in outs] for key in outs[0]}


def training_dataset(dataset, supervision: str = "alpha_free", **transform_options):
    """The training view of a split: ``alpha`` removed for alpha-free supervision, then :class:`TrainTransform`.

    Returns ``dataset.with_transform(TrainTransform(supervision=..., **transform_options))``; items are dicts of
    tensors (plus ``name``) that the default DataLoader collate stacks.
    """
    if supervision not in SUPERVISIONS:
        raise AFMattingError(f"supervision must be one of {SUPERVISIONS}, got '{supervision}'.")
    if supervision == "alpha_free":
        dataset = drop_alpha(dataset)
    elif "alpha" not in dataset.column_names:
        raise DatasetError("supervision='alpha' needs an 'alpha' column; this dataset has none.")
    return dataset.with_transform(TrainTransform(supervision=supervision, **transform_options))


def validation_dataset(dataset, with_alpha: bool = True):
    """The validation view of a split: full images through :class:`EvalTransform` (use ``batch_size=1``)."""
    if not with_alpha:
        dataset = drop_alpha(dataset)
    return dataset.with_transform(EvalTransform(with_alpha=with_alpha))


def dataset_summary(dataset_dict) -> str:
    """One line per split: name, number of images, columns."""
    return "\n".join(f"{name}: {len(ds)} images, columns {ds.column_names}" for name, ds in dataset_dict.items())


def iter_examples(dataset, limit: int | None = None) -> Iterable[dict]:
    """Rows of a Dataset (or a list of dicts), at most ``limit``."""
    for i, row in enumerate(dataset):
        if limit is not None and i >= limit:
            break
        yield row


__all__ = [
    "SampleFiles",
    "SplitSource",
    "TrainTransform",
    "EvalTransform",
    "convert_folder",
    "dataset_card",
    "detect_layout",
    "drop_alpha",
    "load_matting_dataset",
    "layout_splits",
    "pair_files",
    "push_dataset",
    "save_dataset",
    "select_split",
    "training_dataset",
    "validation_dataset",
]
