"""Loading matting datasets (saved, raw folders, Hub ids); reading their cells with the :mod:`afmatting.io` readers."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DatasetError
from ..io import load_image, load_matte
from ..processing import to_uint8
from ..trimap import alpha_to_trimap, load_trimap
from .conversion import DEFAULT_TRIMAP_SEED, convert_folder, trimap_seed_for
from .layouts import SplitSource, check_sizes, pair_files

#: split preferred for evaluation when none is named, in this order
EVAL_SPLIT_PREFERENCE = ("validation", "validation_p", "test", "val")


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


def dataset_summary(dataset_dict) -> str:
    """One line per split: name, number of images, columns."""
    return "\n".join(f"{name}: {len(ds)} images, columns {ds.column_names}" for name, ds in dataset_dict.items())


def folder_examples(root, *, image_dir: str = "image", alpha_dir: str | None = "alpha",
                    trimap_dir: str | None = "trimap", limit: int | None = None) -> list[dict]:
    """The examples of a raw ``image/`` + ``alpha/`` + ``trimap/`` folder as rows of file paths, without converting
    it: ``[{"name", "image", "alpha", "trimap"}, ...]`` sorted by name, at most ``limit``. Files are paired and their
    sizes checked as :func:`convert_folder` does; the rows read with :func:`read_image_value` and its siblings (and
    go straight into :func:`afmatting.evaluation.evaluate`)."""
    root = Path(root)
    source = SplitSource("examples", root / image_dir, root / alpha_dir if alpha_dir else None,
                         root / trimap_dir if trimap_dir else None)
    samples = pair_files(source)
    if limit is not None:
        samples = samples[: max(0, int(limit))]
    check_sizes(samples)
    return [{"name": s.name, "image": s.image, "alpha": s.alpha, "trimap": s.trimap} for s in samples]
