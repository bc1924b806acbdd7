"""Promptable segmentation: the subject the user points at (clicks, a box) as a mask, by the bundled MobileSAM.

MobileSAM (Zhang et al., "Faster Segment Anything", 2023; Apache-2.0) is SAM's prompt encoder and mask decoder
behind a small TinyViT image encoder. It ships as two ONNX files in ``afmatting/weights/mobile_sam/`` (made by
``scripts/export_mobile_sam.py``; licence in ``afmatting/assets/LICENSES.md``) run by onnxruntime, an optional
dependency (``pip install 'afmatting[onnx]'``):

- the encoder runs once per image (about 0.6 s on one CPU core); its embeddings are cached by the image's content,
  so further clicks on the same photo only run
- the decoder (about 0.04 s per prompt).

Prompts are in the image's pixel coordinates: clicks ``(x, y, label)`` with label 1 (the subject) or 0 (not the
subject), and a box ``(x0, y0, x1, y1)``. The mask feeds the same second stage as the automatic path
(:func:`afmatting.two_stage.matte_from_prior`).

SAM's preprocessing: the image resized so that its long side is 1024 px, normalised with SAM's pixel mean and
deviation (on the 0..255 scale), zero-padded at the bottom and right to 1024 x 1024.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .errors import AFMattingError, CheckpointError, InvalidImageError, MissingDependencyError
from .saliency import onnx_threads

#: the bundled MobileSAM (encoder.onnx + decoder.onnx)
BUNDLED_PROMPT_MODEL = Path(__file__).parent / "weights" / "mobile_sam"
#: SAM's input side: the long side of the resized image, and the padded square
SAM_SIDE = 1024
_PIXEL_MEAN = np.array([123.675, 116.28, 103.53], np.float32)
_PIXEL_STD = np.array([58.395, 57.12, 57.375], np.float32)
#: SAM's prompt labels
POSITIVE, NEGATIVE, BOX_TOP_LEFT, BOX_BOTTOM_RIGHT, PADDING = 1, 0, 2, 3, -1
#: the decoder's whole-object candidate for a single click (masks 1-3 are SAM's part / larger part / whole)
WHOLE_OBJECT = 3
#: images whose embeddings are kept (a user clicks on one photo at a time)
EMBEDDING_CACHE_SIZE = 4


class InvalidPromptError(AFMattingError):
    """A click or box is malformed, outside the image, or there is no positive prompt."""


def resized_shape(height: int, width: int, side: int = SAM_SIDE) -> tuple[int, int]:
    """(h, w) of the image scaled so that its long side is ``side`` (SAM's rounding)."""
    scale = side / max(height, width)
    return int(height * scale + 0.5), int(width * scale + 0.5)


def encoder_input(image: np.ndarray) -> np.ndarray:
    """float (H, W, 3) RGB in [0, 1] -> float32 (1, 3, 1024, 1024): resized (long side 1024), normalised, padded."""
    from PIL import Image

    if image.ndim != 3 or image.shape[2] != 3:
        raise InvalidImageError(f"the segmenter needs an (H, W, 3) RGB image, got shape {image.shape}.")
    h, w = resized_shape(*image.shape[:2])
    pil = Image.fromarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8))
    x = (np.asarray(pil.resize((w, h), Image.BILINEAR), np.float32) - _PIXEL_MEAN) / _PIXEL_STD
    out = np.zeros((1, 3, SAM_SIDE, SAM_SIDE), np.float32)
    out[0, :, :h, :w] = x.transpose(2, 0, 1)
    return out


def _numbers(value, count: int, what: str) -> list[float]:
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        raise InvalidPromptError(f"{what} must be {count} numbers, got {value!r}.") from None
    if len(numbers) != count or not all(math.isfinite(v) for v in numbers):
        raise InvalidPromptError(f"{what} must be {count} finite numbers, got {value!r}.")
    return numbers


def check_prompts(shape: tuple[int, int], clicks=None, box=None) -> tuple[list[tuple[float, float, int]],
                                                                          tuple[float, float, float, float] | None]:
    """Validate prompts against an image of ``shape`` (H, W): (clicks as (x, y, label), box or None).

    A click is (x, y) (a positive click) or (x, y, label) with label 1 (subject) or 0 (not the subject), inside
    0 <= x < W, 0 <= y < H. A box is (x0, y0, x1, y1) with x0 < x1, y0 < y1 inside the image (x1 <= W, y1 <= H).
    At least one positive click or a box is needed. Raises InvalidPromptError naming the bad prompt.
    """
    h, w = shape
    checked = []
    for i, click in enumerate(clicks or []):
        if not isinstance(click, (list, tuple)) or len(click) not in (2, 3):
            raise InvalidPromptError(f"Click {i + 1} must be (x, y) or (x, y, label), got {click!r}.")
        x, y = _numbers(click[:2], 2, f"Click {i + 1}'s position")
        label = click[2] if len(click) == 3 else POSITIVE
        if isinstance(label, str) or label not in (POSITIVE, NEGATIVE):
            raise InvalidPromptError(f"Click {i + 1}'s label must be 1 (the subject) or 0 (not the subject), "
                                     f"got {label!r}.")
        if not (0 <= x < w and 0 <= y < h):
            raise InvalidPromptError(f"Click {i + 1} at ({x:g}, {y:g}) is outside the image ({w} x {h} pixels).")
        checked.append((x, y, int(label)))
    if box is not None:
        x0, y0, x1, y1 = _numbers(box, 4, "The box (x0, y0, x1, y1)")
        if not (x0 < x1 and y0 < y1):
            raise InvalidPromptError(f"The box (x0, y0, x1, y1) = {tuple(box)} is empty: it needs x0 < x1 and y0 < y1.")
        if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
            raise InvalidPromptError(f"The box {tuple(box)} reaches outside the image ({w} x {h} pixels).")
        box = (x0, y0, x1, y1)
    if box is None and not any(label == POSITIVE for _, _, label in checked):
        raise InvalidPromptError("Click on the subject (a positive click) or draw a box around it: "
                                 "negative clicks alone do not say what the subject is.")
    return checked, box


def _content_key(image: np.ndarray) -> str:
    """A digest of the image's pixels and shape: the embedding cache's key."""
    digest = hashlib.blake2b(np.ascontiguousarray(image).view(np.uint8), digest_size=16)
    digest.update(repr((image.shape, image.dtype.str)).encode())
    return digest.hexdigest()


class PromptSegmenter:
    """``segmenter(image, clicks=..., box=...) -> mask float32 (H, W) in [0, 1]`` from the MobileSAM ONNX pair.

    ``folder`` holds ``encoder.onnx`` and ``decoder.onnx`` (see ``scripts/export_mobile_sam.py``).
    """

    def __init__(self, folder=BUNDLED_PROMPT_MODEL, threads: int | None = None):
        folder = Path(folder)
        try:
            import onnxruntime
        except ImportError:
            raise MissingDependencyError(
                "Clicking or boxing the subject needs onnxruntime, an optional dependency: "
                "pip install 'afmatting[onnx]'."
            ) from None
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = onnx_threads(threads)
        self.encoder = self._session(onnxruntime, folder / "encoder.onnx", options)
        self.decoder = self._session(onnxruntime, folder / "decoder.onnx", options)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    @staticmethod
    def _session(onnxruntime, path: Path, options):
        if not path.is_file():
            raise CheckpointError(f"Segmenter file '{path}' does not exist.")
        try:
            return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for unreadable files
            raise CheckpointError(f"'{path}' is not a readable ONNX model ({type(e).__name__}: {e}).") from None

    def embeddings(self, image: np.ndarray) -> np.ndarray:
        """float32 (1, 256, 64, 64) image embeddings, computed once per image content (a small LRU cache)."""
        key = _content_key(image)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        embeddings = self.encoder.run(None, {"image": encoder_input(image)})[0]
        self._cache[key] = embeddings
        while len(self._cache) > EMBEDDING_CACHE_SIZE:
            self._cache.popitem(last=False)
        return embeddings

    @staticmethod
    def prompt_arrays(shape: tuple[int, int], clicks=None, box=None) -> tuple[np.ndarray, np.ndarray]:
        """Checked prompts -> (points float32 (1, N, 2) as (x, y) in the 1024-frame, labels float32 (1, N)).

        Without a box a padding point ends the list (as SAM's prompt encoder does when no box is given).
        """
        clicks, box = check_prompts(shape, clicks, box)
        points = [(x, y) for x, y, _ in clicks]
        labels = [label for _, _, label in clicks]
        if box is None:
            points.append((0.0, 0.0))
            labels.append(PADDING)
        else:
            points += [box[:2], box[2:]]
            labels += [BOX_TOP_LEFT, BOX_BOTTOM_RIGHT]
        h, w = shape
        rh, rw = resized_shape(h, w)
        xy = np.asarray(points, np.float32) * np.array([rw / w, rh / h], np.float32)
        return xy[None], np.asarray(labels, np.float32)[None]

    @staticmethod
    def choose_mask(scores: np.ndarray, labels: np.ndarray) -> int:
        """Which of the decoder's four masks to use: scores float32 (1, 4) predicted IoUs, labels float32 (1, N).

        - One positive click alone: mask 3, the whole-object candidate. Of SAM's three single-click candidates
          (roughly a part, a larger part, the whole object) the predicted IoU often prefers a part (a doll's face, a
          plant's leaf), but the subject of a matte is a whole object; a user who wants a part adds clicks.
        - Any other prompt (a box, several clicks): the mask with the best predicted IoU among all four. SAM's own
          single-mask output for several prompts is mask 0, which on a box sometimes misses most of the subject
          where another candidate has it (alphamatting GT08, box around the subject: SAD 363 for mask 0, 51 for
          the best-scored mask 3).

        Measured on the 27 alphamatting photos (``benchmarks/prompted.py``, box from the GT alpha's bounding box,
        one click at the deepest subject pixel): mean SAD of the binarised mask 31.7 -> 17.2 (box) and 59.2 -> 21.5
        (one click) against SAM's rule.
        """
        prompts = labels[0] != PADDING
        if int(np.count_nonzero(prompts)) == 1 and labels[0, 0] == POSITIVE:
            return WHOLE_OBJECT
        return int(np.argmax(scores[0]))

    @staticmethod
    def upsample_logits(logit: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """One (256, 256) logit map over the padded 1024-frame -> float32 (H, W) logits at the image's ``shape``.

        Bilinear, as SAM: up to the 1024 frame, the padding cropped off, resized to the image.
        """
        from PIL import Image

        rh, rw = resized_shape(*shape)
        frame = Image.fromarray(np.asarray(logit, np.float32), mode="F").resize((SAM_SIDE, SAM_SIDE),
                                                                               Image.BILINEAR)
        return np.asarray(frame.crop((0, 0, rw, rh)).resize((shape[1], shape[0]), Image.BILINEAR), np.float32)

    @classmethod
    def mask_from_logits(cls, logits: np.ndarray, scores: np.ndarray, labels: np.ndarray,
                         shape: tuple[int, int]) -> np.ndarray:
        """The decoder's (1, 4, 256, 256) logits -> float32 (H, W) mask in [0, 1] (sigmoid) at the image's size.

        The mask is the one :meth:`choose_mask` picks.
        """
        logit = cls.upsample_logits(logits[0, cls.choose_mask(scores, labels)], shape)
        return (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)

    def __call__(self, image: np.ndarray, clicks=None, box=None) -> np.ndarray:
        """float32 (H, W, 3) RGB in [0, 1] + prompts (see :func:`check_prompts`) -> float32 (H, W) mask in [0, 1]."""
        image = np.asarray(image, dtype=np.float32)
        points, labels = self.prompt_arrays(image.shape[:2], clicks, box)
        logits, scores = self.decoder.run(None, {"embeddings": self.embeddings(image), "points": points,
                                                 "labels": labels})
        return self.mask_from_logits(logits, scores, labels, image.shape[:2])


_bundled = []


def bundled_prompt_segmenter() -> PromptSegmenter:
    """The bundled MobileSAM (loaded once per process); raises naming what is missing."""
    if not _bundled:
        _bundled.append(PromptSegmenter(BUNDLED_PROMPT_MODEL))
    return _bundled[0]
