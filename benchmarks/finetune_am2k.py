"""Fine-tune the default path on 8 AM-2K photos (trimaps only) and score it before and after.

The experiment of docs/results.md ("Fine-tuning on your photos"):

1. trimaps for the 13 AM-2K samples of ``../shared/data/am2k-samples`` are derived from their pseudo-alphas by the
   paper's recipe (:func:`afmatting.trimap.alpha_to_trimap`, the per-image seed the dataset conversion uses) into
   ``OUT/trimaps``; the alphas themselves never reach training;
2. ``afmatting finetune`` (:func:`afmatting.finetune.finetune`) tunes the chosen network(s) of the two-stage default
   (``--stage``: ``first`` the trimap-free network, ``second`` the trimap model, ``both``) from
   ``afmatting/lite0-trimap-free`` on 8 of them, with the other 5 as its held-out images (its own before / after
   table: the alpha-free objective of each tuned network);
3. the default path (``load_matter(folder).predict(image)``: first stage fused with MODNet and U²-Net-p, automatic
   trimap, trimap model, refinement) and, with ``--network``, the trimap-free network alone are scored with the
   bundled models and with the tuned folder: on the 5 held-out AM-2K photos, whole image, against the pseudo-alphas
   (**agreement with another model, not ground truth**), and on the 27 alphamatting.com photos, whole image,
   against their real ground truth. Per photo it records the SAD, whether the default path's guard answered with
   the trimap-free network alone (``mostly_unknown``) and the SAD of the fused first-stage matte (``prior``).

Which 5 are held out: the 3 AM-2K photos the bundled models never saw (sample6, sample8, sample9: the reproduction
held them out) and the last 2 of those it trained on (sample4, sample5).

    OMP_NUM_THREADS=1 python benchmarks/finetune_am2k.py --stage first --steps 100 --label "first stage, 100 steps" \
        --record
    # re-score a folder already tuned (OUT/model) without training: --skip-training; the bundled models once: --bundled

``--record`` stores the run in docs/results_finetune.json (``approaches[LABEL]``, and ``bundled`` with
``--bundled``), which ``python -m benchmarks.report results`` renders into docs/results.md.
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

from afmatting.data import folder_examples, read_alpha_value, trimap_seed_for  # noqa: E402
from afmatting.evaluation import evaluate  # noqa: E402
from afmatting.finetune import RECIPE, STAGES, finetune  # noqa: E402
from afmatting.io import load_matte  # noqa: E402
from afmatting.loading import load_matter  # noqa: E402
from afmatting.metrics import compute_metrics  # noqa: E402
from afmatting.processing import to_uint8  # noqa: E402
from afmatting.trimap import alpha_to_trimap  # noqa: E402

SHARED = PROJECT_ROOT.parent / "shared" / "data"
#: the measured runs behind docs/results.md's fine-tuning section (this script's --record)
RESULTS_JSON = PROJECT_ROOT / "docs" / "results_finetune.json"
AM2K, ALPHAMATTING = SHARED / "am2k-samples", SHARED / "alphamatting"
HELD_OUT = ("sample4", "sample5", "sample6", "sample8", "sample9")
UNSEEN = ("sample6", "sample8", "sample9")  # held out from the bundled models' training too
BASE = "afmatting/lite0-trimap-free"
TABLE = ("SAD", "MSE", "Grad", "Conn")
SETS = ("am2k_held_out", "alphamatting")


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


class Recorder:
    """A pipeline (:class:`afmatting.loading.Matter`) that keeps, per ``predict`` call in order, whether the
    two-stage guard answered with the trimap-free network alone and the fused first-stage matte (uint8 (H, W))."""

    def __init__(self, matter):
        self.matter, self.extras = matter, []

    @property
    def trimap_input(self) -> bool:
        return self.matter.trimap_input

    def predict(self, image, trimap=None, **kwargs):
        result = self.matter.predict(image, trimap, **kwargs)
        self.extras.append({"guard": bool(result.extra.get("mostly_unknown", False)), "prior": result.extra.get("prior")})
        return result


def score(matter, examples, two_stage: bool) -> dict:
    """Whole-image scores of ``matter`` on ``examples``: means, seconds, per-photo SAD and, on the default path,
    per-photo guard flags and the fused first-stage matte's SAD."""
    recorder = Recorder(matter)
    start = time.perf_counter()
    means, rows = evaluate(recorder, examples, region="whole", progress=False,
                           predict_kwargs=None if two_stage else {"two_stage": False})
    out = {"means": {k: means[k] for k in TABLE}, "seconds": round(time.perf_counter() - start, 1),
           "per_image_SAD": {r["name"]: round(r["SAD"], 2) for r in rows}}
    if two_stage:
        out["guard"] = [ex["name"] for ex, extra in zip(examples, recorder.extras) if extra["guard"]]
        out["prior_SAD"] = {ex["name"]: round(compute_metrics(extra["prior"], read_alpha_value(ex["alpha"]))["SAD"], 2)
                            for ex, extra in zip(examples, recorder.extras)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(PROJECT_ROOT / "runs" / "finetune_am2k"))
    ap.add_argument("--stage", choices=STAGES, default="first", help="which network(s) of the default path to tune")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--l2sp", type=float, default=None, help="L2-SP weight (default: the recipe's)")
    ap.add_argument("--select", type=int, default=0, metavar="N",
                    help="hold out the last N training photos as finetune's validation photos (where it chooses the "
                         "first stage's weights inside the default path) instead of the 5 scored ones, so that "
                         "nothing scored here steers the choice")
    ap.add_argument("--skip-training", action="store_true", help="score the model already in OUT/model")
    ap.add_argument("--bundled", action="store_true", help="also score the bundled models")
    ap.add_argument("--network", action="store_true", help="also score the trimap-free networks alone")
    ap.add_argument("--limit", type=int, default=None, help="score only the first N alphamatting photos")
    ap.add_argument("--label", default=None, help="the approach's name in docs/results_finetune.json")
    ap.add_argument("--record", action="store_true", help="store the run in docs/results_finetune.json")
    ap.add_argument("--note", default=None, help="what else differs from the recipe (recorded with the run)")
    ap.add_argument("--override", action="append", default=[], metavar="KEY=JSON",
                    help="a training key of the recipe to change, e.g. crop_size=384 (repeatable)")
    ap.add_argument("--json", default=None, help="also write the run's JSON here")
    ap.add_argument("--record-json", default=None, metavar="JSON",
                    help="only store a run's JSON (written by --json) in docs/results_finetune.json under --label")
    args = ap.parse_args(argv)
    if args.record_json:
        if not args.label:
            ap.error("--record-json needs --label")
        record(json.loads(Path(args.record_json).read_text()), args.label)
        return 0
    if not (AM2K / "image").is_dir() or not (ALPHAMATTING / "image").is_dir():
        print(f"shared data not found under {SHARED}", file=sys.stderr)
        return 2
    if args.record and not args.label:
        ap.error("--record needs --label")
    script_start = time.perf_counter()
    out = Path(args.out)
    trimaps, tuned_dir = out / "trimaps", out / "model"
    write_trimaps(trimaps)
    names = sorted(p.stem for p in (AM2K / "image").glob("*.jpg"))
    train_images = [str(AM2K / "image" / f"{n}.jpg") for n in names if n not in HELD_OUT]
    held_images = [str(AM2K / "image" / f"{n}.jpg") for n in HELD_OUT]
    val_images = held_images
    if args.select:
        train_images, val_images = train_images[:-args.select], train_images[-args.select:]
    l2sp = RECIPE.get("l2sp_weight", 0.0) if args.l2sp is None else args.l2sp
    overrides = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.override)}
    results = {"held_out": list(HELD_OUT), "train": [Path(p).stem for p in train_images], "stage": args.stage,
               "steps": args.steps, "l2sp_weight": l2sp, "machine": platform.processor() or platform.machine(),
               "validation": [Path(p).stem for p in val_images], "note": args.note, "overrides": overrides}
    if not args.skip_training:
        shutil.rmtree(tuned_dir, ignore_errors=True)
        report = finetune(train_images, trimaps, tuned_dir, base=BASE, stage=args.stage, steps=args.steps,
                          val_images=val_images, overrides={"l2sp_weight": l2sp, **overrides},
                          # choosing weights on the scored photos would leak them: only with --select
                          select_in_default_path=bool(args.select))
        print(report.table())
        results["finetune"] = {"seconds": report.seconds,
                               "networks": [{"stage": r.stage, "seconds": r.seconds, "before": r.before,
                                             "after": r.after, "chosen_step": r.chosen_step} for r in report.runs]}
    else:  # what the folder's finetune.json says of its tuning
        record_ = json.loads((tuned_dir / "finetune.json").read_text())
        results["finetune"] = {"seconds": record_["seconds"], "networks": [
            {k: n.get(k) for k in ("stage", "seconds", "before", "after", "chosen_step")} for n in record_["networks"]]}
    # folders tuned before the recipe kept batch-norm statistics recorded no recipe: their statistics moved
    recipe_used = json.loads((tuned_dir / "finetune.json").read_text()).get("recipe") or {}
    results["freeze_norm_stats"] = bool(recipe_used.get("freeze_norm_stats", False))
    # the tuned folder runs the default path with its own networks (load_matter reads its finetune.json)
    models = {"tuned": load_matter(str(tuned_dir))}
    if args.bundled:
        models = {"bundled": load_matter(BASE), **models}
    sets = {"am2k_held_out": am2k_examples(trimaps, HELD_OUT),
            "alphamatting": folder_examples(ALPHAMATTING, trimap_dir="trimap1", limit=args.limit)}
    for path in ("two_stage", "network") if args.network else ("two_stage",):
        for set_name, examples in sets.items():
            for label, model in models.items():
                key = f"{path}/{set_name}/{label}"
                results[key] = score(model, examples, two_stage=path == "two_stage")
                print(f"{key}: " + ", ".join(f"{k} {results[key]['means'][k]:.2f}" for k in TABLE)
                      + f" ({results[key]['seconds']:.0f} s); guard: {results[key].get('guard')}", flush=True)
    for label in models:
        sad = results[f"two_stage/am2k_held_out/{label}"]["per_image_SAD"]
        results[f"two_stage/am2k_unseen3/{label}/SAD"] = round(float(np.mean([sad[n] for n in UNSEEN])), 2)
    results["script_seconds"] = round(time.perf_counter() - script_start, 1)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if args.record:
        record(results, args.label)
    return 0


def record(results: dict, label: str) -> None:
    """Store a run in docs/results_finetune.json: the tuned scores as ``approaches[label]``, the bundled ones (when
    scored) as ``bundled``."""
    data = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
    bundled = {k.replace("/bundled", ""): v for k, v in results.items() if "/bundled" in k}
    if bundled:
        data["bundled"] = bundled
    approach = {k.replace("/tuned", ""): v for k, v in results.items() if "/bundled" not in k}
    data.setdefault("approaches", {})[label] = approach
    RESULTS_JSON.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())


# ------------------------------------------------------------------------------------------ docs/results.md


STAGE_WORDS = {"first": "first stage (the trimap-free network)", "second": "second stage (the trimap model)",
               "both": "both stages"}


def approach_words(run: dict) -> str:
    """E.g. "first stage (the trimap-free network), 100 steps, L2-SP 0.05"."""
    chosen = [n["chosen_step"] for n in run.get("finetune", {}).get("networks", []) if n.get("chosen_step") is not None]
    trained_on = len(run["train"]) if run.get("validation") and run["validation"] != run["held_out"] else None
    return (f"{STAGE_WORDS[run['stage']]}, {run['steps']} steps"
            + (f", L2-SP {run['l2sp_weight']:g}" if run.get("l2sp_weight") else "")
            + ("" if run.get("freeze_norm_stats") else ", batch-norm statistics updated")
            + (f", tuned on {trained_on} photos, weights chosen inside the default path on the other "
               f"{len(run['validation'])} ({', '.join(run['validation'])}): step {chosen[0]} of {run['steps']}"
               if chosen and trained_on else "")
            + (f", {run['note']}" if run.get("note") else ""))


def selection_note(data: dict) -> list[str]:
    """The weight choice of ``--stage first`` as a user runs it (``data["reading"]["selection"]``: the run's label,
    the default path's error on the choosing photos at the start and at each validation, and the step the shipped
    rule chose)."""
    sel = (data.get("reading") or {}).get("selection")
    if not sel or sel["label"] not in data["approaches"]:
        return []
    run, bundled = data["approaches"][sel["label"]], data["bundled"]
    sad = {k: run[f"two_stage/{k}"]["means"]["SAD"] for k in SETS}
    base = {k: bundled[f"two_stage/{k}"]["means"]["SAD"] for k in SETS}
    scores = ", ".join(f"{v:.6f}" for v in sel["path_known"])
    lion = run["two_stage/am2k_held_out"]["per_image_SAD"]["sample6"]
    return [
        f"The weight choice as a user gets it ({sel['label']}: the first stage tuned on {len(run['train'])} photos, "
        f"its weights chosen inside the default path on the other {len(run['validation'])}, "
        f"{', '.join(run['validation'])}). The default path already had those photos right: its error on their "
        f"trimaps' known pixels was {scores} at the start and at steps 25-100, so the shipped rule (tuned weights "
        f"kept only for a 2 % gain) kept the start's weights, step {sel['shipped_rule_step']}, and scores as the "
        "bundled models. I tried keeping the last weights unless they made that error 2 % worse; the row shows "
        f"that run, which kept step {run['finetune']['networks'][0]['chosen_step']}: AM-2K held-out "
        f"{base['am2k_held_out']:.2f} → {sad['am2k_held_out']:.2f} (sample6 {lion:.1f}), alphamatting "
        f"{base['alphamatting']:.2f} → {sad['alphamatting']:.2f}. Tuned on these 6 photos, the first stage drops the "
        "lion's body again, statistics kept or not, so the 2 % rule stays: tuning the first stage on a handful of "
        "photos is still fragile, and the weight choice, which sees only the user's held-out photos, is the guard."
        + (f" {sel['scratch']}" if sel.get("scratch") else ""),
        "",
    ]


def reading(data: dict) -> list[str]:
    """What the table says, with its numbers taken from the runs (``data["reading"]`` names them: ``updated`` the
    first-stage run with batch-norm statistics updated, ``kept`` the same run with them kept)."""
    bundled, approaches = data["bundled"], data["approaches"]
    names = data.get("reading")
    if not names:
        return []
    updated, kept = approaches[names["updated"]], approaches[names["kept"]]

    def photo(run, key, name, what="per_image_SAD"):
        return run[f"two_stage/{key}"][what][name]

    held = list(bundled["two_stage/am2k_held_out"]["per_image_SAD"])
    before = names["before_guard_change"]  # the kept run, scored before the guard's colour condition
    guard_note = (f"{before['alphamatting']:.2f} on the 27 photos, "
                  + ", ".join(f"{n} {before[n]:.1f}" for n in before["guard"]) + ", in the same run before the change")
    better = [n for n in held if photo(kept, "am2k_held_out", n) < photo(bundled, "am2k_held_out", n)]
    return [
        "Why the first stage used to get worse: in A, C, D, E, F and G batch norm updated its running statistics "
        "while tuning. A batch is four 256 px crops centred on the trimaps' unknown band, nothing like the whole "
        "photos the statistics came from, and at momentum 0.1 a hundred steps replace them. Every such first stage "
        "dropped the held-out lion's hind body (sample6), where MODNet misses it, U²-Net-p finds it and our network "
        f"decides the median: the fused first-stage matte went {photo(bundled, 'am2k_held_out', 'sample6', 'prior_SAD'):.1f} "
        f"→ {photo(updated, 'am2k_held_out', 'sample6', 'prior_SAD'):.1f} in {names['updated']}. Freezing the backbone "
        "(learning rate 0 there) did not help either, as the decoder's statistics still moved (sample6's fused matte "
        "131.4 in a scratch run outside this table); nor did L2-SP (E: the statistics are not weights).",
        "",
        f"{names['kept']} keeps them from the start (`freeze_norm_stats`, now in the recipe); the scale and shift of "
        "each batch-norm layer and every other weight still learn. The fused matte of sample6 is "
        f"{photo(kept, 'am2k_held_out', 'sample6', 'prior_SAD'):.1f}, and {len(better)} of the {len(held)} held-out "
        "photos improve through the default path. Not independent: the fix was found by scoring variants on these "
        "same held-out photos (a scratch harness: the backbone frozen, the statistics kept, both), and `first` "
        "became the default stage on them too; there is no other AM-2K photo to hold out. Its independent checks are "
        "alphamatting (within the margin) and K below, where it did not hold. Keeping the statistics alone was not enough on alphamatting "
        f"({guard_note}): the tuned network disagreed a little more with MODNet and U²-Net-p on "
        f"{' and '.join(before['guard'])}, the grey-wash guard fired (the trimap's unknown and disputed pixels went "
        "over 60 % of the photo) and answered with the tuned network's own matte. The guard now answers with our "
        "matte only when the photo's colours explain ours at "
        "least as well as the median (`first_stage.colour_fits`, the fit the colour choice uses); otherwise the "
        f"second stage runs. GT26 and GT27 are then {photo(kept, 'alphamatting', 'GT26'):.1f} and "
        f"{photo(kept, 'alphamatting', 'GT27'):.1f} (bundled {photo(bundled, 'alphamatting', 'GT26'):.1f} and "
        f"{photo(bundled, 'alphamatting', 'GT27'):.1f}). With the bundled networks the changed guard alters no "
        "photo of this table; across the visible sets it changes two close-up crops (docs/results_trimap_free.json).",
        "",
        *selection_note(data),
        "Tuning the second stage (the trimap model) moves the result very little, with or without the statistics "
        "kept: its matte is blended with the fused matte by that matte's confidence and refined, so it only decides "
        "the unsure pixels of a narrow band.",
    ]


def finetune_section(data: dict) -> list[str]:
    """The "Fine-tuning on your photos" section of docs/results.md, rendered from docs/results_finetune.json
    (``bundled`` and ``approaches[label]``: this script's ``--record``; ``kept``, ``margin``, ``load``, ``command``;
    ``previous_default``: the runs scored on the previous default path)."""
    bundled, approaches, kept = data["bundled"], data["approaches"], data["kept"]

    def sad(run, key):
        return run[f"two_stage/{key}"]["means"]["SAD"]

    base_am2k, base_am = sad(bundled, "am2k_held_out"), sad(bundled, "alphamatting")
    limit = base_am * (1 + data["margin_fraction"])

    def without(run, name="sample6"):  # the photo every tuned first stage got wrong (see the reading below)
        per = run["two_stage/am2k_held_out"]["per_image_SAD"]
        return float(np.mean([v for k, v in per.items() if k != name]))

    def guards(run):
        return " / ".join(str(len(run[f"two_stage/{k}"]["guard"])) for k in SETS)

    rows = [f"| bundled `{BASE}` | {base_am2k:.2f} | {bundled['two_stage/am2k_unseen3/SAD']:.2f} | {base_am:.2f} | "
            f"{without(bundled):.2f} | {guards(bundled)} | – |"]
    approaches = dict(sorted(approaches.items()))
    for label, run in approaches.items():
        am2k, am = sad(run, "am2k_held_out"), sad(run, "alphamatting")
        bold = "**" if label == kept else ""
        rows.append(f"| {bold}{label}{bold}: {approach_words(run)} | {am2k:.2f} ({100 * (am2k / base_am2k - 1):+.1f} %) | "
                    f"{run['two_stage/am2k_unseen3/SAD']:.2f} | {am:.2f} ({100 * (am / base_am - 1):+.1f} %) | "
                    f"{without(run):.2f} ({100 * (without(run) / without(bundled) - 1):+.1f} %) | {guards(run)} | "
                    f"{run['finetune']['seconds']:.0f} s |")

    def changes(run, key, count=2):
        base_rows, rows_ = bundled[f"two_stage/{key}"], run[f"two_stage/{key}"]
        names = sorted(rows_["per_image_SAD"], key=lambda n: -abs(rows_["per_image_SAD"][n] - base_rows["per_image_SAD"][n]))
        return ", ".join(
            f"{n} {base_rows['per_image_SAD'][n]:.1f} → {rows_['per_image_SAD'][n]:.1f} (fused first-stage matte "
            f"{base_rows['prior_SAD'][n]:.1f} → {rows_['prior_SAD'][n]:.1f}"
            + ("; the guard answered with the tuned network alone" if n in rows_["guard"] and n not in base_rows["guard"]
               else "") + ")" for n in names[:count])

    per_approach = [f"- {label}: AM-2K {changes(run, 'am2k_held_out')}; alphamatting {changes(run, 'alphamatting')}."
                    for label, run in approaches.items()]
    run = approaches[kept]
    am2k, am = sad(run, "am2k_held_out"), sad(run, "alphamatting")
    verdict = ("improves the held-out animal photos" if am2k < base_am2k else "does **not** improve the held-out "
               "animal photos") + (" and **meets the margin** on alphamatting" if am <= limit else
                                   f" and **misses the margin** on alphamatting (at most {limit:.2f})")
    own = "; ".join(f"{STAGE_WORDS[n['stage']]}: objective {n['before']['objective']:.4f} → {n['after']['objective']:.4f}"
                    for n in run["finetune"]["networks"])
    previous = data.get("previous_default")
    if previous:
        first, steps = previous["runs"][str(max(int(k) for k in previous["runs"]))], max(int(k) for k in previous["runs"])
        old = {k: (first[f"two_stage/{k}/bundled"]["means"]["SAD"], first[f"two_stage/{k}/tuned"]["means"]["SAD"])
               for k in SETS}
        previous = (f"On the previous default ({previous['what']}), the first stage tuned for {steps} steps had "
                    f"improved the held-out photos: AM-2K held-out {old['am2k_held_out'][0]:.2f} → {old['am2k_held_out'][1]:.2f}, "
                    f"alphamatting {old['alphamatting'][0]:.2f} → {old['alphamatting'][1]:.2f}.")
    lines = [
        "## Fine-tuning on your photos (`afmatting finetune`)",
        "",
        f"The default path fine-tuned on {len(run['train'])} of the 13 AM-2K animal photos of "
        f"`../shared/data/am2k-samples` ({', '.join(run['train'])}) with trimaps derived from their pseudo-alphas by "
        "the paper's recipe (the alphas never reach training), scored on the other "
        f"{len(run['held_out'])} and on the 27 alphamatting.com photos, before and after, each time through the "
        "default path (`load_matter(folder).predict(photo)`: our trimap-free network at 640 px fused with MODNet and "
        "U²-Net-p by a per-pixel median (or one of them, when the photo's colours explain it clearly better), automatic "
        "trimap, trimap model, refinement; the guard answers with our network alone when over 60 % of the trimap is "
        "unknown or disputed and the colours explain ours at least as well as the median). Held out: the 3 AM-2K "
        "photos the "
        f"bundled models never saw ({', '.join(UNSEEN)}) and the last 2 they were trained on. Margin, stated before "
        f"the runs: {data['margin']}.",
        "",
        "| default path with | AM-2K held-out 5, SAD (agreement with pseudo-alphas) | of which the 3 unseen | "
        "alphamatting 27, SAD (real GT) | AM-2K held-out without sample6 | guard fired (AM-2K / alphamatting) | "
        "tuning time |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "Whole image. Largest per-photo changes against the bundled models (SAD):",
        "",
        *per_approach,
        "",
        *reading(data),
        "",
        f"Kept: **{kept}** ({approach_words(run)}), the default of `afmatting finetune`: it {verdict}. Its own "
        f"before / after table on the held-out trimaps (each tuned network's matte alone): {own}.",
        "",
        f"Time on this 2-core CPU, {data['load']}.",
    ]
    if previous:
        lines += ["", previous]
    lines += ["", "```bash", *data["command"], "```"]
    return lines
