"""ViTMatte-S backbone: a ViT-S/16 with windowed attention, four global blocks and a residual conv block after each.

This is the backbone of the paper's model (ViTMatte-S, Yao et al. 2023, made trimap-free by Liu et al. 2025):

* embed 384, depth 12, 6 heads, patch 16 (the ViT-S/16 that DINO pre-trained);
* blocks 0, 1, 3, 4, 6, 7, 9, 10 attend inside 14×14-token windows, blocks 2, 5, 8, 11 attend globally;
* each global block is followed by a residual bottleneck conv block (1×1 → 3×3 → 1×1, LayerNorm + GELU, last norm
  zero-initialised so that the block starts as the identity);
* one stride-16 map of 384 channels out (no final norm), which the detail-capture decoder takes as is.

The transformer itself is timm's ``VisionTransformerSAM`` (windowed attention with ``global_attn_indexes``); only the
conv blocks are ours. Any input size works: windowed blocks pad the token grid to the window grid and crop back, and
the absolute position embedding is resampled to the token grid.

Weights: :func:`load_vit_small_weights` fills the transformer from a timm-format ViT-S/16 state dict (DINO:
``vit_small_patch16_224.dino``), resizing the 14×14 position embedding to the model's grid. The conv blocks (and the
optional relative position terms) are new; they are reported as newly initialised.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from timm.layers import LayerNorm2d, resample_abs_pos_embed, resample_abs_pos_embed_nhwc
from timm.models.vision_transformer_sam import VisionTransformerSAM
from torch import nn

from .errors import CheckpointError

_logger = logging.getLogger(__name__)
#: backbone names (``AFMatting(backbone=...)``); a ``.dino`` tag means "pretrained=True loads DINO ViT-S/16"
VITMATTE_BACKBONES = ("vitmatte_small_patch16", "vitmatte_small_patch16_relpos")
#: the timm model whose weights initialise ViTMatte-S (DINO ViT-S/16, as in the paper)
DINO_VIT_SMALL = "vit_small_patch16_224.dino"

EMBED_DIM = 384
DEPTH = 12
NUM_HEADS = 6
PATCH_SIZE = 16
WINDOW_SIZE = 14
GLOBAL_BLOCKS = (2, 5, 8, 11)
#: ViTMatte's training crop: the stored position embedding covers a 512 / 16 = 32×32 token grid
TRAIN_IMG_SIZE = 512

#: keys of a timm ViT-S classifier that a dense backbone does not use (ViTMatte drops them too): the class token
#: (its position-embedding slot is dropped as well), the final norm before the classifier, and the classifier head
CLASSIFIER_ONLY_KEYS = ("cls_token", "reg_token", "norm.weight", "norm.bias", "fc_norm.weight", "fc_norm.bias",
                        "head.weight", "head.bias")


def add_input_channels(weight: torch.Tensor, in_chans: int) -> torch.Tensor:
    """RGB conv weight (a patch embedding or a first conv) (O, 3, k, k) -> (O, in_chans, k, k); extra channels (the trimap) start at zero."""
    if weight.shape[1] == in_chans:
        return weight
    extra = torch.zeros(weight.shape[0], in_chans - weight.shape[1], *weight.shape[2:], dtype=weight.dtype)
    return torch.cat([weight, extra], dim=1)


def is_vitmatte(model_name: str) -> bool:
    """Whether a backbone name (optionally with a ``.tag``) is one of :data:`VITMATTE_BACKBONES`."""
    return model_name.split(".")[0] in VITMATTE_BACKBONES


class ResidualConvBlock(nn.Module):
    """Bottleneck conv block with a residual add: x + norm(conv1×1(act(norm(conv3×3(act(norm(conv1×1(x)))))))).

    Input and output (B, C, H, W), any float dtype. The bottleneck has C / 2 channels. The last norm's weight and bias
    start at zero, so a new block is exactly the identity and does not disturb the pre-trained transformer.
    """

    def __init__(self, channels: int, bottleneck: int | None = None):
        super().__init__()
        bottleneck = bottleneck or channels // 2
        self.conv1 = nn.Conv2d(channels, bottleneck, 1, bias=False)
        self.norm1 = LayerNorm2d(bottleneck)
        self.conv2 = nn.Conv2d(bottleneck, bottleneck, 3, padding=1, bias=False)
        self.norm2 = LayerNorm2d(bottleneck)
        self.conv3 = nn.Conv2d(bottleneck, channels, 1, bias=False)
        self.norm3 = LayerNorm2d(channels)
        self.act = nn.GELU()
        for conv in (self.conv1, self.conv2, self.conv3):
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(self.norm3.weight)
        nn.init.zeros_(self.norm3.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.norm1(self.conv1(x)))
        h = self.act(self.norm2(self.conv2(h)))
        return x + self.norm3(self.conv3(h))


class ResidualConvStack(nn.Module):
    """The conv blocks, keyed by the index of the global block they follow.

    Held under ``.blocks.<i>`` so that a parameter name says which transformer block it belongs to: layer-wise LR
    decay (``train/train.py``) then gives block i's conv block block i's depth, as ViTMatte does.
    """

    def __init__(self, channels: int, after_blocks: tuple[int, ...]):
        super().__init__()
        self.blocks = nn.ModuleDict({str(i): ResidualConvBlock(channels) for i in after_blocks})

    def has(self, index: int) -> bool:
        return str(index) in self.blocks

    def forward_after(self, index: int, tokens: torch.Tensor) -> torch.Tensor:
        """Apply block ``index``'s conv block to tokens (B, H, W, C) (timm's layout) and return the same layout."""
        x = tokens.permute(0, 3, 1, 2)
        return self.blocks[str(index)](x).permute(0, 2, 3, 1)


class ViTMatteBackbone(nn.Module):
    """ViTMatte-S: ``forward(x (B, in_chans, H, W)) -> [features (B, 384, ceil(H/16), ceil(W/16))]``.

    Args:
        in_chans: 3 (RGB) or 4 (RGB + trimap).
        use_rel_pos: add ViTMatte's decomposed relative position terms to every attention. Off by default: DINO has
            none (they start at zero), and in the global blocks they build an N×N bias per head (6.4 GB in float32
            at 2048×2048), where plain attention runs in memory-efficient kernels.
        img_size: the side the stored position embedding is sized for (other sizes resample it on the fly).

    ``feature_channels`` / ``feature_reductions`` describe the one map returned, as timm's ``feature_info`` does.
    """

    def __init__(self, in_chans: int = 3, use_rel_pos: bool = False, img_size: int = TRAIN_IMG_SIZE):
        super().__init__()
        self.vit = VisionTransformerSAM(
            img_size=img_size, patch_size=PATCH_SIZE, in_chans=in_chans, embed_dim=EMBED_DIM, depth=DEPTH,
            num_heads=NUM_HEADS, mlp_ratio=4.0, qkv_bias=True, norm_layer=nn.LayerNorm, use_abs_pos=True,
            use_rel_pos=use_rel_pos, window_size=WINDOW_SIZE, global_attn_indexes=GLOBAL_BLOCKS, neck_chans=0,
        )
        # dense features: the classifier head and the final norm are not part of the backbone (ViTMatte has neither)
        self.vit.prune_intermediate_layers(indices=[DEPTH - 1], prune_norm=True, prune_head=True)
        self.residual = ResidualConvStack(EMBED_DIM, GLOBAL_BLOCKS)
        self.feature_channels = [EMBED_DIM]
        self.feature_reductions = [PATCH_SIZE]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        vit = self.vit
        tokens = vit.patch_embed(x)  # (B, H/16, W/16, C)
        tokens = tokens + resample_abs_pos_embed_nhwc(vit.pos_embed, tokens.shape[1:3]).to(tokens.dtype)
        for i, block in enumerate(vit.blocks):
            tokens = block(tokens)
            if self.residual.has(i):
                tokens = self.residual.forward_after(i, tokens)
        return [tokens.permute(0, 3, 1, 2)]


def create_vitmatte_backbone(name: str, in_chans: int = 3, pretrained: bool | str | Path = False):
    """Build a ViTMatte-S backbone by name and initialise it.

    Args:
        name: ``vitmatte_small_patch16`` or ``vitmatte_small_patch16_relpos`` (with ViTMatte's relative position
            terms), optionally tagged ``.dino``.
        in_chans: 3, or 4 when the trimap is an extra input channel (its patch-embedding weights start at zero).
        pretrained: False (random init), True (download timm's ``vit_small_patch16_224.dino``; needs the Hub), or a
            path to a ``.safetensors`` file holding a timm-format ViT-S/16 state dict. ``"offline"`` is an error:
            no offline package ships DINO ViT-S/16.

    Returns:
        (module, channels, reductions) like :func:`afmatting.backbones.create_backbone`.
    """
    base = name.split(".")[0]
    if base not in VITMATTE_BACKBONES:
        raise ValueError(f"Unknown ViTMatte backbone '{name}'; known: {list(VITMATTE_BACKBONES)}.")
    model = ViTMatteBackbone(in_chans=in_chans, use_rel_pos=base.endswith("_relpos"))
    if pretrained is True:
        import timm

        source = timm.create_model(DINO_VIT_SMALL, pretrained=True, num_classes=0)
        load_vit_small_weights(model, source.state_dict(), source=DINO_VIT_SMALL)
    elif pretrained == "offline":
        raise CheckpointError(
            f"No offline weights for '{name}': DINO ViT-S/16 ships in no package. Use pretrained_backbone=True "
            f"(Hub access) or the path of a .safetensors file with a timm ViT-S/16 state dict."
        )
    elif pretrained not in (False, None):
        load_vit_small_file(model, Path(pretrained))
    return model, list(model.feature_channels), list(model.feature_reductions)


@dataclass
class LoadReport:
    """What :func:`load_vit_small_weights` did: keys copied, keys newly initialised, source keys not used."""

    loaded: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)


def _is_new_key(key: str) -> bool:
    """Backbone keys that a ViT-S classifier does not have: the conv blocks and the relative position terms."""
    return key.startswith("residual.") or key.endswith((".rel_pos_h", ".rel_pos_w"))


def _pos_embed_to_grid(pos_embed: torch.Tensor, grid: tuple[int, int], source: str) -> torch.Tensor:
    """timm ViT position embedding (1, P + h·w, C) with P prefix tokens (0 or 1) -> (1, grid_h, grid_w, C).

    The class token's slot is dropped; the h×w part (square) is resized bicubically to ``grid``.
    """
    if pos_embed.ndim == 4:  # already (1, h, w, C)
        tokens = pos_embed.reshape(1, -1, pos_embed.shape[-1])
        prefix = 0
    elif pos_embed.ndim == 3:
        tokens = pos_embed
        n = tokens.shape[1]
        prefix = next((p for p in (1, 0) if int((n - p) ** 0.5) ** 2 == n - p), None)
        if prefix is None:
            raise CheckpointError(f"{source}: pos_embed of shape {tuple(pos_embed.shape)} is not a square grid.")
    else:
        raise CheckpointError(f"{source}: pos_embed has shape {tuple(pos_embed.shape)}, expected (1, N, C).")
    resized = resample_abs_pos_embed(tokens.float(), new_size=list(grid), num_prefix_tokens=prefix)
    return resized[:, prefix:].reshape(1, grid[0], grid[1], -1)


def load_vit_small_weights(backbone: ViTMatteBackbone, state: dict, source: str = "state dict") -> LoadReport:
    """Fill ViTMatte-S's transformer from a timm-format ViT-S/16 state dict (e.g. DINO), strictly.

    Every transformer tensor of ``backbone`` (patch embedding, position embedding, all 12 blocks) must come from
    ``state`` with the right shape; only the conv blocks and relative position terms stay newly initialised. Every
    ``state`` key must be used, except the classifier-only ones (:data:`CLASSIFIER_ONLY_KEYS`). The position
    embedding is resized to the backbone's grid; an RGB patch embedding gets zero weights for a 4th (trimap) channel.

    Raises:
        CheckpointError naming missing, unexpected and mis-shaped keys.
    """
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    target = backbone.state_dict()
    report = LoadReport()
    new_state, missing, wrong = {}, [], []
    for key, value in target.items():
        if not key.startswith("vit.") or _is_new_key(key):
            report.new.append(key)
            new_state[key] = value
            continue
        src_key = key[len("vit."):]
        if src_key not in state:
            missing.append(src_key)
            continue
        src = state[src_key]
        if src_key == "pos_embed":
            src = _pos_embed_to_grid(src, tuple(value.shape[1:3]), source)
        elif src_key == "patch_embed.proj.weight" and src.ndim == 4 and src.shape[1] < value.shape[1]:
            src = add_input_channels(src, value.shape[1])
        if tuple(src.shape) != tuple(value.shape):
            wrong.append(f"{src_key} {tuple(src.shape)} vs model {tuple(value.shape)}")
            continue
        new_state[key] = src.to(value.dtype)
        report.loaded.append(src_key)
    used = set(report.loaded)
    unexpected = sorted(k for k in state if k not in used and k not in CLASSIFIER_ONLY_KEYS)
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} keys: {missing[:8]}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} keys: {unexpected[:8]}")
        if wrong:
            parts.append(f"wrong shapes: {wrong[:8]}")
        raise CheckpointError(f"Weights from {source} are not a timm ViT-S/16 state dict ({'; '.join(parts)}).")
    report.unused = sorted(k for k in state if k not in used)
    backbone.load_state_dict(new_state, strict=True)
    new_modules = sorted({".".join(k.split(".")[:3]) for k in report.new})
    _logger.info("ViTMatte-S: %d tensors loaded from %s; newly initialised: %s; not used (classifier only): %s",
                 len(report.loaded), source, new_modules, report.unused)
    return report


def load_vit_small_file(backbone: ViTMatteBackbone, path: Path) -> LoadReport:
    """:func:`load_vit_small_weights` from a ``.safetensors`` file (no pickle files are loaded)."""
    if not path.exists():
        raise CheckpointError(f"Backbone weight file '{path}' does not exist.")
    if path.suffix != ".safetensors":
        raise CheckpointError(f"Backbone weight file '{path}' must be .safetensors (no pickle files are loaded).")
    from safetensors.torch import load_file

    return load_vit_small_weights(backbone, load_file(str(path)), source=str(path))
