"""Fine-tune a bundled (or any saved) model on a user's own photos and trimaps: ``afmatting finetune``.

The paper's alpha-free recipe scaled to a handful of photos on a CPU: known + 10 x DDC (K = 11) from the chosen
weights, crops centred on the trimaps' unknown band with light augmentation (scale, flip, colour), a short warm-up
and a cosine decay at a lower learning rate than training from scratch. It runs
:func:`afmatting.training.train` (the loop ``train/train.py`` runs: accelerate, checkpoints, validation) on the
user's pairs, held-out images scored before and after, and leaves a model folder that ``afmatting matte --model``
and :func:`afmatting.loading.load_matter` load, with a model card and ``finetune.json`` saying what it was tuned on.

From the trimap-free default, ``stage`` picks the network of the two-stage default path to tune (:data:`STAGES`):
the first stage's trimap-free network (default; its weights chosen inside the default path on the held-out photos,
the start's kept unless tuning clearly helps), the second stage's trimap model (saved in the folder's
``trimap-model/``, which ``load_matter`` pairs the folder's trimap-free network with), or both. Why the first stage is
the default, and what each choice did on held-out photos: docs/results.md, "Fine-tuning on your photos".

Inputs: images (files, folders, glob patterns) and a trimap folder paired by exact stem (``a.jpg`` takes ``a.*`` or
``a_trimap.*``, as ``afmatting matte --trimap`` pairs them, so ``afmatting matte --save-trimap`` output works as
it is). Optional alphas (same pairing) only add SAD to the held-out scores; training never reads them.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .batch_files import find_trimap
from .bundled import DEFAULT_TRIMAP_FREE_MODEL
from .data.layouts import SampleFiles, check_sizes
from .errors import AFMattingError, CheckpointError, DatasetError, TrainingConfigError
from .hub import FINETUNE_RECORD, hub_error, hub_reachable, resolve_source
from .io import list_images, load_image, load_matte
from .processing import DEFAULT_MAX_SIDE, network_size, to_uint8
from .trimap import BACKGROUND, FOREGROUND, UNKNOWN, load_trimap
from .two_stage import DEFAULT_FIRST_STAGE_SIDE

#: the CPU recipe; every value can be overridden through ``finetune(..., overrides={...})``
RECIPE = {
    "loss": "known+ddc",
    "ddc_weight": 10.0,
    "kernel_size": 11,
    "crop_size": 256,
    "scale_range": [0.75, 1.33],  # light augmentation: mild zoom, flips, a little colour
    "hflip": True,
    "colour_jitter": 0.1,
    "batch_size": 4,
    "learning_rate": 2.0e-4,  # a fifth of the from-scratch CPU recipe's 1e-3: the weights are already good
    "backbone_lr_scale": 0.3,
    "weight_decay": 0.01,
    # batch-norm statistics stay the start's: four band crops a batch are not the whole photos they came from
    "freeze_norm_stats": True,
    "lr_schedule": "cosine",
    "warmup_steps": 20,
    "num_workers": 0,  # tiny datasets: worker start-up would cost more than it saves
    "min_batches_per_epoch": 1,
    "channels_last": True,
    "val_region": "unknown",
    "val_objective": True,
    "validate_before_training": True,
    "save_best": False,
    "log_with": "none",
    "log_steps": 5,
    "progress_description": "fine-tuning",
}
#: the default number of steps: about 50 visits of each training photo (as crops), between 50 and 300 steps
PASSES_PER_PHOTO, MIN_STEPS, MAX_STEPS = 50, 50, 300


def default_steps(num_photos: int, batch_size: int = RECIPE["batch_size"]) -> int:
    """Steps for ``num_photos`` training photos: 100 for 8 photos (the measured run of docs/results.md), 300 from 24
    photos on. Eight photos tuned for 150 steps got worse on held-out photos, for 50-100 steps better."""
    return int(min(MAX_STEPS, max(MIN_STEPS, round(PASSES_PER_PHOTO * num_photos / batch_size))))


#: the networks of the two-stage default that ``afmatting finetune`` can tune, from a trimap-free model that has a
#: trimap partner (:func:`afmatting.loading.partner_of`): ``first`` the trimap-free network that finds the subject
#: (the default: 8 AM-2K photos tuned took 5 held-out ones from 20.77 to 18.91 whole-image SAD through the default
#: path, alphamatting 25.34 -> 25.25), ``second`` the trimap model of the second stage (the same run: 20.81, 25.36),
#: ``both`` one then the other (18.99, 25.26: the first stage does the work, in twice the time). Tuned on 6 of those
#: photos the first stage got the held-out ones worse (30.67); the 2 % rule of :func:`tune_network` kept the start's
#: weights there
STAGES = ("first", "second", "both")
DEFAULT_STAGE = "first"
#: where a tuned second stage is saved inside the model folder (named in finetune.json as ``trimap_model``)
TRIMAP_MODEL_FOLDER = "trimap-model"
STAGE_LABELS = {"first": "first stage (trimap-free network)", "second": "second stage (trimap model)",
                "network": "the network"}


@dataclass
class NetworkRun:
    """One tuned network: which (``stage``: ``first``, ``second``, or ``network`` for a model without a two-stage
    path), from what, for how long, its held-out scores before and after (dicts of floats: ``objective``,
    ``known``, ``ddc``, ``SAD`` with alphas; None without held-out images), where it was saved, and the long side
    (pixels) its photos were scaled to."""

    stage: str
    base: str
    folder: Path
    steps: int
    seconds: float
    side: int
    before: dict | None = None
    after: dict | None = None
    #: the step whose weights were kept (chosen through the default path on the held-out photos; 0: the start's)
    chosen_step: int | None = None


@dataclass
class FinetuneReport:
    """What a fine-tuning run did: the pairs it used, each tuned network with its held-out scores before and after
    (``runs``), and where it wrote (``out``: the folder ``--model`` takes)."""

    out: Path
    base: str
    train_names: list[str]
    val_names: list[str]
    runs: list[NetworkRun]
    notes: list[str] = field(default_factory=list)
    #: the training keys used: :data:`RECIPE` with the run's overrides
    recipe: dict = field(default_factory=lambda: dict(RECIPE))

    @property
    def steps(self) -> int:
        """Optimiser steps of each tuned network (the same for all)."""
        return self.runs[0].steps

    @property
    def seconds(self) -> float:
        """Wall time of all the tuning, validations included (s)."""
        return round(sum(r.seconds for r in self.runs), 1)

    @property
    def before(self) -> dict | None:
        """The held-out scores before tuning, of the last tuned network (None: nothing held out)."""
        return self.runs[-1].before

    @property
    def after(self) -> dict | None:
        """The held-out scores after tuning, of the last tuned network."""
        return self.runs[-1].after

    def table(self) -> str:
        """The before / after table of the held-out images (markdown), one block per tuned network."""
        if not all(r.before and r.after for r in self.runs):
            return "No images were held out: no before / after scores."
        labels = {"objective": "objective (known + 10 x DDC)", "known": "known-region error", "ddc": "DDC",
                  "SAD": "SAD vs your alphas", PATH_METRIC: "default path's known-region error"}
        lines = []
        for run in self.runs:
            which = "" if run.stage == "network" else f", {STAGE_LABELS[run.stage]}"
            lines += ([""] if lines else []) + [f"| held out ({len(self.val_names)} images){which} | before | after |",
                                                "|---|---:|---:|"]
            for key, label in labels.items():
                if key in run.before and key in run.after:
                    digits = ".3g" if key == PATH_METRIC else ".4f"  # small: errors on known pixels only
                    lines.append(f"| {label} | {run.before[key]:{digits}} | {run.after[key]:{digits}} |")
            if run.chosen_step is not None:
                lines.append(f"| kept the weights of step | 0 | {run.chosen_step} |")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------- inputs
def pair_inputs(images, trimaps, alphas=None, *, what: str = "training") -> tuple[list[SampleFiles], list[str]]:
    """Pair each image with its trimap (and alpha) by exact stem; check sizes and trimap contents.

    Args:
        images: image files, folders or glob patterns (a folder's ``*_trimap.*`` files are not images).
        trimaps: the trimap folder.
        alphas: an optional alpha folder (same pairing; used for held-out SAD only).

    Returns:
        ``(samples, skipped)``: the usable pairs sorted by name, and a note per image left out (no trimap).

    Raises:
        DatasetError (one line naming the file) for: no images, no trimap at all, a size mismatch, an unreadable
        trimap, a trimap without known pixels (all unknown), or trimaps without any unknown band.
    """
    if trimaps is None or not Path(trimaps).is_dir():
        raise DatasetError(f"--trimaps must be a folder of trimaps (one per image, same stem); got '{trimaps}'.")
    paths = [p for p in list_images(images if isinstance(images, (list, tuple)) else [images])
             if not p.stem.endswith("_trimap")]
    if not paths:
        raise DatasetError(f"No {what} images found in {images}.")
    samples, skipped = [], []
    for path in paths:
        if not path.is_file():
            raise DatasetError(f"The image '{path}' does not exist.")
        try:
            trimap = find_trimap(trimaps, path)
        except AFMattingError as e:
            if "Ambiguous" in str(e):
                raise DatasetError(str(e)) from None
            skipped.append(f"{path.name}: no trimap in '{trimaps}'")
            continue
        alpha = None
        if alphas is not None:
            try:  # only held-out images need one (their SAD); training never reads it
                alpha = find_trimap(alphas, path)
            except AFMattingError:
                alpha = None
        samples.append(SampleFiles(name=path.stem, image=str(path), alpha=None if alpha is None else str(alpha),
                                   trimap=str(trimap)))
    if not samples:
        raise DatasetError(f"None of the {len(paths)} {what} images has a trimap in '{trimaps}' (expected "
                           f"'<stem>.png' or '<stem>_trimap.png', e.g. from `afmatting matte --save-trimap`).")
    names = [s.name for s in samples]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise DatasetError(f"Two {what} images share the name '{twice[0]}'; rename one (outputs are named by stem).")
    check_sizes(samples)
    any_unknown = False
    for sample in samples:
        counts = trimap_counts(sample.trimap)
        if counts[BACKGROUND] + counts[FOREGROUND] == 0:
            raise DatasetError(f"The trimap '{sample.trimap}' is all unknown (grey): it needs known foreground "
                               f"(white) and/or background (black) to learn from.")
        any_unknown |= counts[UNKNOWN] > 0
    if not any_unknown:
        raise DatasetError(f"None of the {len(samples)} trimaps has an unknown (grey, 128) band: there is no edge "
                           f"to learn; paint the uncertain border grey.")
    return samples, skipped


def trimap_counts(path) -> dict[int, int]:
    """Pixels per trimap value {0, 128, 255} of a trimap file (any format :func:`load_trimap` reads)."""
    try:
        trimap = load_trimap(path)
    except AFMattingError as e:
        raise DatasetError(f"Cannot use the trimap '{path}': {e}") from None
    values, counts = np.unique(trimap, return_counts=True)
    found = dict(zip(values.tolist(), counts.tolist()))
    return {v: int(found.get(v, 0)) for v in (BACKGROUND, UNKNOWN, FOREGROUND)}


def working_side(trimap_input: bool) -> int:
    """The long side a tuned network sees in use, at which it is trained: the two-stage path's first stage (640 px)
    for a trimap-free model, the default ``max_side`` (1024 px) for a trimap model. Training on full-size photos
    instead made 256 px crops far narrower views than the network ever gets, and the held-out photos got worse."""
    return DEFAULT_MAX_SIDE if trimap_input else DEFAULT_FIRST_STAGE_SIDE


def resized_sample(sample: SampleFiles, folder: Path, side: int) -> SampleFiles:
    """The sample with its long side at most ``side``: PNG copies in ``folder`` (image and alpha area-averaged,
    trimap nearest), or the sample itself when it is small enough."""
    from PIL import Image

    image = load_image(sample.image)
    height, width = image.shape[:2]
    h, w = network_size(height, width, side)
    if (h, w) == (height, width):
        return sample
    paths = {"image": folder / f"{sample.name}.image.png", "trimap": folder / f"{sample.name}.trimap.png"}
    Image.fromarray(to_uint8(image)).resize((w, h), Image.BOX).save(paths["image"])
    Image.fromarray(load_trimap(sample.trimap)).resize((w, h), Image.NEAREST).save(paths["trimap"])
    alpha = None
    if sample.alpha is not None:
        alpha = folder / f"{sample.name}.alpha.png"
        Image.fromarray(to_uint8(load_matte(sample.alpha))).resize((w, h), Image.BOX).save(alpha)
    return SampleFiles(sample.name, str(paths["image"]), None if alpha is None else str(alpha), str(paths["trimap"]))


def default_holdout(count: int) -> int:
    """Images held out for the before / after scores: a fifth (1 to 5), none below 4 images."""
    return 0 if count < 4 else min(5, max(1, round(count / 5)))


def split_holdout(samples: list[SampleFiles], holdout: int, seed: int) -> tuple[list[SampleFiles], list[SampleFiles]]:
    """``(train, held_out)``: ``holdout`` samples drawn with ``seed`` (the same inputs give the same split)."""
    if not 0 <= holdout < len(samples):
        raise TrainingConfigError(f"--holdout must be between 0 and {len(samples) - 1} for {len(samples)} images, "
                                  f"got {holdout}.")
    order = np.random.default_rng(seed).permutation(len(samples))
    held = sorted(int(i) for i in order[:holdout])
    return [s for i, s in enumerate(samples) if i not in held], [samples[i] for i in held]


# ------------------------------------------------------------------------------------------------------- model
def base_model_config(base: str) -> tuple[str, dict]:
    """``(source, config)`` of the model to start from: a local folder (bundled names resolve to theirs) or a Hub
    id, and its validated ``config.json``."""
    source = resolve_source(base)
    if isinstance(source, Path):
        return str(source), json.loads((source / "config.json").read_text())
    from huggingface_hub import hf_hub_download

    from .hub import validate_hub_config

    try:
        validate_hub_config(source, {})
        path = hf_hub_download(repo_id=source, filename="config.json")
    except Exception as e:
        translated = hub_error(e, source)
        if translated is None:
            raise
        raise translated from None
    return source, json.loads(Path(path).read_text())


# ------------------------------------------------------------------------------------------------------ the run
def two_stage_partner(base: str) -> str | None:
    """The trimap model the two-stage default pairs with ``base`` (:func:`afmatting.loading.partner_of`): for the
    bundled trimap-free model the bundled trimap model, for a folder tuned from it its own; None for a trimap model
    or a model without a two-stage path."""
    from .loading import load_model, partner_of

    return partner_of(base, load_model(base))


def resolve_stage(stage: str | None, base: str, trimap_input: bool) -> tuple[str, str | None]:
    """``(stage, partner)``: what to tune (``first`` / ``second`` / ``both`` of the two-stage default, or
    ``network`` for a base without a two-stage path) and the second stage's trimap model (None unless tuned)."""
    if stage is not None and stage not in STAGES:
        raise TrainingConfigError(f"--stage must be one of {', '.join(STAGES)}, got '{stage}'.")
    partner = None if trimap_input else two_stage_partner(base)
    if partner is None:
        if stage not in (None, "first"):
            raise TrainingConfigError(
                f"--stage {stage} tunes the second stage of the two-stage default, but '{base}' has no trimap model "
                f"paired with it (it is a trimap model, or a trimap-free model other than afmatting/lite0-trimap-free "
                f"and those tuned from it); tune it alone (no --stage) or start from afmatting/lite0-trimap-free.")
        return "network", None
    stage = stage or DEFAULT_STAGE
    return stage, (partner if stage in ("second", "both") else None)


#: the default path's score of a trimap-free network on the held-out photos (see :func:`default_path_scorer`)
PATH_METRIC = "path_known"
#: tuned first-stage weights are kept only when they lower PATH_METRIC by at least this fraction of the start's: a
#: smaller gain on a few photos is noise (8 AM-2K photos: a 0.4 % gain on 2 held-out photos chose weights that made
#: 5 other photos worse; docs/results.md)
MIN_PATH_GAIN = 0.02


def default_path_scorer(samples: list[SampleFiles], trimap_model):
    """A scorer of trimap-free networks inside the two-stage default, on held-out photos with trimaps.

    The other first-stage networks (MODNet, U²-Net-p) are run once per photo; each call then runs
    :func:`afmatting.two_stage.two_stage_predict` with the given network and ``trimap_model`` on every photo (at its
    size: the working size of :func:`resized_sample`) and returns ``{PATH_METRIC: e}``, ``e`` the mean over photos of
    the mean absolute error (alpha in [0, 1]) of the default path's matte on the trimap's known pixels: the
    alpha-free score of what the user gets, fusion and guard included. None when onnxruntime (the other first-stage
    networks) is missing.
    """
    from .two_stage import resolve_saliency, two_stage_predict

    others = resolve_saliency("auto")
    if not others:
        return None
    images = [load_image(s.image) for s in samples]
    trimaps = [load_trimap(s.trimap) for s in samples]
    cached = [[np.clip(np.asarray(f(image), dtype=np.float32), 0.0, 1.0) for f in others] for image in images]

    def score(model) -> dict[str, float]:
        errors = []
        for image, trimap, mattes in zip(images, trimaps, cached):
            saliency = [lambda _image, m=m: m.copy() for m in mattes]
            alpha = two_stage_predict(model, image, trimap_model=trimap_model, saliency=saliency).alpha
            known = trimap != UNKNOWN
            if known.any():
                errors.append(float(np.abs(alpha[known] - trimap[known] / 255.0).mean()))
        return {PATH_METRIC: float(np.mean(errors)) if errors else 0.0}

    return score


def finetune(
    images,
    trimaps,
    out,
    *,
    base: str = DEFAULT_TRIMAP_FREE_MODEL,
    stage: str | None = None,
    steps: int | None = None,
    alphas=None,
    val_images=None,
    holdout: int | None = None,
    train_side: int | None = None,
    seed: int = 0,
    resume: bool = False,
    push_to_hub: str | None = None,
    overrides: dict | None = None,
    select_in_default_path: bool = True,
    log=print,
) -> FinetuneReport:
    """Fine-tune ``base`` (or the networks of its two-stage default path) on ``images`` + ``trimaps``; save the model
    folder ``out``.

    Args:
        images: image files, folders or glob patterns.
        trimaps: folder of trimaps (0 background, 128 unknown, 255 foreground), paired with the images by stem.
        out: the model folder to write (``config.json``, ``model.safetensors``, ``README.md``, ``finetune.json``,
            and ``trimap-model/`` when the second stage was tuned): ``afmatting matte --model OUT`` and
            ``afmatting.load_matter(OUT)`` run the two-stage default with the tuned parts.
        base: the model to start from: ``afmatting/lite0-trimap-free`` (the two-stage default),
            ``afmatting/lite0-trimap``, a model folder or a Hub id.
        stage: for a base with a two-stage path (:func:`two_stage_partner`): which of its networks to tune, one of
            :data:`STAGES` (default :data:`DEFAULT_STAGE`, the first stage's trimap-free network; see
            docs/results.md for why). Any other base is tuned itself (``stage`` None).
        steps: optimiser steps per tuned network (batch 4, 256 px crops: 1-4 s each on a CPU core); default
            :func:`default_steps` of the number of training photos.
        alphas: optional alpha folder: held-out images are then also scored by SAD. Never used for training.
        val_images: images to score before and after instead of holding out some of ``images`` (trimaps, and
            alphas if given, from the same folders).
        holdout: how many of ``images`` to hold out when ``val_images`` is not given (default: a fifth, 1-5; none
            below 4 images).
        train_side: photos are scaled down to this long side for training and the held-out scores (default
            :func:`working_side` of each tuned network: the size it sees in use).
        seed: seeds the held-out draw, the crops and the initialisation of the run.
        resume: continue an interrupted run in ``out`` from its latest checkpoint (a network already tuned is kept).
        push_to_hub: a Hub repo id to upload the folder to (checked reachable before training starts).
        overrides: training keys replacing :data:`RECIPE` values (see :data:`afmatting.training.DEFAULTS`).
        select_in_default_path: when tuning the first stage with held-out photos, choose its weights inside the
            default path on them (see :func:`tune_network`); False keeps the last weights (an experiment whose
            held-out photos are also its test photos must not choose on them).
        log: where progress lines go.

    Returns:
        a :class:`FinetuneReport` (the before / after table: ``report.table()``).
    """
    if push_to_hub and not hub_reachable():
        raise CheckpointError(f"--push-to-hub {push_to_hub}: the Hugging Face Hub is unreachable from here, so "
                              f"nothing was trained; run without --push-to-hub and upload '{out}' later "
                              f"(huggingface-cli upload {push_to_hub} {out}).")
    samples, skipped = pair_inputs(images, trimaps, alphas)
    for note in skipped:
        log(f"skipping {note}")
    if val_images is not None:
        held, _ = pair_inputs(val_images, trimaps, alphas, what="validation")
        train_samples = samples
        overlap = {s.name for s in held} & {s.name for s in train_samples}
        if overlap:
            raise DatasetError(f"The validation images must not be training images; both have {sorted(overlap)}.")
    else:
        count = default_holdout(len(samples)) if holdout is None else int(holdout)
        train_samples, held = split_holdout(samples, count, seed)
    steps = default_steps(len(train_samples)) if steps is None else int(steps)
    if steps < 1:
        raise TrainingConfigError(f"--steps must be at least 1, got {steps}.")
    _, config = base_model_config(base)
    stage, partner = resolve_stage(stage, base, bool(config.get("trimap_input", False)))
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not resume:
        raise TrainingConfigError(f"--out '{out}' exists and is not empty; choose a new folder (or --resume).")
    plan = []  # (stage, base, folder)
    if stage in ("network", "first", "both"):
        plan.append(("network" if stage == "network" else "first", base, out))
    start_partner = two_stage_partner(base) if stage in ("first", "both") and select_in_default_path else None
    if partner is not None:
        plan.append(("second", partner, out / TRIMAP_MODEL_FOLDER))
    what = " and ".join(f"{STAGE_LABELS[s]} `{b}`" if s != "network" else f"`{b}`" for s, b, _ in plan)
    log(f"fine-tuning {what} on {len(train_samples)} images ({steps} steps each); {len(held)} held out for the "
        f"before / after scores" + (f": {', '.join(s.name for s in held)}" if held else ""))
    runs = []
    with tempfile.TemporaryDirectory(prefix="afmatting-finetune-") as cache:
        for run_stage, run_base, folder in plan:
            runs.append(tune_network(run_stage, run_base, folder, train_samples, held, cache, steps=steps,
                                     with_alpha=alphas is not None, train_side=train_side, seed=seed, resume=resume,
                                     dataset=f"{len(train_samples)} photos from {describe_inputs(images)} with "
                                             f"trimaps from '{trimaps}'", overrides=overrides,
                                     partner=start_partner if run_stage == "first" else None))
    if stage == "second":  # the first stage stays the base's: saved as it is, so that the folder loads on its own
        from .loading import load_model

        load_model(base).save_pretrained(out)
    report = FinetuneReport(out=out, base=base, train_names=[s.name for s in train_samples],
                            val_names=[s.name for s in held], runs=runs, notes=skipped,
                            recipe={**RECIPE, **dict(overrides or {})})
    finish_folder(report, stage)
    if push_to_hub:
        push_folder(out, push_to_hub)
        log(f"pushed {out} to https://huggingface.co/{push_to_hub}")
    return report


def tune_network(stage: str, base: str, folder: Path, train_samples, held, cache: str, *, steps: int,
                 with_alpha: bool, train_side: int | None, seed: int, resume: bool, dataset: str,
                 overrides: dict | None, partner: str | None = None) -> NetworkRun:
    """Tune one network (:func:`afmatting.training.train` with :data:`RECIPE`) from ``base`` into ``folder``; a
    network that a resumed run finds already tuned there (its ``train_summary.json``, no checkpoints left) is kept.

    With ``partner`` (the first stage of the two-stage default, tuned with held-out photos): the network is also
    scored inside the default path with that trimap model (:func:`default_path_scorer`) at the start and at four
    points of the run, and the folder keeps the best of the tuned weights when they beat the start's by
    :data:`MIN_PATH_GAIN`, else the start's: a tuning that does not clearly help the default path on the held-out
    photos leaves the first stage as it was."""
    from .training import training_config
    from .training import train as run_training

    source, config = base_model_config(base)
    trimap_input = bool(config.get("trimap_input", False))
    side = working_side(trimap_input) if train_side is None else int(train_side)
    summary_file = folder / "train_summary.json"
    if resume and summary_file.is_file() and not (folder / "checkpoints").exists():
        summary = json.loads(summary_file.read_text())
        return NetworkRun(stage, base, folder, int(summary.get("steps", steps)), float(summary.get("seconds", 0.0)),
                          side, summary.get("initial_metrics"), summary.get("final_metrics"))
    settings = {
        **RECIPE,
        "backbone": config.get("backbone"),
        "trimap_input": trimap_input,
        **{k: config[k] for k in ("detail_widths", "fusion_widths", "neck_width", "head_width") if k in config},
        "pretrained_backbone": False,  # every weight comes from the base model
        "init_from": source,
        "dataset": dataset,
        "val_max_side": side,
        "max_steps": int(steps),
        "validation_steps": int(steps),
        "checkpointing_steps": max(1, min(100, int(steps))),
        "checkpoints_total_limit": 1,
        "resume_from_checkpoint": "latest" if resume else None,
        "output_dir": str(folder),
        "seed": int(seed),
        "best_metric": "SAD" if with_alpha else "objective",
        **({"progress_description": f"fine-tuning the {STAGE_LABELS[stage]}"} if stage != "network" else {}),
        **dict(overrides or {}),
    }
    start = time.perf_counter()
    part = Path(cache) / stage
    train_split = pairs_dataset(train_samples, "train", str(part), side, with_alpha=False)
    val_split = pairs_dataset(held, "validation", str(part), side, with_alpha=with_alpha) if held else None
    scorer = None
    if partner is not None and held:
        from .loading import load_model

        folder_ = part / "validation-pairs"
        scorer = default_path_scorer([resized_sample(s, folder_, side) for s in held], load_model(partner))
    if scorer is not None:  # choose the weights through the default path (see the doc)
        settings.update(best_metric=PATH_METRIC, save_best=True, validation_steps=max(1, int(steps) // 4))
    args = training_config(**settings)
    summary = run_training(args, splits=(train_split, val_split), extra_validation=scorer)
    shutil.rmtree(folder / "checkpoints", ignore_errors=True)
    before, after, chosen = summary.get("initial_metrics"), summary.get("final_metrics"), None
    if scorer is not None and before and PATH_METRIC in before:
        best = summary.get("best") or {}
        if best.get("step") and best["value"] < (1.0 - MIN_PATH_GAIN) * before[PATH_METRIC]:
            chosen, after = int(best["step"]), best["metrics"]
            if chosen != int(summary.get("steps", args.max_steps)):
                shutil.copyfile(folder / "best" / "model.safetensors", folder / "model.safetensors")
        else:  # tuning did not help the default path on the held-out photos: the start's weights stay
            from .loading import load_model

            chosen, after = 0, before
            load_model(base).save_pretrained(folder)
        shutil.rmtree(folder / "best", ignore_errors=True)
    return NetworkRun(stage, base, folder, int(summary.get("steps", args.max_steps)),
                      round(time.perf_counter() - start, 1), side, before, after, chosen)


def describe_inputs(images) -> str:
    items = images if isinstance(images, (list, tuple)) else [images]
    text = ", ".join(f"'{i}'" for i in items[:3])
    return text + (f" and {len(items) - 3} more" if len(items) > 3 else "")


def pairs_dataset(samples: list[SampleFiles], split: str, cache_dir: str, side: int, *, with_alpha: bool):
    """A ``datasets.Dataset`` of the pairs at long side ``side`` at most (the loader's encoding:
    :func:`afmatting.data.build_split`). Training splits never carry the alpha column."""
    from .data import build_split

    folder = Path(cache_dir) / f"{split}-pairs"
    folder.mkdir(parents=True, exist_ok=True)
    samples = [resized_sample(s, folder, side) for s in samples]
    if not with_alpha:
        samples = [SampleFiles(s.name, s.image, None, s.trimap) for s in samples]
    elif any(s.alpha is None for s in samples):
        missing = next(s for s in samples if s.alpha is None)
        raise DatasetError(f"The held-out image '{missing.image}' has no alpha in the alpha folder.")
    return build_split(samples, split=split, cache_dir=cache_dir, progress=False)


def finish_folder(report: FinetuneReport, stage: str) -> None:
    """Leave a clean model folder: ``finetune.json`` written (what was tuned, from what, on what, the scores; and
    ``trimap_model``, the tuned second stage's subfolder, which :func:`afmatting.loading.load_matter` pairs the
    network with), the model card rewritten to say so."""
    from .model import AFMatting

    out = report.out
    second = next((r for r in report.runs if r.stage == "second"), None)
    first = next((r for r in report.runs if r.stage != "second"), None)
    record = {
        "base_model": report.base,
        "trimap_input": bool(AFMatting.from_pretrained(first.folder).trimap_input) if first else False,
        "stage": stage,
        "train_images": report.train_names,
        "held_out_images": report.val_names,
        "steps": report.steps,
        "seconds": report.seconds,
        "before": report.before,
        "after": report.after,
        "networks": [{"stage": r.stage, "base": r.base,
                      "folder": "." if r.folder == out else r.folder.relative_to(out).as_posix(),
                      "steps": r.steps, "seconds": r.seconds, "train_side": r.side, "before": r.before,
                      "after": r.after, "chosen_step": r.chosen_step} for r in report.runs],
        "recipe": report.recipe,
    }
    if second is not None:
        record["trimap_model"] = TRIMAP_MODEL_FOLDER
    (out / FINETUNE_RECORD).write_text(json.dumps(record, indent=2))
    model = AFMatting.from_pretrained(out)
    card = model.generate_model_card(training=card_training_text(report), metrics=card_metrics_text(report),
                                     limitations=CARD_LIMITATIONS)
    card.save(str(out / "README.md"))


def card_training_text(report: FinetuneReport) -> str:
    names = ", ".join(f"`{n}`" for n in report.train_names[:20])
    more = f" and {len(report.train_names) - 20} more" if len(report.train_names) > 20 else ""
    tuned = "; ".join(f"{STAGE_LABELS[r.stage]} from `{r.base}` (photos scaled to {r.side} px long side)"
                      if r.stage != "network" else f"`{r.base}` (photos scaled to {r.side} px long side)"
                      for r in report.runs)
    recipe = report.recipe
    text = (f"Fine-tuned from `{report.base}` with `afmatting finetune` on {len(report.train_names)} photos "
            f"({names}{more}) with trimaps only (no alpha labels were used); tuned: {tuned}. Loss known + {recipe['ddc_weight']:g} x DDC "
            f"(K = {recipe['kernel_size']}), {report.steps} steps of batch {recipe['batch_size']} on "
            f"{recipe['crop_size']} px crops centred on the trimaps' unknown band, learning rate "
            f"{recipe['learning_rate']:g} (warm-up {recipe['warmup_steps']} steps, cosine)"
            + (", batch-norm statistics kept from the start" if recipe.get("freeze_norm_stats") else "")
            + f", {report.seconds:.0f} s in all.")
    if any(r.stage in ("first", "second") for r in report.runs):
        second = any(r.stage == "second" for r in report.runs)
        text += ("\n\n`afmatting matte --model THIS_FOLDER` and `afmatting.load_matter(THIS_FOLDER).predict(photo)` "
                 "run afmatting's two-stage default with this folder's networks: the trimap-free network here (with "
                 "MODNet and U²-Net-p) finds the subject, "
                 + (f"the tuned trimap model in `{TRIMAP_MODEL_FOLDER}/` " if second else "the bundled trimap model ")
                 + "mattes the automatic trimap's band, and refinement finishes.")
    return text


def card_metrics_text(report: FinetuneReport) -> str:
    if not report.val_names:
        return "No images were held out, so there are no before / after scores."
    return (f"Held-out photos ({', '.join(f'`{n}`' for n in report.val_names)}), each tuned network's own matte "
            f"(the trimap model with the held-out trimaps) at its working size, before and after fine-tuning (lower "
            f"is better):\n\n" + report.table())


CARD_LIMITATIONS = ("Tuned on a handful of the user's photos: it is better at photos like them and may be worse at "
                    "others. The held-out scores are the alpha-free objective on trimaps (and SAD only where alphas "
                    "were given), measured on very few images.")


def push_folder(out: Path, repo_id: str) -> None:
    """Upload the model folder to the Hub repo ``repo_id``; a failure is one CheckpointError (the folder stays)."""
    from huggingface_hub import HfApi

    try:
        api = HfApi()
        api.create_repo(repo_id, exist_ok=True)
        api.upload_folder(repo_id=repo_id, folder_path=str(out), commit_message="afmatting finetune")
    except Exception as e:  # noqa: BLE001  (network, auth and Hub errors all end the same way)
        raise CheckpointError(f"Could not push '{out}' to the Hub repo '{repo_id}' ({type(e).__name__}: {e}); the "
                              f"model is saved in '{out}': upload it later with `huggingface-cli upload {repo_id} "
                              f"{out}`.") from None
