"""Converting a dataset folder into a Hugging Face ``datasets`` split: encoded rows, generated trimaps, cards.

Rows hold the files' own bytes where they can (RGB JPEG/PNG images, grey PNG alphas without an EXIF rotation), else
PNGs of the pixels as :mod:`afmatting.io` reads them. Trimaps missing from a layout are generated from the alpha
with :func:`afmatting.trimap.alpha_to_trimap` and the per-image seed :func:`trimap_seed_for`.
"""

from __future__ import annotations

import hashlib
import io
import os
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from ..errors import AFMattingError, DatasetError
from ..io import EXIF_ORIENTATION, load_image, load_matte
from ..processing import to_uint8
from ..trimap import alpha_to_trimap, load_trimap
from .layouts import SampleFiles, check_sizes, layout_splits, pair_files

#: bump when the conversion output changes, so cached conversions are rebuilt
CONVERSION_VERSION = 1
#: default seed of the generated trimaps
DEFAULT_TRIMAP_SEED = 0


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
        return to_uint8(load_matte(path))
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
