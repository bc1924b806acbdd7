"""Render the measured JSON as documents: docs/results.md and the bundled models' cards. Measures nothing.

    python benchmarks/report.py            # both
    python benchmarks/report.py results    # docs/results.md from docs/results*.json
    python benchmarks/report.py cards      # afmatting/weights/<name>/README.md

The measuring scripts write the JSON: ``reproduce.py eval`` (docs/results.json), ``alphamatting.py --json``
(results_classical.json, results_ddc_solver.json), ``trimap_free.py --json``, ``reproduce_gpu.py --eval``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's afmatting and benchmarks
from benchmarks.finetune_am2k import RESULTS_JSON as FINETUNE_JSON  # noqa: E402
from benchmarks.finetune_am2k import finetune_section  # noqa: E402
from benchmarks.reproduce import (  # noqa: E402
    BUNDLE,
    CLASSICAL_JSON,
    CYCLE_SUFFIXES,
    GPU_JSON,
    RESULTS_JSON,
    ROOT,
    ROWS,
    SOLVER_JSON,
    STEPS_PER_CYCLE,
    TEST_TIME,
    TRIMAP_FREE_JSON,
    row_dir,
    split_row,
)

#: training stages of the shipped models that no measuring script records
SHIPPED_JSON = ROOT / "docs" / "shipped_models.json"
#: benchmarks/refinement.py --json: its ``network`` row is the shipped trimap network alone
REFINEMENT_JSON = ROOT / "docs" / "results_refinement.json"
SHIPPED = json.loads(SHIPPED_JSON.read_text()) if SHIPPED_JSON.exists() else {}
REFINEMENT = json.loads(REFINEMENT_JSON.read_text()) if REFINEMENT_JSON.exists() else {}


BASE_LABELS = {
    "known": "known only",
    "known+dc": "known + DC",
    "known+ddc": "known + DDC (the paper)",
    "known+scaled_ddc": "known + scaled DDC (MatAnyone)",
    "alpha": "alpha-supervised (fine-label baseline: pseudo-alphas as labels)",
}


def row_label(row: str) -> str:
    """Table label of a trained row, e.g. "known + DDC (the paper), 3 x 600 steps"."""
    base, cycles = split_row(row)
    label = BASE_LABELS.get(base, base)
    if cycles > 1:
        label += f", {cycles} x {STEPS_PER_CYCLE} steps"
    stage2 = SHIPPED.get("lite0-trimap", {}).get("stage2")
    network = REFINEMENT.get("summary", {}).get("network", {})
    if row == BUNDLE["lite0-trimap"] and stage2 and {"trimap1", "trimap2"} <= set(network):
        label += (f" — stage 1 of the shipped `afmatting/lite0-trimap` (stage 2: {stage2['steps']} GPU steps at "
                  f"{stage2['crop']}², {network['trimap1']['SAD']:.2f} / {network['trimap2']['SAD']:.2f})")
    return label


def table_rows() -> list[str]:
    """Trimap-input rows in table order: the 600-step loss ablation, then the longer runs, by steps then loss."""
    ordered = []
    for cycles in range(1, len(CYCLE_SUFFIXES) + 2):
        for base in BASE_LABELS:
            row = base if cycles == 1 else base + CYCLE_SUFFIXES[cycles - 2]
            if row in ROWS:
                ordered.append(row)
    return ordered


def write_table() -> None:
    """Write docs/results.md (:func:`results_markdown`)."""
    (ROOT / "docs" / "results.md").write_text(results_markdown())
    print(f"wrote {ROOT / 'docs' / 'results.md'}")


def results_markdown() -> str:
    """docs/results.md from docs/results.json (trained rows), results_classical.json (pymatting rows) and the other
    measured JSON."""
    from afmatting.evaluation import markdown_table

    results = json.loads(RESULTS_JSON.read_text())
    rows = []
    for row in table_rows():
        if row in results:
            rows.append({"label": row_label(row), "results": results[row]})
    for key, value in test_time_items(results):
        row, kind, steps = split_test_time_key(key)
        if kind and row in ROWS:
            base = row_label(row).split(" — ")[0] + (" (shipped)" if row == BUNDLE["lite0-trimap"] else "")
            rows.append({"label": f"{base} + {TEST_TIME[kind].format(steps)}", "results": value})
    classical = json.loads(CLASSICAL_JSON.read_text()) if CLASSICAL_JSON.exists() else {"rows": []}
    solver = json.loads(SOLVER_JSON.read_text()) if SOLVER_JSON.exists() else {"rows": []}
    for row in solver["rows"] + classical["rows"]:
        rows.append({"label": row["label"], "results": row["results"]})
    lines = [
        "# Small-scale reproduction on real ground truth",
        "",
        "Refinement vs closed-form matting (the default trimap path): [`results_refinement.md`](results_refinement.md).",
        "",
        "Regenerate everything: `python benchmarks/reproduce.py all` (20 training cycles of about 12 min of one CPU core",
        "each, plus evaluation; each step below can run alone, and two trainings can share a 2-core machine). Numbers",
        "measured on this project's 2-core CPU machine.",
        "",
        "**Data.** Training: 19 real photos (10 AM-2K test photos, 9 P3M-10K portraits, from `../shared/data`) with",
        "trimaps derived from their pseudo-alphas by the paper's recipe. The alpha-free rows never see an alpha. Evaluation:",
        "the alphamatting.com training set (27 images, real ground truth, never trained on), unknown region of",
        "Trimap1/Trimap2, DIM metrics (SAD, Grad, Conn /1000; MSE ×1e3), seconds per image on the CPU.",
        "",
        "**Models.** Every trained row: EfficientNet-Lite0 (offline ImageNet weights) + slim detail-capture decoder, trimap",
        "input, same data, seed and schedule (`train/configs/cpu_efficientnet.yaml`). The five loss rows train 600 steps",
        "(batch 4, 256² crops) each and differ only in the loss; an \"N x 600 steps\" row continues its loss's row for",
        "N - 1 more 600-step cosine cycles, each started from the previous cycle's weights (`--init_from`), so rows with",
        "the same N had the same data, steps and seed.",
        "",
        markdown_table(rows, ("trimap1", "trimap2")),
    ]
    lines += reading_notes(results, classical, solver)
    lines += [
        "",
        "## Commands",
        "",
        "```bash",
        "python benchmarks/reproduce.py data",
    ]
    for row in ROWS:
        lines.append(train_command_text(row))
    lines += [
        "python benchmarks/reproduce.py eval     # all rows; writes docs/results.json",
        "python benchmarks/reproduce.py refine-sweep 50,100,400   # the shipped model's refinement at other step counts",
        classical.get("command", "python benchmarks/alphamatting.py --classical cf knn --json docs/results_classical.json"),
        solver.get("command", "python benchmarks/alphamatting.py --ddc-solver 200 --trimaps trimap1 --json "
                              "docs/results_ddc_solver.json"),
        "python benchmarks/reproduce.py table    # this file",
        "```",
    ]
    free = results.get(BUNDLE["lite0-trimap-free"], {}).get("held_out_whole")
    if free:
        lines += [
            "",
            "## Trimap-free model (`afmatting/lite0-trimap-free`)",
            "",
            "Held-out photos (3 AM-2K + 3 P3M), whole image. These are **agreement with pseudo-alphas** (predictions of",
            "the GFM and P3M models), not ground truth:",
            "",
            "| SAD | MSE (×1e3) | MAD (×1e3) | Grad | Conn | s/img |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {free['SAD']:.2f} | {free['MSE']:.2f} | {free['MAD']:.2f} | {free['Grad']:.2f} | {free['Conn']:.2f} | "
            f"{free['time_s']:.2f} |",
        ]
    if TRIMAP_FREE_JSON.exists():
        lines += trimap_free_section(json.loads(TRIMAP_FREE_JSON.read_text()))
    if GPU_JSON.exists():
        lines += gpu_section(json.loads(GPU_JSON.read_text()))
    if FINETUNE_JSON.exists():
        lines += ["", *finetune_section(json.loads(FINETUNE_JSON.read_text()))]
    return "\n".join(lines) + "\n"


def trimap_free_section(data: dict) -> list[str]:
    """The trimap-free default against the network alone and the anchors on every visible set
    (benchmarks/trimap_free.py)."""
    from benchmarks.trimap_free import markdown_table as trimap_free_table
    from benchmarks.trimap_free import step_ratios

    info = data.get("info", {})
    lines = [
        "",
        "## Trimap-free path across sets (whole image)",
        "",
        "Every visible set, image only, scored on the whole image (`benchmarks/matting_sets.py` says how each set is "
        "read or made; alphamatting, crops, composites, hard-edged, studio and small have real ground truth, AM-2K and "
        "P3M are agreement with pseudo-alphas). All rows in one run on this 2-core CPU, shared with other work while "
        f"measured (load {info.get('load', '?')}): compare times as ratios within a set"
        + (f"; every row on {info['threads']} thread(s), PyTorch and onnxruntime alike." if "threads" in info else "."),
    ]
    for set_name, table in data["means"].items():
        lines += ["", f"### {set_name} ({info.get('images', {}).get(set_name, '?')} images)", "",
                  trimap_free_table(table)]
    if any("first_stage_seconds" in table.get("default", {}) for table in data["means"].values()):
        lines += ["", "### The default path's steps, per image, as a multiple of MODNet's time (same run)", "",
                  step_ratios(data["means"])]
    return lines + ["", *data.get("notes", []), "", "```bash",
                    data.get("command", "python benchmarks/trimap_free.py --json docs/results_trimap_free.json"),
                    "```"]


def gpu_section(gpu: dict) -> list[str]:
    """The rows trained side by side on a lent GPU (benchmarks/reproduce_gpu.py): same data, model and seed as above,
    the paper's 512² crops and batch 16."""
    from afmatting.evaluation import markdown_table

    run, rows = gpu["run"], gpu["rows"]
    steps = run.get("steps")
    trained = [r for r in rows if "trimap1" in rows[r]]
    summaries = {r: rows[r]["summary"] for r in rows}
    lines = [
        "",
        f"## A short GPU run: {steps} steps of batch 16 at 512²",
        "",
        f"{len(rows)} rows trained side by side on one lent NVIDIA H200 (`python benchmarks/reproduce_gpu.py "
        f"--rows {' '.join(rows)} --budget_s {run.get('budget_s'):.0f}`; "
        "`train/configs/gpu_efficientnet.yaml`: the model, data, seed and optimiser above with the paper's crop and batch "
        "size, bf16). The step count is what fitted the session's GPU time: each row took "
        + ", ".join(f"{summaries[r]['seconds']:.0f} s" for r in rows)
        + f" ({min(s['images_per_s'] for s in summaries.values()):.1f}–"
          f"{max(s['images_per_s'] for s in summaries.values()):.1f} images/s each, validations included; peak GPU "
          f"memory {max(s.get('peak_gpu_memory_gib', 0) for s in summaries.values()):.1f} GiB per run). Scored here on "
          "the CPU; seconds per image are this machine's.",
        "",
        markdown_table([{"label": BASE_LABELS.get(r, r) + f", {steps} steps (GPU)", "results": rows[r]}
                        for r in trained], ("trimap1", "trimap2")),
    ]
    if "known+ddc" in rows and "alpha" in rows:
        ddc, alpha = rows["known+ddc"]["trimap1"]["SAD"], rows["alpha"]["trimap1"]["SAD"]
        lines += ["", f"Trimap1 SAD: DDC {ddc:.2f} vs alpha-supervised {alpha:.2f} ({(ddc / alpha - 1) * 100:+.1f} %)"
                  + (f", DC {rows['known+dc']['trimap1']['SAD']:.2f}" if "known+dc" in rows else "") + "."]
    if steps:
        gpu_pixels = steps * 16 * 512 ** 2
        cpu_steps = split_row(BUNDLE["lite0-trimap"])[1] * STEPS_PER_CYCLE
        cpu_pixels = cpu_steps * 4 * 256 ** 2
        lines += ["", f"These runs saw {gpu_pixels / cpu_pixels:.1f}x the training pixels of the shipped CPU model "
                      f"({steps} x 16 x 512² vs {cpu_steps:,} x 4 x 256²) in {steps / cpu_steps:.2f}x its optimiser "
                      f"steps, and all score worse than it: {steps} updates are too few, however large. DC and DDC stay within "
                      "a few percent of each other, as on the CPU. Not shipped."]
    free = rows.get("trimap-free+ddc", {}).get("held_out_whole")
    if free:
        lines += ["", f"Trimap-free + DDC, held-out photos, whole image (agreement with pseudo-alphas): SAD "
                      f"{free['SAD']:.2f}, MSE {free['MSE']:.2f}."]
    return lines


def reading_notes(results: dict, classical: dict, solver: dict | None = None) -> list[str]:
    """The targets of the reproduction, checked against the measured numbers (Trimap1 SAD)."""
    def sad(row):
        return results.get(row, {}).get("trimap1", {}).get("SAD")

    def pct(a, b):
        return f"{(a / b - 1) * 100:+.1f} %"

    def at(cycles):
        """Trimap1 SAD of each loss after ``cycles`` cycles: {base: sad} (only rows that were trained)."""
        out = {}
        for base in BASE_LABELS:
            row = base if cycles == 1 else base + CYCLE_SUFFIXES[cycles - 2]
            if sad(row) is not None:
                out[base] = sad(row)
        return out

    cf = closed_form_sad(classical)
    solver_sad = next((r["results"]["trimap1"]["SAD"] for r in (solver or {}).get("rows", [])
                       if "trimap1" in r["results"]), None)
    shipped_row = BUNDLE["lite0-trimap"]
    shipped = sad(shipped_row)
    if shipped is None:
        return []
    out = ["", "## Reading it (Trimap1 SAD)", ""]
    if cf is not None:
        verdict = "met" if shipped < cf else "not met"
        out.append(f"- **Shipped DDC model vs closed-form matting: target {verdict}.** {shipped:.2f} vs {cf:.2f}.")
    comparisons = [c for c in range(1, len(CYCLE_SUFFIXES) + 2) if {"known+ddc", "alpha"} <= set(at(c))]
    if comparisons:
        parts = [f"{c * STEPS_PER_CYCLE:,} steps: DDC {at(c)['known+ddc']:.2f} vs alpha-supervised "
                 f"{at(c)['alpha']:.2f} ({pct(at(c)['known+ddc'], at(c)['alpha'])})" for c in comparisons]
        last = comparisons[-1]
        verdict = "met" if at(last)["known+ddc"] <= 1.1 * at(last)["alpha"] else "not met"
        caveat = ""
        if verdict == "met" and len(comparisons) > 1 and at(last)["alpha"] > at(last - 1)["alpha"]:
            caveat = (f" Narrowly, and partly because the alpha-supervised row got slightly worse in its last cycle "
                      f"(at {(last - 1) * STEPS_PER_CYCLE:,} steps the gap was "
                      f"{pct(at(last - 1)['known+ddc'], at(last - 1)['alpha'])}).")
        out.append(f"- **DDC within 10 % of the alpha-supervised baseline at equal steps: target {verdict} at "
                   f"{last * STEPS_PER_CYCLE:,} steps.** " + "; ".join(parts) + "." + caveat)
    for c in range(1, len(CYCLE_SUFFIXES) + 2):
        s = at(c)
        if not {"known+dc", "known+ddc"} <= set(s):
            continue
        steps = f"{c * STEPS_PER_CYCLE:,} steps"
        if "known" in s:
            holds = s["known"] > s["known+dc"] > s["known+ddc"]
            out.append(f"- **Ordering known-only > DC > DDC in error at {steps}: "
                       f"{'holds' if holds else 'does not hold'}.** known {s['known']:.2f}, DC {s['known+dc']:.2f}, "
                       f"DDC {s['known+ddc']:.2f}.")
        else:
            holds = s["known+dc"] > s["known+ddc"]
            out.append(f"- **DC > DDC in error at {steps}: {'holds' if holds else 'does not hold'}.** "
                       f"DC {s['known+dc']:.2f}, DDC {s['known+ddc']:.2f} (known-only not trained this long).")
    if sad("known+scaled_ddc") is not None and sad("known+ddc") is not None:
        out.append(f"- **Scaled DDC** at 600 steps: {sad('known+scaled_ddc'):.2f} (plain DDC {sad('known+ddc'):.2f}).")
    for key, value in test_time_items(results):
        row, kind, steps = split_test_time_key(key)
        if not kind or "trimap1" not in value or sad(row) is None:
            continue
        tuned = value["trimap1"]
        what = {"adapt": f"{steps} steps of fine-tuning a copy of the network",
                "refine": f"{steps} steps per level of optimising the matte itself"}[kind]
        verdict = ""
        if cf is not None:
            verdict = f"; {'below' if tuned['SAD'] < cf else 'still above'} closed-form's {cf:.2f}"
        out.append(f"- **{TEST_TIME[kind].split(' (')[0].capitalize()}** ({what}, known + DDC on each image with its "
                   f"own trimap, no labels) on the {row_label(row).split(' — ')[0]} model: {sad(row):.2f} -> "
                   f"{tuned['SAD']:.2f} ({pct(tuned['SAD'], sad(row))}{verdict}), {tuned['time_s']:.1f} s per image on "
                   f"the CPU (without: {results[row]['trimap1']['time_s']:.2f} s).")
    sweep = {int(split_test_time_key(k)[2]): v["trimap1"]["SAD"] for k, v in test_time_items(results)
             if split_test_time_key(k)[:2] == (BUNDLE["lite0-trimap"], "refine") and "trimap1" in v}
    if len(sweep) > 2:
        best = min(sweep, key=sweep.get)
        enough = min(n for n, v in sweep.items() if v <= sweep[best] * 1.01)  # within 1 % of the best, fewest steps
        out.append("- **Refinement steps** (Trimap1 SAD by steps per level): "
                   + ", ".join(f"{n}: {v:.2f}" for n, v in sorted(sweep.items()))
                   + f". {enough} steps come within 1 % of the best ({best}: {sweep[best]:.2f}), which is why the app "
                   f"and the CLI suggest about {enough}"
                   + ("; beyond the best the error rises again: minimising DDC harder moves the matte away from the "
                      "truth." if best < max(sweep) else "."))
    out.append("- Seconds per image were measured while other training jobs shared the 2-core machine; compare them "
               "within a row's own conditions only.")
    out += why_notes(results, cf, solver_sad)
    return out


def why_notes(results: dict, cf: float | None, solver_sad: float | None) -> list[str]:
    """Why the learned rows stay above closed-form matting: training scale vs the objective itself."""
    def sad(row):
        return results.get(row, {}).get("trimap1", {}).get("SAD")

    ddc_curve = [sad("known+ddc")] + [sad("known+ddc" + suffix) for suffix in CYCLE_SUFFIXES]
    ddc_curve = [v for v in ddc_curve if v is not None]
    gaps = []
    for c in range(1, len(CYCLE_SUFFIXES) + 2):
        suffix = "" if c == 1 else CYCLE_SUFFIXES[c - 2]
        d, a = sad("known+ddc" + suffix), sad("alpha" + suffix)
        if d is not None and a is not None:
            gaps.append(f"{(d / a - 1) * 100:+.0f} %")
    out = ["", "### Why no learned row reaches closed-form matting here", ""]
    out.append(
        "Two measurements separate training scale from the objective. **Scale:** the DDC row improves with each "
        f"600-step cycle, fast at first and then slowly (Trimap1 SAD {' -> '.join(f'{v:.2f}' for v in ddc_curve)}: "
        "19 photos give little new to learn), and its gap to the alpha-supervised row narrows as both train longer "
        f"({' -> '.join(gaps)}); the paper trains about 25 times more crops, from 100 times more images, with a "
        "DINO ViT-S/16."
    )
    out.append("")
    out.append(
        "**DC vs DDC:** the two differ by a few percent and swap places between budgets, within what one seed at "
        "this scale can resolve. The paper's case for DDC is texture noise in the foreground *interior* under DC; "
        "a trimap-input model is handed the interior by the trimap's known pixels, so both losses act on the band "
        "only, where they behave alike. Known-only training is clearly worst at every budget: it learns a hard "
        "segmentation, as the paper says."
    )
    if solver_sad is not None:
        out.append("")
        out.append(
            "**The objective:** solved per image with no network at all (the solver row: known + DDC minimised "
            f"coarse to fine from a flat start), the paper's loss reaches SAD {solver_sad:.2f} — far better than "
            "any network trained here, so the networks are nowhere near what their own loss can give — yet it "
            + (f"stays above closed-form's {cf:.2f}. " if cf is not None and solver_sad > cf else "") +
            "DDC's minimum is not always the true matte: on 6 of the 27 images (GT03, GT04, GT08, GT24, GT25, GT27) "
            "the ground truth has a *higher* DDC loss than the shipped model's own prediction "
            "([results_ddc_objective.md](results_ddc_objective.md), `python benchmarks/ddc_objective.py`), so "
            "minimising DDC further cannot move those mattes towards the truth; closed-form matting's colour-line "
            "model fits them better. "
            "Test-time refinement combines the two: the network's matte as the starting point, the objective "
            "solved on the image."
        )
    return out


def split_test_time_key(key: str) -> tuple[str, str | None, str | None]:
    """``"known+ddc+more + refine 200"`` -> ``("known+ddc+more", "refine", "200")``; a plain row -> ``(row, None, None)``."""
    for kind in TEST_TIME:
        marker = f" + {kind} "
        if marker in key:
            row, steps = key.split(marker)
            return row, kind, steps
    return key, None, None


def test_time_items(results: dict) -> list[tuple[str, dict]]:
    """The test-time rows of ``results`` in table order: by row, then adaptation before refinement, then steps."""
    keyed = []
    for key, value in results.items():
        row, kind, steps = split_test_time_key(key)
        if kind:
            keyed.append(((row, list(TEST_TIME).index(kind), int(steps)), key, value))
    return [(key, value) for _, key, value in sorted(keyed)]



def train_command_text(row: str) -> str:
    return (f"python train/train.py --config train/configs/cpu_efficientnet.yaml --dataset runs/data/shared_samples "
            f"--output_dir {row_dir(row).relative_to(ROOT)} " + " ".join(ROWS[row]))



def stages(row: str) -> list[str]:
    """The chain of rows a continued row starts from, first to last (``known+ddc`` -> ``+more`` -> ``+more2``)."""
    base, cycles = split_row(row)
    return [base] + [base + suffix for suffix in CYCLE_SUFFIXES[: cycles - 1]]


def bundled_card_kwargs(name: str, row: str, scores: dict, closed_form_sad: float | None = None,
                        shipped: dict | None = None, network_scores: dict | None = None) -> dict:
    """Model card sections of bundled model ``name`` trained as ``row`` (``scores``: that row's results).

    ``closed_form_sad``: closed-form matting's Trimap1 SAD (docs/results_classical.json); ``shipped``: the model's
    entry of docs/shipped_models.json (a later training stage); ``network_scores``: the shipped network's own scores
    when a later stage changed it (benchmarks/refinement.py's ``network`` row).
    """
    stage2 = (shipped or {}).get("stage2")
    cpu_stage = (f"{split_row(row)[1]} x {STEPS_PER_CYCLE} steps of batch 4 at 256² on one CPU core (cosine cycles, "
                 "each started from the previous run's weights")
    training = (
        "Trained without alpha labels on 19 real photos (10 from the AM-2K test set, 9 from P3M-10K, as sampled in "
        "the project's shared data), with trimaps derived from pseudo-alphas by the paper's recipe (fg/bg eroded by "
        "random elliptical kernels of 1-29 px); the alphas themselves never reached the model (the training script "
        "drops the column). Loss: known + 10 x DDC (K = 11). Backbone EfficientNet-Lite0 with ImageNet weights "
        "(offline package), slim detail-capture decoder; "
        + (f"{cpu_stage}); " if not stage2 else "")
        + "weights stored in fp16."
    )
    if stage2:
        training += (
            f"\n\nTwo stages:\n1. {cpu_stage}; the previous shipped model).\n2. One fine-tuning cycle of "
            f"{stage2['steps']} steps of batch {stage2['batch_size']} at the paper's {stage2['crop']}² crops on "
            f"{stage2['device']} ({stage2['precision']}, cosine from lr {stage2['learning_rate']}, "
            f"{stage2['minutes']:g} minutes), started from stage 1."
        )
    training += ("\n\nCommands:\n\n```bash\npython benchmarks/reproduce.py data\n"
                 + "\n".join(train_command_text(r) for r in stages(row)) + "\npython benchmarks/reproduce.py bundle\n"
                 + (f"# stage 2, on a GPU machine (starts from the stage-1 weights shipped before it):\n"
                    f"{stage2['command']}\n" if stage2 else "") + "```")
    metrics = ""
    if "trimap1" in scores:
        shown = network_scores if stage2 and network_scores else scores
        metrics = ("alphamatting.com training set (27 images, real ground truth, never trained on), unknown region, "
                   "the network alone\n(`predict(..., refine=False)`):"
                   "\n\n| trimap | SAD | MSE (x1e3) | Grad | Conn |\n|---|---|---|---|---|\n" + "\n".join(
                       f"| {t} | {shown[t]['SAD']:.2f} | {shown[t]['MSE']:.2f} | {shown[t]['Grad']:.2f} | "
                       f"{shown[t]['Conn']:.2f} |" for t in ("trimap1", "trimap2") if t in shown))
        metrics += "\n\n"
        if shown is not scores:
            metrics += (f"Stage 1 alone scored {scores['trimap1']['SAD']:.2f} / {scores['trimap2']['SAD']:.2f}. ")
        metrics += ("By default `predict(..., trimap=...)` refines the network's matte per image\n(matting Laplacian "
                    "+ a pull towards this network's matte, about a second per photo on a CPU; see docs/results.md "
                    "for\nits scores next to closed-form matting).")
    elif "held_out_whole" in scores:
        m = scores["held_out_whole"]
        metrics = ("Held-out photos (3 AM-2K + 3 P3M), whole image. These scores are **agreement with pseudo-alphas** "
                   "(predictions of GFM / P3M models), not ground truth:\n\n| SAD | MSE (x1e3) | Grad | Conn |\n"
                   f"|---|---|---|---|\n| {m['SAD']:.2f} | {m['MSE']:.2f} | {m['Grad']:.2f} | {m['Conn']:.2f} |")
    limitations = (
        f"Trained at tiny scale (19 photos, about {split_row(row)[1] * 12} minutes of one CPU core) as a working "
        "default, not a state-of-the-art matting model: "
        + ("alone it is behind classical closed-form matting on alphamatting"
           + (f" (SAD {closed_form_sad:.2f} on Trimap1)" if closed_form_sad is not None else "")
           + ", which is why `predict` refines its mattes by default; its raw mattes are soft at fine structures. "
           if "free" not in name else
           "it has no ground-truth score here (only agreement with pseudo-alphas on 6 held-out photos), and its "
           "mattes are soft at fine structures. ") +
        "Best on animals and portraits like its training photos; fine hair and transparent objects are approximate. "
        + ("Needs a trimap; `adapt_steps` helps on images unlike the training photos." if "free" not in name else
           "Trimap-free: it must guess what the foreground is, and can fail on cluttered scenes or several subjects.")
    )
    return {"training": training, "metrics": metrics, "limitations": limitations}


def closed_form_sad(classical: dict) -> float | None:
    """Closed-form matting's Trimap1 SAD from docs/results_classical.json, when measured."""
    return next((r["results"]["trimap1"]["SAD"] for r in classical.get("rows", []) if r.get("method") == "cf"), None)


def model_card(name: str) -> str:
    """The card (README.md) of bundled model ``name`` from docs/results*.json and docs/shipped_models.json."""
    from afmatting import AFMatting
    from afmatting.bundled import WEIGHTS_DIR

    results = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
    classical = json.loads(CLASSICAL_JSON.read_text()) if CLASSICAL_JSON.exists() else {"rows": []}
    row = BUNDLE[name]
    card = bundled_card_kwargs(name, row, results.get(row, {}), closed_form_sad(classical), SHIPPED.get(name),
                               REFINEMENT.get("summary", {}).get("network"))
    return str(AFMatting.from_pretrained(WEIGHTS_DIR / name).generate_model_card(**card))


def write_model_cards() -> None:
    """afmatting/weights/<name>/README.md for each bundled model (:func:`model_card`)."""
    from afmatting.bundled import WEIGHTS_DIR

    for name in BUNDLE:
        (WEIGHTS_DIR / name / "README.md").write_text(model_card(name))
        print(f"wrote {WEIGHTS_DIR / name / 'README.md'}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", nargs="*", help="results and/or cards (default: both)")
    what = ap.parse_args(argv).what or ["results", "cards"]
    if set(what) - {"results", "cards"}:
        ap.error(f"render 'results' and/or 'cards', not {sorted(set(what) - {'results', 'cards'})}")
    if "results" in what:
        write_table()
    if "cards" in what:
        write_model_cards()


if __name__ == "__main__":
    main()
