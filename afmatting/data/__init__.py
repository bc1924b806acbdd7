"""Matting datasets: folder layouts -> Hugging Face ``datasets``, one loader, training and validation transforms.

Dataset columns (see docs/DESIGN.md):

* ``image``: PIL RGB (stored as the original JPEG/PNG bytes when they already are RGB JPEG/PNG);
* ``trimap``: PIL L with values {0, 128, 255} (from the layout's trimap folder, else generated from the alpha with
  :func:`afmatting.trimap.alpha_to_trimap` and a fixed per-image seed);
* ``alpha``: PIL L 0..255, present when the layout has alphas (evaluation and the fine-label baseline only);
* ``name``: the file stem (str).

Modules, one concern each: ``layouts`` (folder layouts, pairing, size checks), ``conversion`` (folders -> encoded
``datasets`` splits, cards), ``loading`` (the one loader, split choice, reading cells with the :mod:`afmatting.io`
readers), ``transforms`` (training / validation views), ``synthetic`` (procedural data with known alpha). The
``datasets`` library is imported only when a dataset is built or loaded.
"""

from .conversion import (
    CONVERSION_VERSION,
    DEFAULT_TRIMAP_SEED,
    build_split,
    convert_folder,
    dataset_card,
    dataset_features,
    encode_image,
    encode_sample,
    push_dataset,
    read_alpha,
    save_dataset,
    trimap_seed_for,
)
from .layouts import (
    IGNORED_FILES,
    LAYOUTS,
    SampleFiles,
    SplitSource,
    check_sizes,
    detect_layout,
    layout_splits,
    list_folder_images,
    pair_files,
)
from .loading import (
    EVAL_SPLIT_PREFERENCE,
    dataset_summary,
    dataset_value,
    folder_examples,
    drop_alpha,
    load_matting_dataset,
    read_alpha_value,
    read_image_value,
    read_trimap_value,
    select_split,
    validate_columns,
)
from .synthetic import make_synthetic_dataset, write_synthetic_folder
from .transforms import (
    SUPERVISIONS,
    EvalTransform,
    TrainTransform,
    choose_crop,
    colour_jitter,
    training_dataset,
    validation_dataset,
)

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
    "make_synthetic_dataset",
    "pair_files",
    "push_dataset",
    "save_dataset",
    "select_split",
    "training_dataset",
    "validation_dataset",
    "write_synthetic_folder",
]
