"""Fine-tune the bundled trimap-free model on 8 AM-2K photos (trimaps only) and score it before and after.

The experiment of docs/results.md ("Fine-tuning on your photos"):

1. trimaps for the 13 AM-2K samples of ``../shared/data/am2k-samples`` are derived from their pseudo-alphas by the
   paper's recipe (:func:`afmatting.trimap.alpha_to_trimap`, the per-image seed the dataset conversion uses) into
   ``runs/finetune_am2k/trimaps``; the alphas themselves never reach training;
2. ``afmatting finetune`` (:func:`afmatting.finetune.finetune`) tunes ``afmatting/lite0-trimap-free`` on 8 of them
   with the other 5 as its held-out images (its own before / after table: the alpha-free objective);
3. the default path (two-stage, with the bundled U²-Net-p mask where onnxruntime is installed) and the network alone
   are scored with the bundled first stage and with the tuned one: on the 5 held-out AM-2K photos, whole image,
   against the pseudo-alphas (**agreement with another model, not ground truth**), and on the 27 alphamatting.com
   photos, whole image, against their real ground truth.

Which 5 are held out: the 3 AM-2K photos the bundled models never saw (sample6, sample8, sample9: the reproduction
held them out) and the last 2 of those it trained on (sample4, sample5).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/finetune_am2k.py --steps 100 --json runs/finetune_am2k.json
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from afmatting.data import folder_examples, trimap_seed_for  # noqa: E402
from afmatting.evaluation import evaluate  # noqa: E402
from afmatting.finetune import finetune  # noqa: E402
from afmatting.io import load_matte  # noqa: E402
from afmatting.loading import load_matter  # noqa: E402
from afmatting.processing import to_uint8  # noqa: E402
from afmatting.trimap import alpha_to_trimap  # noqa: E402

SHARED = PROJECT_ROOT.parent / "shared" / "data"
AM2K, ALPHAMATTING = SHARED / "am2k-samples", SHARED / "alphamatting"
HELD_OUT = ("sample4", "sample5", "sample6", "sample8", "sample9")
BASE = "afmatting/lite0-trimap-free"
TABLE = ("SAD", "MSE", "Grad", "Conn")


def write_trimaps(folder: Path) -> None:
    """The paper's trimaps from the pseudo-alphas (same seeds as the dataset conversion), one PNG per photo."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for alpha in sorted((AM2K / "alpha-pseudo").glob("*.png")):
        trimap = alpha_to_trimap(to_uint8(load_matte(str(alpha))), seed=trimap_seed_for(alpha.stem))
        Image.fromarray(trimap).save(folder / f"{alpha.stem}.png")


def am2k_examples(trimaps: Path, names) -> list[dict]:
    return [{"name": n, "image": str(AM2K / "image" / f"{n}.jpg"), "alpha": str(AM2K / "alpha-pseudo" / f"{n}.png"),
             "trimap": str(trimaps / f"{n}.png")} for n in names]


def score(model, examples, two_stage: bool) -> tuple[dict, list[dict], float]:
    start = time.perf_counter()
    means, rows = evaluate(model, examples, region="whole", progress=False,
                           predict_kwargs=None if two_stage else {"two_stage": False})
    return means, rows, time.perf_counter() - start


def render_section() -> str:
    """The section as markdown, from docs/results_finetune.json."""
    return "\n".join(finetune_section(json.loads(RESULTS_JSON.read_text())))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(PROJECT_ROOT / "runs" / "finetune_am2k"))
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--skip-training", action="store_true", help="score the model already in OUT/model")
    ap.add_argument("--limit", type=int, default=None, help="score only the first N alphamatting photos")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if not (AM2K / "image").is_dir() or not (ALPHAMATTING / "image").is_dir():
        print(f"shared data not found under {SHARED}", file=sys.stderr)
        return 2
    out = Path(args.out)
    trimaps, tuned_dir = out / "trimaps", out / "model"
    write_trimaps(trimaps)
    names = sorted(p.stem for p in (AM2K / "image").glob("*.jpg"))
    train_images = [str(AM2K / "image" / f"{n}.jpg") for n in names if n not in HELD_OUT]
    held_images = [str(AM2K / "image" / f"{n}.jpg") for n in HELD_OUT]
    results = {"held_out": list(HELD_OUT), "train": [Path(p).stem for p in train_images], "steps": args.steps,
               "machine": platform.processor() or platform.machine()}
    if not args.skip_training:
        shutil.rmtree(tuned_dir, ignore_errors=True)
        report = finetune(train_images, trimaps, tuned_dir, base=BASE, steps=args.steps, val_images=held_images)
        print(report.table())
        results["finetune"] = {"seconds": report.seconds, "before": report.before, "after": report.after}
    # each with the bundled trimap model as its second stage: the tuned folder records its base (finetune.json)
    models = {"bundled": load_matter(BASE), "tuned": load_matter(str(tuned_dir))}
    sets = {"am2k_held_out": am2k_examples(trimaps, HELD_OUT),
            "alphamatting": folder_examples(ALPHAMATTING, trimap_dir="trimap1", limit=args.limit)}
    for path in ("two_stage", "network"):
        for set_name, examples in sets.items():
            for label, model in models.items():
                means, rows, seconds = score(model, examples, two_stage=path == "two_stage")
                key = f"{path}/{set_name}/{label}"
                results[key] = {"means": {k: means[k] for k in TABLE}, "seconds": round(seconds, 1),
                                "per_image_SAD": {r["name"]: round(r["SAD"], 2) for r in rows}}
                print(f"{key}: " + ", ".join(f"{k} {means[k]:.2f}" for k in TABLE) + f" ({seconds:.0f} s)",
                      flush=True)
    unseen = [n for n in HELD_OUT if n in ("sample6", "sample8", "sample9")]
    for label in models:
        sad = results[f"two_stage/am2k_held_out/{label}"]["per_image_SAD"]
        results[f"two_stage/am2k_unseen3/{label}/SAD"] = round(float(np.mean([sad[n] for n in unseen])), 2)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())


# ------------------------------------------------------------------------------------------ docs/results.md
RESULTS_JSON = PROJECT_ROOT / "docs" / "results_finetune.json"


def finetune_section(data: dict) -> list[str]:
    """The "Fine-tuning on your photos" section of docs/results.md, rendered from docs/results_finetune.json
    (``{"runs": {steps: this script's JSON}, ...}``)."""
    runs = {int(k): v for k, v in data["runs"].items()}
    first = runs[max(runs)]

    def sad(run, key):
        return run[key]["means"]["SAD"]

    base_am2k, base_am = sad(first, "two_stage/am2k_held_out/bundled"), sad(first, "two_stage/alphamatting/bundled")
    limit = base_am * 1.05
    rows = [f"| bundled `{BASE}` | {base_am2k:.2f} | {first['two_stage/am2k_unseen3/bundled/SAD']:.2f} | "
            + " | ".join(f"{first['two_stage/alphamatting/bundled']['means'][k]:.2f}" for k in TABLE) + " |"]
    for steps in sorted(runs, reverse=True):
        run = runs[steps]
        am2k, am = sad(run, "two_stage/am2k_held_out/tuned"), sad(run, "two_stage/alphamatting/tuned")
        rows.append(f"| tuned, {steps} steps | **{am2k:.2f}** ({100 * (am2k / base_am2k - 1):+.0f} %) | "
                    f"**{run['two_stage/am2k_unseen3/tuned/SAD']:.2f}** | {am:.2f} ({100 * (am / base_am - 1):+.1f} %) | "
                    + " | ".join(f"{run['two_stage/alphamatting/tuned']['means'][k]:.2f}" for k in TABLE[1:]) + " |")
    network = "; ".join(
        f"{label} {sad(first, f'network/{key}/bundled'):.1f} → "
        + " / ".join(f"{sad(runs[s], f'network/{key}/tuned'):.1f}" for s in sorted(runs, reverse=True))
        for key, label in (("am2k_held_out", "AM-2K held-out SAD"), ("alphamatting", "alphamatting")))
    own = {k: " / ".join(f"{runs[s]['finetune']['after'][k]:.3g}" for s in sorted(runs, reverse=True))
           for k in ("objective", "known", "ddc")}
    before = first["finetune"]["before"]
    per_photo = ", ".join(
        f"{n} {first['two_stage/am2k_held_out/bundled']['per_image_SAD'][n]:.1f} → "
        f"{first['two_stage/am2k_held_out/tuned']['per_image_SAD'][n]:.1f}" for n in first["held_out"])
    times = "; ".join(f"{s} steps: fine-tuning {runs[s]['finetune']['seconds']:.0f} s, the whole script with its "
                      f"scoring {runs[s]['script_seconds'] / 60:.0f} min" for s in sorted(runs, reverse=True))
    earlier = data.get("earlier_run")
    steps_list = " / ".join(str(s) for s in sorted(runs, reverse=True))
    return [
        "## Fine-tuning on your photos (`afmatting finetune`)",
        "",
        f"The bundled trimap-free model fine-tuned on {len(first['train'])} of the 13 AM-2K animal photos of "
        f"`../shared/data/am2k-samples` ({', '.join(first['train'])}) with trimaps derived from their pseudo-alphas "
        "by the paper's recipe (the alphas never reach training), scored on the other "
        f"{len(first['held_out'])} and on the 27 alphamatting.com photos, before and after. Which model: the "
        "**trimap-free** one, because it is what goes wrong on a user's photos: the default path's first stage "
        "decides what the subject is, and the automatic trimap, the trimap model and the refinement all follow it; "
        "the trimap model (the second stage) only draws the edge inside a band it is given. Held out: the 3 AM-2K "
        "photos the bundled model never saw (sample6, 8, 9) and the last 2 it was trained on (sample4, 5). "
        f"Margin, stated before the runs: {data['margin']}.",
        "",
        "| first stage of the default path | AM-2K held-out 5, SAD (agreement with pseudo-alphas) | of which the 3 "
        "unseen | alphamatting 27, SAD (real GT) | MSE | Grad | Conn |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "Whole image, the default path (network at 640 px + U²-Net-p mask, automatic trimap, bundled trimap model, "
        f"refinement; MSE ×1e3). The trimap-free network alone, {steps_list} steps: {network}. "
        f"`afmatting finetune`'s own table on the held-out trimaps (the network's matte at 640 px): objective "
        f"{before['objective']:.3g} → {own['objective']}, known-region error {before['known']:.3g} → {own['known']}, "
        f"DDC {before['ddc']:.3g} → {own['ddc']}.",
        "",
        f"Per photo (AM-2K held-out, default path, bundled → {max(runs)} steps): {per_photo}.",
        "",
        f"Time on this 2-core CPU, {data['load']}: {times}.",
        "",
        f"Reading: the tuned first stage does what it was tuned for (the held-out animal photos), at a cost on a "
        "different domain, the alphamatting photos (objects, toys, plants on studio backgrounds): "
        + ("**the margin is met**." if all(sad(r, "two_stage/alphamatting/tuned") <= limit for r in runs.values())
           else f"**the margin is not met** (at most {limit:.2f}): use a tuned model for photos like the ones "
                "it was tuned on, and the default elsewhere.")
        + (f" An earlier run, {earlier['what']}, made the held-out photos worse (SAD "
           f"{earlier['am2k_held_out_two_stage_SAD'][0]:.1f} → {earlier['am2k_held_out_two_stage_SAD'][1]:.1f}, "
           f"objective {earlier['held_out_objective'][0]:.3g} → {earlier['held_out_objective'][1]:.3g}): 256 px crops "
           "of a full-size photo are a far narrower view than the 640 px the first stage sees in use, so the photos "
           "are now scaled to that size first." if earlier else "")
        + " Not tried for lack of time: keeping the weights near the bundled ones (L2-SP) or mixing in the bundled "
        "model's own training photos, which should cut the drift on other domains.",
        "",
        "```bash",
        data["command"],
        "```",
    ]
