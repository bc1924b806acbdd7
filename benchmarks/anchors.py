"""The trimap-free anchors as ``image float32 (H, W, 3) in [0, 1] -> matte float32 (H, W) in [0, 1]`` callables.

Files come from :mod:`fetch_anchors` (run it once); an anchor whose file is absent is left out of the table.

* MODNet: the package's own runner (:class:`afmatting.modnet.MODNetMatter`), on the cached copy;
* U²-Net-p and U²-Net: the package's U²-Net pre/post-processing (:class:`afmatting.saliency.SalientObjectSegmenter`:
  320 x 320, per-image max then ImageNet normalisation, min-max output);
* ISNet (IMG.LY's fp16 export, benchmark only: no licence is stated for its weights): 1024 x 1024,
  ``(pixel - 128) / 256`` per channel as IMG.LY's runtime feeds it, output clipped to [0, 1].
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from benchmarks.fetch_anchors import ANCHORS, anchor_path, present

ISNET_SIDE = 1024


class ISNetMatter:
    """ISNet (DIS) through onnxruntime: float32 (H, W, 3) in [0, 1] -> float32 (H, W) in [0, 1]."""

    def __init__(self, path):
        from afmatting.saliency import open_onnx_session

        self.session = open_onnx_session(path, "ISNet model")
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, image: np.ndarray) -> np.ndarray:
        pil = Image.fromarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8))
        x = np.asarray(pil.resize((ISNET_SIDE, ISNET_SIDE), Image.BILINEAR), np.float32)
        x = ((x - 128.0) / 256.0).transpose(2, 0, 1)[None]
        raw = np.clip(self.session.run(None, {self.input_name: x})[0][0, 0], 0, 1).astype(np.float32)
        out = Image.fromarray(raw, mode="F").resize((image.shape[1], image.shape[0]), Image.BILINEAR)
        return np.clip(np.asarray(out, np.float32), 0, 1)


def load_anchors(names=tuple(ANCHORS)) -> dict:
    """``{label: callable}`` for the anchors whose files are cached (see :mod:`fetch_anchors`)."""
    from afmatting.modnet import MODNetMatter
    from afmatting.saliency import SalientObjectSegmenter

    makers = {"modnet": ("MODNet", MODNetMatter), "u2netp": ("U2-Net-p", SalientObjectSegmenter),
              "u2net": ("U2-Net", SalientObjectSegmenter), "isnet": ("ISNet", ISNetMatter)}
    out = {}
    for name in names:
        if present(name):
            label, maker = makers[name]
            out[label] = maker(anchor_path(name))
    return out
