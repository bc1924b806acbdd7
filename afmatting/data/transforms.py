"""Training and validation transforms of matting datasets (crops, flips, colour jitter, DDC neighbours)."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from ..errors import AFMattingError, DatasetError
from ..neighbours import find_similar_neighbours
from ..processing import alpha_to_tensor, image_to_tensor, to_uint8, trimap_to_tensor
from .loading import drop_alpha, read_alpha_value, read_image_value, read_trimap_value

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
