"""Validation of an AFMatting model configuration (``config.json`` or constructor arguments).

Runs before any tensor is allocated: a config from an untrusted folder or Hub repository cannot make the loader
allocate gigabytes (``fusion_widths=[12000, ...]``) or fail with a raw traceback (a JSON list, an unknown backbone).
Every problem is a :class:`~afmatting.errors.ModelConfigError` naming the key.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Mapping

from .errors import ModelConfigError

#: widest decoder layer accepted (the defaults are at most 256): bounds the decoder to ~0.2 GB of weights
MAX_WIDTH = 1024

#: key -> number of widths it holds (None: a single width)
WIDTH_KEYS = {"detail_widths": 3, "fusion_widths": 4, "neck_width": None, "head_width": None}

KNOWN_KEYS = ("backbone", "trimap_input", "pretrained_backbone", *WIDTH_KEYS)

#: backbones built by afmatting itself rather than timm (afmatting.vitmatte.VITMATTE_BACKBONES; a test keeps the two
#: lists equal, since this module sits below vitmatte in the import order)
NON_TIMM_BACKBONES = ("vitmatte_small_patch16", "vitmatte_small_patch16_relpos")


def _width_problem(value: Any) -> str | None:
    """Why ``value`` is not a usable layer width (a phrase), or None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"{value!r} is not an integer"
    if not 1 <= value <= MAX_WIDTH:
        return f"{value} is outside 1..{MAX_WIDTH}"
    return None


#: largest backbone accepted, in parameters (ViT-L/16 has 0.3 G): a config naming ``vit_gigantic_patch14_224``
#: (1.8 G, 7.6 GiB built) or a 7-billion-parameter model is refused before anything is allocated
MAX_BACKBONE_PARAMETERS = 400_000_000


@functools.lru_cache(maxsize=64)
def backbone_parameter_count(name: str) -> int | None:
    """Parameters of timm model ``name``, counted on a model built on the ``meta`` device (no memory, well under a
    second); None when timm cannot build it there."""
    import timm
    import torch

    try:
        with torch.device("meta"):
            model = timm.create_model(name, pretrained=False)
    except Exception:  # noqa: BLE001 - a model that cannot be built on meta is left to the real build
        return None
    return sum(p.numel() for p in model.parameters())


def validate_backbone_name(name: Any, source: str = "the model config") -> str:
    """A backbone name timm knows (``resnet18``, ``vit_small_patch16_224.dino``) or one of
    :data:`NON_TIMM_BACKBONES`; ModelConfigError if not, or if the model has more than MAX_BACKBONE_PARAMETERS."""
    if not isinstance(name, str) or not name.strip():
        raise ModelConfigError(f"{source}: key 'backbone' must be a timm model name (a string), got {name!r}.")
    import timm

    if name.split(".")[0] in NON_TIMM_BACKBONES:
        return name
    if not timm.is_model(name):
        raise ModelConfigError(f"{source}: key 'backbone' names an unknown timm model '{name}'.")
    count = backbone_parameter_count(name)
    if count is not None and count > MAX_BACKBONE_PARAMETERS:
        raise ModelConfigError(
            f"{source}: key 'backbone' names '{name}', a {count / 1e6:,.0f} M-parameter model; afmatting builds "
            f"backbones up to {MAX_BACKBONE_PARAMETERS / 1e6:,.0f} M parameters.")
    return name


def validate_model_config(config: Any, source: str = "the model config") -> dict:
    """Check a model configuration's types and ranges; returns it as a dict.

    Args:
        config: the parsed ``config.json`` (must be a JSON object) or the constructor's keyword arguments.
        source: how to name the configuration in messages (e.g. the config file's path).

    Raises:
        ModelConfigError naming the offending key: not an object, unknown keys, a backbone timm does not know, a
        non-boolean ``trimap_input``, width lists of the wrong length, or widths that are not integers in
        1..MAX_WIDTH.
    """
    if not isinstance(config, Mapping):
        raise ModelConfigError(f"{source} must be a JSON object (key: value), got a {type(config).__name__}.")
    unknown = sorted(str(k) for k in config if k not in KNOWN_KEYS)
    if unknown:
        raise ModelConfigError(f"{source} has unknown keys {unknown}; known keys: {list(KNOWN_KEYS)}.")
    if "backbone" in config:
        validate_backbone_name(config["backbone"], source)
    if "trimap_input" in config and not isinstance(config["trimap_input"], bool):
        raise ModelConfigError(f"{source}: key 'trimap_input' must be true or false, got {config['trimap_input']!r}.")
    pretrained = config.get("pretrained_backbone", False)
    if not isinstance(pretrained, (bool, str, os.PathLike)):
        raise ModelConfigError(
            f"{source}: key 'pretrained_backbone' must be true, false, \"offline\" or a path, got {pretrained!r}.")
    for key, count in WIDTH_KEYS.items():
        if key not in config:
            continue
        value = config[key]
        if count is None:
            problem = _width_problem(value)
        elif isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__len__") or len(value) != count:
            problem = f"{value!r} is not a list of {count} widths"
        else:
            problem = next((p for p in map(_width_problem, value) if p), None)
        if problem:
            raise ModelConfigError(f"{source}: key '{key}': {problem}.")
    return dict(config)
