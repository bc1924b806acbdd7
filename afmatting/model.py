"""The AFMatting model: a timm backbone + a ViTMatte-style "detail capture" decoder.

``AFMatting(image, trimap=None) -> alpha`` where ``image`` is (B, 3, H, W) RGB in [0, 1] and, for
``trimap_input=True`` models, ``trimap`` is (B, 1, H, W) with values {0, 0.5, 1}. The output is (B, 1, H, W) in
[0, 1] at the input size: inputs are padded to what the backbone needs and cropped back.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from .backbones import create_backbone, pad_multiple
from .errors import AFMattingError
from .hub import (
    MODEL_CARD_TEMPLATE,
    hub_error,
    load_checkpoint,
    finetune_partner,
    read_finetune_record,
    resolve_source,
    resolve_weights_file,
    validate_hub_config,
)
from .inference import predict
from .model_config import validate_model_config
from .processing import check_network_inputs

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_BACKBONE = "vit_small_patch16_224.dino"


class ConvBNReLU(nn.Sequential):
    """3x3 conv (optionally strided) + BatchNorm + ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class DetailCaptureDecoder(nn.Module):
    """ViTMatte's detail-capture decoder, sized from the backbone's feature_info.

    * a conv stream on the (normalised) input gives detail maps at 1/2, 1/4, 1/8;
    * CNN backbones with several deep maps (e.g. 1/16 and 1/32) are first merged top-down into one map (the "neck");
    * four fusion blocks upsample to the 1/8, 1/4, 1/2 and full-resolution grids, each concatenating the matching
      detail map (the input itself at full resolution), then 3x3 conv + BN + ReLU;
    * the head (3x3 conv + BN + ReLU + 1x1 conv) gives alpha logits.
    """

    def __init__(
        self,
        in_channels: int,
        feature_channels: Sequence[int],
        detail_widths: Sequence[int] = (48, 96, 192),
        fusion_widths: Sequence[int] = (256, 128, 64, 32),
        neck_width: int = 256,
        head_width: int = 16,
    ):
        super().__init__()
        if len(detail_widths) != 3 or len(fusion_widths) != 4:
            raise AFMattingError("detail_widths needs 3 values (1/2, 1/4, 1/8) and fusion_widths 4 values.")
        feature_channels = list(feature_channels)
        self.detail_stream = nn.ModuleList()
        prev = in_channels
        for width in detail_widths:
            self.detail_stream.append(ConvBNReLU(prev, width, stride=2))
            prev = width
        # neck: deepest map first, merged with each shallower deep map on its grid
        self.neck = nn.ModuleList()
        deep = feature_channels[-1]
        for skip in reversed(feature_channels[:-1]):
            self.neck.append(ConvBNReLU(deep + skip, neck_width))
            deep = neck_width
        skips = [detail_widths[2], detail_widths[1], detail_widths[0], in_channels]
        self.fusion = nn.ModuleList()
        for width, skip in zip(fusion_widths, skips):
            self.fusion.append(ConvBNReLU(deep + skip, width))
            deep = width
        self.head = nn.Sequential(ConvBNReLU(deep, head_width), nn.Conv2d(head_width, 1, 1))

    @staticmethod
    def _up_cat(x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return torch.cat([x, skip], dim=1)

    def forward(self, x: torch.Tensor, features: list[torch.Tensor]) -> torch.Tensor:
        details = [x]
        for stage in self.detail_stream:
            details.append(stage(details[-1]))
        h = features[-1]
        for block, skip in zip(self.neck, reversed(features[:-1])):
            h = block(self._up_cat(h, skip))
        for block, skip in zip(self.fusion, reversed(details)):
            h = block(self._up_cat(h, skip))
        return self.head(h)


class AFMatting(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="afmatting",
    tags=["image-matting", "alpha-matting", "afmatting"],
    pipeline_tag="image-segmentation",
    license="mit",
    repo_url="https://github.com/afmatting/afmatting",
    paper_url="https://arxiv.org/abs/2408.10539",
    model_card_template=MODEL_CARD_TEMPLATE,
):
    """Matting network: timm backbone + detail-capture decoder, sigmoid alpha at full resolution.

    Args:
        backbone: any timm model name. Default: the paper's DINO ViT-S/16.
        trimap_input: False (paper): RGB only, inference is trimap-free. True: RGB + trimap as a 4th channel.
        pretrained_backbone: False (random init), True (timm's pretrained weights; the offline package for
            ``efficientnet_lite0``), ``"offline"`` or a path to a ``.safetensors`` file. Never used by
            ``from_pretrained``, which loads all weights from the checkpoint.
        detail_widths, fusion_widths, neck_width, head_width: decoder widths (ViTMatte: 48/96/192, 256/128/64/32, 16).
    """

    def __init__(
        self,
        backbone: str = DEFAULT_BACKBONE,
        trimap_input: bool = False,
        pretrained_backbone: bool | str = False,
        detail_widths: Sequence[int] = (48, 96, 192),
        fusion_widths: Sequence[int] = (256, 128, 64, 32),
        neck_width: int = 256,
        head_width: int = 16,
    ):
        super().__init__()
        # types and ranges first: nothing is allocated for a bad configuration
        validate_model_config(dict(backbone=backbone, trimap_input=trimap_input,
                                   pretrained_backbone=pretrained_backbone, detail_widths=detail_widths,
                                   fusion_widths=fusion_widths, neck_width=neck_width, head_width=head_width),
                              "AFMatting arguments")
        self.backbone_name = backbone
        #: where the model was loaded from (set by from_pretrained); names the model in error messages
        self.name_or_path: str | None = None
        self.trimap_input = bool(trimap_input)
        in_channels = 4 if self.trimap_input else 3
        self.backbone, channels, reductions = create_backbone(backbone, in_channels, pretrained_backbone)
        self.feature_channels = channels
        self.feature_reductions = reductions
        self.pad_multiple = pad_multiple(reductions)
        self.decoder = DetailCaptureDecoder(
            in_channels, channels, detail_widths, fusion_widths, neck_width=neck_width, head_width=head_width
        )
        self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    # ------------------------------------------------------------------ forward
    def forward(self, image: torch.Tensor, trimap: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] (+ (B, 1, H, W) trimap in {0, 0.5, 1}) -> alpha (B, 1, H, W) in [0, 1]."""
        check_network_inputs(image, trimap, self.trimap_input)
        x = (image - self.pixel_mean.to(image.dtype)) / self.pixel_std.to(image.dtype)
        if self.trimap_input:
            x = torch.cat([x, trimap.to(x.dtype) * 2 - 1], dim=1)  # {-1, 0, 1}: centred like the image
        h, w = x.shape[-2:]
        m = self.pad_multiple
        pad_h, pad_w = (-h) % m, (-w) % m
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        # channels-last activations: measured ~25 % faster convolutions on CPU, also the fast layout for cuDNN
        x = x.contiguous(memory_format=torch.channels_last)
        features = self.backbone(x)
        logits = self.decoder(x, list(features))
        return torch.sigmoid(logits[..., :h, :w].float())

    # ---------------------------------------------------------------- inference
    def predict(self, image, trimap=None, **kwargs):
        """Matte one image or a list of images with this network alone: :func:`afmatting.inference.predict` (the
        two-stage path needs ``trimap_model=...``; :func:`afmatting.loading.load_matter` pairs the bundled one)."""
        return predict(self, image, trimap=trimap, **kwargs)

    def export_onnx(self, path, **kwargs):
        """Write this model as ONNX and check it against PyTorch. See :func:`afmatting.onnx_export.export_onnx`."""
        from .onnx_export import export_onnx

        return export_onnx(self, path, **kwargs)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # --------------------------------------------------------------------- hub
    def generate_model_card(self, *args, **kwargs):
        kwargs.setdefault("backbone", self.backbone_name)
        kwargs.setdefault("trimap_input", self.trimap_input)
        kwargs.setdefault("num_parameters", f"{sum(p.numel() for p in self.parameters()) / 1e6:.2f}M")
        kwargs.setdefault("training", "")
        kwargs.setdefault("metrics", "")
        kwargs.setdefault("limitations", "")
        return super().generate_model_card(*args, **kwargs)

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir,
        force_download: bool,
        local_files_only: bool,
        token,
        map_location: str = "cpu",
        strict: bool = True,
        **model_kwargs,
    ):
        # weights come from the checkpoint: never fetch the backbone's own pretrained weights
        model_kwargs["pretrained_backbone"] = False
        weights = resolve_weights_file(
            model_id, revision=revision, cache_dir=cache_dir, force_download=force_download,
            local_files_only=local_files_only, token=token,
        )
        model = cls(**model_kwargs)
        load_checkpoint(model, weights, strict=strict, map_location=map_location)
        model.eval()
        return model

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs):
        """Load from a local directory, a Hub repo id (cached or online), or a bundled model name.

        What a name means and how loading fails is :mod:`afmatting.hub`'s policy: bundled names resolve to folders
        inside the installed package; loading is strict (any missing, unexpected or mis-shaped tensor raises
        CheckpointError naming the keys); Hub errors become a CheckpointError naming the model. The config is
        validated (:mod:`afmatting.model_config`) before anything is allocated.
        """
        source = resolve_source(pretrained_model_name_or_path)  # a local folder's config is validated there
        try:
            if isinstance(source, str):
                validate_hub_config(source, kwargs)  # before the mixin parses it
            model = super().from_pretrained(source, **kwargs)
            model.name_or_path = str(pretrained_model_name_or_path)
        except Exception as e:
            translated = hub_error(e, source)
            if translated is None:
                raise
            raise translated from None
        # ``afmatting finetune`` records its base model: one tuned from the bundled trimap-free model keeps that
        # model's trimap partner (afmatting.loading.load_matter), i.e. the two-stage default
        record = read_finetune_record(source, **kwargs)
        model.finetuned_from = record.get("base_model") if record else None
        # a tuned default path also carries its own second stage (finetune.json's "trimap_model": a subfolder)
        model.tuned_trimap_model = (finetune_partner(source, record["trimap_model"], **kwargs)
                                    if record and record.get("trimap_model") else None)
        return model
