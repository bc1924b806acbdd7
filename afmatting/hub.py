"""Model-loading policy, the one place for it (``AFMatting.from_pretrained``, the CLI and the app all use it).

What a model name means, in this order:

1. a bundled name (:mod:`afmatting.bundled`): the folder inside the installed package (offline); a bundled name
   that is not installed is a :class:`~afmatting.errors.CheckpointError`;
2. a local path (:func:`looks_like_path`, or any name that exists on disk): a model folder with ``config.json`` and
   ``model.safetensors``;
3. otherwise a Hugging Face Hub id (``name`` or ``owner/name``): the Hub cache, else a download.

Loading is strict (:func:`load_checkpoint`): every tensor's name and shape must match; only safetensors are read.
Errors from huggingface_hub become one CheckpointError (:func:`hub_error`) that names the model.

Also here: the model card template of ``save_pretrained`` / ``push_to_hub``.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from huggingface_hub import constants, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
)

from .bundled import BUNDLED_MODELS, DEFAULT_TRIMAP_FREE_MODEL, DEFAULT_TRIMAP_MODEL, resolve_bundled
from .errors import CheckpointError
from .model_config import validate_model_config

#: the errors of huggingface_hub that mean "this model cannot be had from the Hub now"
HUB_ERRORS = (OfflineModeIsEnabled, LocalEntryNotFoundError, EntryNotFoundError, HfHubHTTPError, HFValidationError)


def looks_like_path(name: str) -> bool:
    """The one path test: a Hub id is ``name`` or ``owner/name``; a name with path syntax (``./``, ``/``, ``~``,
    a backslash, two or more slashes) or one that exists on disk is a local path."""
    name = os.fspath(name)
    return (name.startswith((".", "/", "~")) or "\\" in name or name.count("/") >= 2
            or Path(name).expanduser().exists())


def default_model(trimap: bool) -> str:
    """The bundled model used when none is named: the trimap-input one for ``trimap``, else the trimap-free one."""
    name = DEFAULT_TRIMAP_MODEL if trimap else DEFAULT_TRIMAP_FREE_MODEL
    if resolve_bundled(name) is None:
        raise CheckpointError(
            f"No model given and the bundled default '{name}' is not installed; name a model folder or Hub id."
        )
    return name


def resolve_source(name) -> str | Path:
    """Where model ``name`` comes from (see the module doc): a checked local folder (Path) or a Hub id (str)."""
    text = os.fspath(name).strip() if isinstance(name, (str, os.PathLike)) else name
    if not isinstance(text, str) or not text:
        raise CheckpointError(f"A model is named by a folder, a Hub id or a bundled name, got {name!r}.")
    if text in BUNDLED_MODELS:
        folder = resolve_bundled(text)
        if folder is None:
            raise CheckpointError(f"The bundled model '{text}' is not installed in this version of afmatting.")
        return folder
    if not looks_like_path(text):
        return text
    folder = Path(text).expanduser()
    if not folder.exists():
        raise CheckpointError(f"Model directory '{text}' does not exist.")
    if not folder.is_dir():
        raise CheckpointError(f"'{text}' is a file; pass the model directory that holds config.json.")
    config = folder / constants.CONFIG_NAME
    if not config.exists():
        raise CheckpointError(f"'{folder}' is not an afmatting model directory: it has no config.json.")
    try:
        values = json.loads(config.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:  # deep nesting
        raise CheckpointError(f"'{config}' is not valid JSON: {e}.") from None
    validate_model_config(values, f"'{config}'")
    return folder


def validate_hub_config(repo_id: str, hub_kwargs: dict) -> None:
    """Fetch (or find in the cache) a Hub model's config.json and validate it before the model is built; Hub errors
    propagate for :func:`hub_error` to translate."""
    keys = ("revision", "cache_dir", "force_download", "token", "local_files_only")
    path = hf_hub_download(repo_id=repo_id, filename=constants.CONFIG_NAME,
                           **{k: hub_kwargs[k] for k in keys if k in hub_kwargs})
    try:
        values = json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:  # deep nesting
        raise CheckpointError(f"config.json of '{repo_id}' is not valid JSON: {e}.") from None
    validate_model_config(values, f"config.json of '{repo_id}'")


def hub_error(error: Exception, name) -> CheckpointError | None:
    """The one translation of a huggingface_hub error into a CheckpointError naming the model (None: not one)."""
    if not isinstance(error, HUB_ERRORS):
        return None
    return CheckpointError(
        f"Could not load model '{name}' from the Hugging Face Hub ({type(error).__name__}: {error}). "
        f"Offline, only models already in the Hub cache, local directories and bundled models load."
    )


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers a TCP connect: huggingface_hub retries for ~30 s before giving up, far
    too long for a web request, so the app asks first."""
    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def cached_or_reachable(hub_id: str) -> str:
    """A Hub id that can load now without waiting: its cached snapshot folder when the cache holds it, else the id
    when the Hub is reachable; otherwise a CheckpointError (said at once, not after huggingface_hub's retries)."""
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(hub_id, local_files_only=True)
    except (*HUB_ERRORS, OSError):  # not cached (or not a valid id): fall through to the online check
        pass
    if not hub_reachable():
        raise CheckpointError(
            f"'{hub_id}' is not a local folder or a bundled model, and as a Hugging Face Hub id it cannot be "
            f"downloaded: the Hub is unreachable (offline) and the model is not in the local cache."
        )
    return hub_id


#: written by ``afmatting finetune`` beside a model's weights: what it was tuned from and on (JSON object)
FINETUNE_RECORD = "finetune.json"


def read_finetune_record(source, **hub_kwargs) -> dict | None:
    """The ``finetune.json`` of a model folder (Path) or Hub repo (str), None when it has none: a model not made
    by ``afmatting finetune``. Hub repos are asked only when the Hub answers (the cache otherwise)."""
    try:
        if isinstance(source, Path):
            path = source / FINETUNE_RECORD
        else:
            keys = ("revision", "cache_dir", "token")
            offline = constants.HF_HUB_OFFLINE or not hub_reachable()
            path = Path(hf_hub_download(repo_id=source, filename=FINETUNE_RECORD, local_files_only=offline,
                                        **{k: hub_kwargs[k] for k in keys if k in hub_kwargs}))
        record = json.loads(path.read_text())
    except (*HUB_ERRORS, OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def finetune_partner(source, subfolder, **hub_kwargs) -> Path:
    """The folder of the tuned trimap model that ``afmatting finetune`` saved inside a model folder (Path) or Hub
    repo (str) as ``subfolder`` (its ``finetune.json``'s ``trimap_model``); a Hub repo's two files are fetched (or
    found in the cache). Raises CheckpointError naming the model when the subfolder is not a plain relative name
    or the partner cannot be had."""
    sub = str(subfolder)
    if not sub or sub.startswith(("/", "\\", "~")) or ".." in Path(sub).parts or "\\" in sub:
        raise CheckpointError(f"{FINETUNE_RECORD} of '{source}' names the trimap model '{sub}'; it must be a "
                              f"subfolder of the model folder.")
    if isinstance(source, Path):
        folder = source / sub
    else:
        keys = ("revision", "cache_dir", "token", "force_download")
        try:
            for name in (constants.CONFIG_NAME, constants.SAFETENSORS_SINGLE_FILE):
                path = hf_hub_download(repo_id=source, filename=f"{sub}/{name}",
                                       local_files_only=constants.HF_HUB_OFFLINE or not hub_reachable(),
                                       **{k: hub_kwargs[k] for k in keys if k in hub_kwargs})
        except HUB_ERRORS as e:
            raise hub_error(e, f"{source}/{sub}") from None
        folder = Path(path).parent
    if not (folder / constants.SAFETENSORS_SINGLE_FILE).is_file() or not (folder / constants.CONFIG_NAME).is_file():
        raise CheckpointError(f"'{source}' names a tuned trimap model in '{sub}' ({FINETUNE_RECORD}), but '{folder}' "
                              f"has no config.json + model.safetensors.")
    return folder


def resolve_weights_file(model_id: str, **hub_kwargs) -> str:
    """Local directory -> its model.safetensors; otherwise hf_hub_download (uses the cache, honours
    HF_HUB_OFFLINE). Only safetensors are ever loaded."""
    if os.path.isdir(model_id):
        path = os.path.join(model_id, constants.SAFETENSORS_SINGLE_FILE)
        if not os.path.exists(path):
            raise CheckpointError(
                f"'{model_id}' has no {constants.SAFETENSORS_SINGLE_FILE} (afmatting loads safetensors only)."
            )
        return path
    return hf_hub_download(repo_id=model_id, filename=constants.SAFETENSORS_SINGLE_FILE, **hub_kwargs)


def load_checkpoint(model, path: str, strict: bool = True, map_location: str = "cpu") -> None:
    """Load a safetensors file into ``model``; with ``strict`` every key and shape must match.

    Raises CheckpointError naming the missing, unexpected and mis-shaped keys (never a silent partial load).
    """
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(path, device=str(map_location))
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"Cannot read checkpoint '{path}': {e}.") from None
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if strict and (missing or unexpected or wrong):
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} keys: {missing[:8]}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} keys: {unexpected[:8]}")
        if wrong:
            parts.append("wrong shapes: " + ", ".join(
                f"{k} {tuple(state[k].shape)} vs model {tuple(own[k].shape)}" for k in wrong[:8]))
        raise CheckpointError(
            f"Checkpoint '{path}' does not match the model configuration ({'; '.join(parts)})."
        )
    if not strict:
        state = {k: v for k, v in state.items() if k in own and k not in wrong}
    # an int8 tensor for a float parameter would be cast silently by load_state_dict; the run would then fail later
    # blaming the image
    wrong_dtype = sorted(k for k, v in state.items() if k in own and own[k].is_floating_point()
                         and not v.is_floating_point())
    if wrong_dtype:
        k = wrong_dtype[0]
        raise CheckpointError(
            f"Checkpoint '{path}' holds non-float tensors for float parameters in {len(wrong_dtype)} keys, e.g. "
            f"'{k}' is {state[k].dtype} (the model's is {own[k].dtype}): the file is corrupt or was quantised."
        )
    # corrupted bytes decode as NaN/inf: refuse them here, not as an all-NaN matte later (one pass per load)
    non_finite = sorted(k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all())
    if non_finite:
        raise CheckpointError(
            f"Checkpoint '{path}' holds NaN or infinite values in {len(non_finite)} tensors, e.g. {non_finite[:5]}: "
            f"the file is corrupt."
        )
    model.load_state_dict(state, strict=strict)


MODEL_CARD_TEMPLATE = """---
{{ card_data }}
---

# AFMatting model ({{ backbone }}, {{ "trimap-input" if trimap_input else "trimap-free" }})

An image-matting model from [afmatting]({{ repo_url }}): a `{{ backbone }}` backbone (timm) with a ViTMatte-style
detail-capture decoder, {{ num_parameters }} parameters.
{% if trimap_input %}It takes an RGB image **and a trimap** (0 = background, 128 = unknown, 255 = foreground) and
predicts the alpha matte; known trimap pixels are copied into the output.{% else %}It takes an **RGB image only**
(trimap-free) and predicts the alpha matte.{% endif %}

The method follows *Training Matting Models without Alpha Labels* (Liu et al., AAAI 2025, {{ paper_url }}):
models are trained from coarse trimaps with a known-region L1 loss and the directional distance consistency (DDC)
loss, without fine alpha labels.

## Usage

```python
import afmatting

model = afmatting.load_matter("path/or/repo-id")  # the network (+ the trimap partner of a bundled trimap-free model)
result = model.predict("photo.jpg"{% if trimap_input %}, trimap="trimap.png"{% endif %})
result.alpha            # float32 (H, W) in [0, 1]
result.cutout().save("cutout.png")
```

Command line: `afmatting matte photo.jpg --model path/or/repo-id --out out/{% if trimap_input %} --trimap trimap.png{% endif %}`

## Training
{{ training if training else "Not recorded for this checkpoint." }}

## Results
{{ metrics if metrics else "No evaluation recorded for this checkpoint." }}

## Limitations
{{ limitations if limitations else "Matting quality depends on the training data; check results on your images." }}

## Citation

```bibtex
@inproceedings{liu2025alphafree,
  title     = {Training Matting Models without Alpha Labels},
  author    = {Liu, Wenze and Ye, Zixuan and Lu, Hao and Cao, Zhiguo and Yue, Xiangyu},
  booktitle = {AAAI},
  year      = {2025}
}
```
"""
