"""MODNet, a trimap-free portrait matting network (ONNX), as a first-stage matte of the two-stage path.

MODNet (Ke et al., AAAI 2022; Apache-2.0) predicts an alpha matte from RGB alone. It was trained on portraits, so it
finds people and the objects they hold well and other subjects less well; the two-stage path fuses it with our own
network and a salient-object mask (:mod:`afmatting.first_stage`). The bundled ONNX file (licence:
``afmatting/assets/LICENSES.md``) runs with onnxruntime (``pip install afmatting[onnx]``).

Input contract of the network: float32 (1, 3, h, w), RGB scaled to [-1, 1], h and w multiples of 32; output
float32 (1, 1, h, w) alpha in [0, 1]. The image is resized so its short side is ``REFERENCE_SIDE`` when it is
larger than that or smaller on both sides (the size the model was trained at), then each side is rounded down to a
multiple of 32.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import InvalidImageError
from .saliency import bundled_onnx_network, open_onnx_session

#: the bundled MODNet (photographic portrait model, sha256 07c308cf...)
BUNDLED_MODNET_MODEL = Path(__file__).parent / "weights" / "modnet" / "modnet.onnx"
#: the short side the network was trained at
REFERENCE_SIDE = 512
#: the network downsamples by 32
SIZE_MULTIPLE = 32


def modnet_size(height: int, width: int, reference: int = REFERENCE_SIDE) -> tuple[int, int]:
    """The (h, w) the network sees for an image of (height, width): short side ``reference`` unless the image's
    short side is below it while its long side is above it (then unchanged), each side a multiple of 32 (>= 32)."""
    if max(height, width) < reference or min(height, width) > reference:
        scale = reference / min(height, width)
        height, width = round(height * scale), round(width * scale)
    return (max(SIZE_MULTIPLE, height - height % SIZE_MULTIPLE), max(SIZE_MULTIPLE, width - width % SIZE_MULTIPLE))


def modnet_input(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """float (H, W, 3) RGB in [0, 1] -> float32 (1, 3, h, w) in [-1, 1], bilinearly resized to ``size`` = (h, w)."""
    from PIL import Image

    if image.ndim != 3 or image.shape[2] != 3:
        raise InvalidImageError(f"MODNet needs an (H, W, 3) RGB image, got shape {image.shape}.")
    pil = Image.fromarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8))
    x = np.asarray(pil.resize((size[1], size[0]), Image.BILINEAR), np.float32) / 127.5 - 1.0
    return x.transpose(2, 0, 1)[None]


def modnet_output(raw: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The network's (h, w) alpha -> float32 (H, W) in [0, 1], bilinearly resized to ``size`` = (H, W)."""
    from PIL import Image

    resized = Image.fromarray(np.asarray(raw, np.float32), mode="F").resize((size[1], size[0]), Image.BILINEAR)
    return np.clip(np.asarray(resized, np.float32), 0.0, 1.0)


class MODNetMatter:
    """``matter(image float32 (H, W, 3) in [0, 1]) -> alpha float32 (H, W) in [0, 1]`` from a MODNet ONNX file."""

    #: what a user is shown when picking a first-stage guess (the app)
    label = "Portrait network (MODNet)"
    #: its name in ``predict(start_from=...)`` / ``afmatting matte --start-from``
    key = "modnet"

    def __init__(self, onnx_path=BUNDLED_MODNET_MODEL, threads: int | None = None):
        self.session = open_onnx_session(onnx_path, "MODNet model", threads)
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, image: np.ndarray) -> np.ndarray:
        image = np.asarray(image, dtype=np.float32)
        x = modnet_input(image, modnet_size(*image.shape[:2]))
        raw = self.session.run(None, {self.input_name: x})[0]
        return modnet_output(raw[0, 0], image.shape[:2])


def bundled_modnet(required: bool = False) -> MODNetMatter | None:
    """The bundled MODNet (loaded once per process), or None where onnxruntime or the file is missing.

    ``required=True`` raises instead of returning None, naming what is missing.
    """
    return bundled_onnx_network(BUNDLED_MODNET_MODEL, MODNetMatter, "MODNet", required)
