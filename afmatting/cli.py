"""Command line: ``afmatting matte``, ``afmatting eval``, ``afmatting export-onnx`` and ``afmatting finetune``. Also
``python -m afmatting.cli``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .errors import AFMattingError
from .loading import load_matter, load_model
from .processing import DEFAULT_MAX_SIDE, FULL_RESOLUTION, max_side_argument

MAX_SIDE_HELP = (f"long side of the network input in pixels, or '{FULL_RESOLUTION}' for full resolution "
                 f"(default {DEFAULT_MAX_SIDE}); the alpha is always full size")
SINGLE_STAGE_HELP = ("the bundled trimap-free model's network alone instead of its two-stage path (network, automatic "
                     "trimap, trimap model, refinement): predict(two_stage=False)")


def click_argument(text: str) -> tuple[float, float, int]:
    """``--click X,Y`` (on the subject) or ``X,Y,L`` (L = 1 on the subject, 0 off it) -> (x, y, label)."""
    parts = text.split(",")
    try:
        numbers = [float(v) for v in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (2, 3) or (len(numbers) == 3 and numbers[2] not in (0, 1)):
        raise argparse.ArgumentTypeError(f"expected X,Y or X,Y,LABEL with LABEL 1 (subject) or 0 (not the subject), "
                                         f"got {text!r}")
    return numbers[0], numbers[1], int(numbers[2]) if len(numbers) == 3 else 1


def box_argument(text: str) -> tuple[float, float, float, float]:
    """``--box X0,Y0,X1,Y1`` -> (x0, y0, x1, y1)."""
    try:
        numbers = tuple(float(v) for v in text.split(","))
    except ValueError:
        numbers = ()
    if len(numbers) != 4:
        raise argparse.ArgumentTypeError(f"expected X0,Y0,X1,Y1 (the box's corners in pixels), got {text!r}")
    return numbers


def cmd_matte(args) -> int:
    """Handler of ``afmatting matte``: matte every input, write ``<stem>_alpha.png`` (and ``_cutout.png``).

    Launched as several processes (``accelerate launch -m afmatting.cli matte ...``), each process mattes its share
    of the plan's batches; see :mod:`afmatting.distributed` for the contract."""
    from .distributed import current_processes

    if args.adapt < 0:
        print("error: --adapt takes a number of steps >= 0.", file=sys.stderr)
        return 2
    if args.save_trimap and args.trimap is not None:
        print("error: --save-trimap writes the automatic trimap of the trimap-free path; with --trimap there is "
              "none to save.", file=sys.stderr)
        return 2
    if args.adapt and args.trimap is None:
        print("error: --adapt needs --trimap: the trimap's known pixels anchor the per-image fit.", file=sys.stderr)
        return 2
    if args.batch_size < 1:
        print(f"error: --batch-size takes a number of images >= 1, got {args.batch_size}.", file=sys.stderr)
        return 2
    processes = current_processes(cpu=args.device == "cpu")
    try:
        return _matte_share(args, processes)
    finally:
        processes.close()


def _matte_share(args, processes) -> int:
    """This process's part of ``afmatting matte``: the main process plans (and loads its model first, so that a
    bad --model is reported once), every process mattes its share of the batches, the reports are gathered; every
    process returns the run's exit code (2: refused or a process could not start, 1: an image failed, else 0)."""
    # alone: the --device asked for; launched on several accelerators: each process its own (cuda:LOCAL_RANK)
    device = args.device if processes.count == 1 or args.device == "cpu" else str(processes.device)
    plan = work = model = error = None
    if processes.is_main:
        try:
            plan, work = _matte_plan(args)
            model = _matte_model(args, device)
        except AFMattingError as e:
            error = str(e)
    work, error = processes.broadcast((work, error))
    started = time.perf_counter()  # the work's time, the other processes' model loading included
    code, done, failed = 2, 0, 0
    if error is not None:
        if processes.is_main:
            print(f"error: {error}", file=sys.stderr)
    else:
        try:
            model = _matte_model(args, device) if model is None else model
        except AFMattingError as e:
            print(f"error (process {processes.index}): {e}", file=sys.stderr)
        else:
            done, failed = _matte_batches(model, processes.split(work), args, processes)
            code = 1 if failed else 0
    reports = processes.gather((code, done, failed))
    seconds = time.perf_counter() - started
    code = max(r[0] for r in reports)
    if processes.is_main and error is None and not args.quiet:
        done, failed = sum(r[1] for r in reports), sum(r[2] for r in reports)
        idle = sum(r[0] == 2 for r in reports)
        print(f"{done}/{len(plan.todo)} images matted into {args.out}"
              + (f" by {processes.count} processes" if processes.count > 1 else "") + f" in {seconds:.1f} s"
              + (f"; {failed} failed" if failed else "")
              + (f"; {idle} process(es) could not start: rerun with --skip-existing" if idle else "")
              + (f"; {len(plan.skipped)} skipped (outputs exist)" if plan.skipped else ""))
    # a process that exits non-zero gets the others stopped by the launcher: nobody leaves before the main printed
    sys.stdout.flush()
    sys.stderr.flush()
    processes.wait()
    return code


def _matte_batches(model, share, args, processes) -> tuple[int, int]:
    """Matte this process's ``share`` of the batches; returns (images done, images failed). The main process shows
    the progress bar (of its own share)."""
    from tqdm.auto import tqdm

    mine = sum(map(len, share))
    bar = tqdm(total=mine, unit="img", disable=args.quiet or not processes.is_main or mine < 2,
               desc="matting" if processes.count == 1 else f"matting (process 0 of {processes.count})")
    failed = 0
    with bar:
        for batch in share:
            for path, error in _matte_batch(model, batch, args, progress=processes.is_main):
                if error is not None:
                    failed += 1
                    tqdm.write(f"skipped {path}: {error}", file=sys.stderr)
            bar.update(len(batch))
    return mine - failed, failed


def _matte_plan(args):
    """The run's :class:`~afmatting.batch_files.OutputPlan` and its work: the plan's ``todo`` in batches of
    --batch-size cut from the whole input list (see :func:`afmatting.distributed.batches`). AFMattingError when there
    are no inputs or the outputs would collide or overwrite: every output path is decided before any work starts."""
    from .batch_files import plan_outputs, prepare_output_folder, without_own_outputs
    from .distributed import batches
    from .io import list_images

    inputs = list_images(args.inputs)
    if not inputs:
        raise AFMattingError(f"no images found in {args.inputs}")
    if args.start_from and (_prompted(args) or args.trimap is not None or args.single_stage):
        raise AFMattingError("--start-from picks a network of the automatic two-stage path: it cannot go with "
                             "--click / --box, --trimap or --single-stage.")
    if _prompted(args) and (args.trimap is not None or len(inputs) > 1 or args.adapt):
        raise AFMattingError("--click / --box point at the subject of one image: give one image, without --trimap "
                             "or --adapt.")
    out = prepare_output_folder(args.out)
    inputs, own_outputs = without_own_outputs(inputs, out)
    if own_outputs and not args.quiet:
        print(f"note: {len(own_outputs)} earlier output(s) in '{out}' (e.g. '{own_outputs[0].name}') are not "
              f"inputs", file=sys.stderr)
    if not inputs:
        raise AFMattingError(f"no images found in {args.inputs} (only earlier outputs)")
    plan = plan_outputs(inputs, out, cutout=not args.no_cutout, overwrite=args.overwrite,
                        skip_existing=args.skip_existing, trimap=args.save_trimap)
    position = {image: i for i, image in enumerate(dict.fromkeys(inputs))}
    return plan, batches(plan.todo, args.batch_size, [position[image] for image, _ in plan.todo])


def _prompted(args) -> bool:
    """Whether the run selects its subject by --click / --box."""
    return bool(args.click or args.box)


def _matte_model(args, device):
    """The model of ``afmatting matte``, checked against the mode (AFMattingError: missing, or trimap mismatch)."""
    prompted = _prompted(args)
    trimap_mode = args.trimap is not None or prompted  # prompted: the trimap model is the second stage
    model = load_matter(args.model, trimap=trimap_mode, device=device)
    if prompted and not model.trimap_input:
        raise AFMattingError("--click / --box need a trimap-input --model (the prompted mask becomes its trimap).")
    if trimap_mode and not model.trimap_input:
        raise AFMattingError("--trimap was given but the model is trimap-free; drop --trimap or pass a trimap-input "
                             "--model.")
    if model.trimap_input and not trimap_mode:
        raise AFMattingError("this model needs a trimap: pass --trimap FILE or --trimap DIR.")
    return model


def _matte_batch(model, batch, args, progress: bool) -> list:
    """Matte one batch of the plan (``[(image path, output paths), ...]``) and write its outputs: the network runs
    on the whole batch, the per-image refinement after it. Returns ``[(image path, error or None), ...]``; a batch
    that fails is redone one image at a time, so a bad image costs only itself."""
    from .batch_files import find_trimap

    try:
        trimaps = [find_trimap(args.trimap, path) for path, _ in batch] if args.trimap is not None else None
        if _prompted(args):  # one image (checked by the plan): clicks and a box belong to it alone
            return _write_outputs(batch, [model.predict(batch[0][0], max_side=args.max_side, refine=not args.no_refine,
                                                        clicks=args.click, box=args.box)], args)
        results = model.predict([path for path, _ in batch], trimap=trimaps, max_side=args.max_side,
                                batch_size=len(batch), adapt_steps=args.adapt, refine=not args.no_refine,
                                two_stage=False if args.single_stage else None,
                                progress=progress and args.adapt > 0 and not args.quiet, start_from=args.start_from)
    except (AFMattingError, OSError) as e:
        if len(batch) == 1:
            return [(batch[0][0], e)]
        return [outcome for item in batch for outcome in _matte_batch(model, [item], args, progress)]
    return _write_outputs(batch, results, args)


def _write_outputs(batch, results, args) -> list:
    """Write each result's alpha (and cut-out) to the batch's output paths; ``[(image path, error or None), ...]``."""
    from .batch_files import write_image_atomically

    outcomes = []
    for (path, outputs), result in zip(batch, results):
        try:
            write_image_atomically(result.alpha_image(), outputs[0])
            if not args.no_cutout:
                write_image_atomically(result.cutout(), outputs[1])
            if args.save_trimap:
                write_image_atomically(automatic_trimap_image(result), outputs[-1])
            outcomes.append((path, None))
        except (AFMattingError, OSError) as e:
            outcomes.append((path, e))
    return outcomes


def automatic_trimap_image(result):
    """The automatic trimap behind a trimap-free result as a grey PIL image {0, 128, 255}: the two-stage path's own
    trimap, or for the network alone (``--single-stage``) the one :func:`afmatting.auto_trimap.auto_trimap` builds from
    its matte."""
    from PIL import Image

    from .auto_trimap import auto_trimap

    trimap = result.trimap if result.trimap is not None else auto_trimap(result.alpha)
    return Image.fromarray(trimap, mode="L")


def cmd_eval(args) -> int:
    """Handler of ``afmatting eval``: load dataset and model, evaluate, print the table, write the CSV."""
    from .data import load_matting_dataset, select_split
    from .evaluation import evaluate, format_table, write_csv

    loaded = load_matting_dataset(args.data, alpha_dir=getattr(args, "alpha_dir", "alpha"))
    dataset = loaded if not hasattr(loaded, "keys") else select_split(loaded, args.split, source_name=f"'{args.data}'")
    split_name = getattr(dataset, "split", None) or args.split or ""
    model = load_matter(args.model, device=args.device)
    predict_kwargs = {}
    if getattr(args, "no_refine", False):
        predict_kwargs["refine"] = False
    if getattr(args, "single_stage", False):
        predict_kwargs["two_stage"] = False
    means, rows = evaluate(
        model,
        dataset,
        region=args.region,
        max_side=args.max_side,
        progress=not getattr(args, "quiet", False),
        device=args.device,
        limit=getattr(args, "limit", None),
        predict_kwargs=predict_kwargs,
    )
    title = f"{args.data} [{split_name}], region={args.region}, model={args.model}"
    print(format_table(means, title))
    if args.csv:
        path = write_csv(rows, args.csv)
        print(f"Per-image rows: {path}", file=sys.stderr)
    return 0


def add_matte_subcommand(subparsers) -> None:
    """Register ``afmatting matte`` on an argparse ``subparsers`` object (handler: :func:`cmd_matte`)."""
    p = subparsers.add_parser("matte", help="matte images: writes <stem>_alpha.png and <stem>_cutout.png",
                              description="Outputs are named by file stem; two inputs with the same stem (a.png "
                                          "and a.jpg) are refused before any work starts. Existing outputs are never "
                                          "overwritten without --overwrite. With a trimap folder, each image takes "
                                          "the trimap with exactly its stem (or <stem>_trimap).")
    p.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--trimap", help="a trimap file, or a folder of trimaps matched to the images by file name")
    p.add_argument("--model", help="model directory, Hub repo id, bundled name or .onnx file "
                                   "(default: the bundled model)")
    p.add_argument("--max-side", type=max_side_argument, default=DEFAULT_MAX_SIDE, help=MAX_SIDE_HELP)
    p.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda (launched as several processes: "
                                                   "cpu, or each process its own accelerator)")
    p.add_argument("--adapt", type=int, default=0, help="test-time adaptation steps (trimap models)")
    p.add_argument("--batch-size", type=int, default=1,
                   help="images per network pass (GPU throughput; the per-image refinement follows each pass on "
                        "the CPU); outputs depend only on the batches, not on the number of processes (default 1)")
    p.add_argument("--no-refine", action="store_true",
                   help="skip the per-image refinement (the matting Laplacian's colour-line prior; about a second per "
                        "photo): predict(refine=False)")
    p.add_argument("--single-stage", action="store_true", help=SINGLE_STAGE_HELP)
    p.add_argument("--click", type=click_argument, action="append", metavar="X,Y[,LABEL]",
                   help="a click on the subject (repeatable; X,Y,0 marks what is not the subject): the bundled "
                        "MobileSAM selects it, the trimap model mattes its edges (afmatting[onnx])")
    p.add_argument("--box", type=box_argument, metavar="X0,Y0,X1,Y1", help="a box around the subject (pixels)")
    p.add_argument("--start-from", choices=("ours", "modnet", "u2netp"), default=None,
                   help="the bundled trimap-free path: start its second stage from one first-stage network's matte "
                        "(ours, the portrait network MODNet, the object network U²-Net-p) instead of their vote, "
                        "when the automatic subject is wrong: predict(start_from=...)")
    p.add_argument("--no-cutout", action="store_true", help="write only the alpha")
    p.add_argument("--save-trimap", action="store_true",
                   help="also write <stem>_trimap.png, the automatic trimap the trimap-free path used: fix it in any "
                        "editor and fine-tune on it (afmatting finetune IMAGES --trimaps OUT)")
    existing = p.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true",
                          help="replace existing outputs (default: refuse to start when any output exists)")
    existing.add_argument("--skip-existing", action="store_true",
                          help="skip images whose outputs all exist (resume an interrupted folder run)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_matte)


def add_eval_subcommand(subparsers) -> None:
    """Register ``afmatting eval`` on an argparse ``subparsers`` object (handler: :func:`cmd_eval`)."""
    from .evaluation import REGIONS

    p = subparsers.add_parser(
        "eval",
        help="score a model on a matting dataset (SAD, MSE, MAD, Grad, Conn)",
        description="Score a model with the DIM-reference metrics on a dataset folder, saved dataset or Hub id.",
    )
    p.add_argument("--data", required=True, help="dataset: save_to_disk folder, raw dataset folder or Hub id")
    p.add_argument("--model", required=True, help="model folder or Hub repo id")
    p.add_argument("--split", default=None, help="split to score (default: the only one, else validation)")
    p.add_argument("--region", choices=REGIONS, default="unknown", help="unknown band (DIM) or whole image (AM-2K)")
    p.add_argument("--csv", default=None, help="write per-image rows to this CSV file")
    p.add_argument("--max-side", type=max_side_argument, default=DEFAULT_MAX_SIDE, help=MAX_SIDE_HELP)
    p.add_argument("--device", default=None, help="torch device, e.g. cuda or cpu")
    p.add_argument("--no-refine", action="store_true", help="score without the per-image refinement: "
                                                             "predict(refine=False)")
    p.add_argument("--single-stage", action="store_true", help=SINGLE_STAGE_HELP)
    p.add_argument("--limit", type=int, default=None, help="score only the first N images")
    p.add_argument("--alpha-dir", default="alpha", help="raw generic folders: name of the alpha folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_eval)


def add_export_subcommand(subparsers) -> None:
    """Register ``afmatting export-onnx`` on an argparse ``subparsers`` object (handler: :func:`cmd_export`)."""
    from .onnx_export import DEFAULT_OPSET

    p = subparsers.add_parser(
        "export-onnx",
        help="export a model to ONNX (dynamic batch and size) and check it against PyTorch",
        description="Export a model to an .onnx file with its pre-processing contract in the metadata, then "
                    "compare onnxruntime with PyTorch on three sizes (fails above 1e-3, or 1e-2 with --fp16).",
    )
    p.add_argument("--model", required=True, help="model directory, Hub repo id or bundled name")
    p.add_argument("--out", required=True, help="the .onnx file to write")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    p.add_argument("--fp16", action="store_true", help="run the network in float16 (inputs/output stay float32)")
    p.add_argument("--no-check", action="store_true", help="skip the parity check against PyTorch")
    p.add_argument("--exporter", choices=("torchscript", "dynamo"), default="torchscript",
                   help="PyTorch exporter (dynamo needs onnxscript; default torchscript)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file (default: refuse)")
    p.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    """Handler of ``afmatting export-onnx``: load, export, print the parity table."""
    from .onnx_export import export_onnx, format_parity
    from .onnx_model import is_onnx_path

    if is_onnx_path(args.model):
        raise AFMattingError(f"--model '{args.model}' is already an ONNX file; export-onnx takes a PyTorch model "
                             f"(directory, Hub id or bundled name).")
    model = load_model(args.model)
    rows = export_onnx(model, args.out, opset=args.opset, fp16=args.fp16, check=not args.no_check,
                       exporter=args.exporter, overwrite=args.overwrite)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1e6:.1f} MB)")
    if rows:
        print("parity with PyTorch:\n" + format_parity(rows))
    return 0


def add_finetune_subcommand(subparsers) -> None:
    """Register ``afmatting finetune`` on an argparse ``subparsers`` object (handler: :func:`cmd_finetune`)."""
    from .bundled import BUNDLED_MODELS, DEFAULT_TRIMAP_FREE_MODEL

    p = subparsers.add_parser(
        "finetune",
        help="fine-tune a model on your own photos with trimaps only (CPU: minutes)",
        description="Fine-tune the bundled models (or any saved one) on your photos and their trimaps, without "
                    "alpha labels (known + DDC). Some photos are held out and scored before and after. The output "
                    "folder loads with --model in `afmatting matte` (the two-stage default with the tuned networks) "
                    "and afmatting.load_matter. Trimaps: "
                    "`afmatting matte --save-trimap`, the app's 'Save this trimap for fine-tuning', or any editor "
                    "(0 background, 128 unknown, 255 foreground).",
    )
    p.add_argument("images", nargs="+", help="image files, folders or glob patterns")
    p.add_argument("--trimaps", required=True, help="folder of trimaps, one per image: <stem>.png or <stem>_trimap.png")
    p.add_argument("--out", required=True, help="the model folder to write (new or empty)")
    p.add_argument("--from", dest="base", default=DEFAULT_TRIMAP_FREE_MODEL,
                   help=f"the model to start from: {' or '.join(BUNDLED_MODELS)} (default "
                        f"{DEFAULT_TRIMAP_FREE_MODEL}: the two-stage default, see --stage), a folder or a Hub id")
    p.add_argument("--stage", choices=("first", "second", "both"), default=None,
                   help="which network of the two-stage default to tune when starting from the trimap-free model: "
                        "first (default: the trimap-free network that finds the subject; tuned weights are kept "
                        "only when they help the default path on your held-out photos), second (the trimap model "
                        "that mattes the automatic trimap's band; in docs/results.md it barely moved held-out "
                        "photos), or both")
    p.add_argument("--steps", type=int, default=None,
                   help="optimiser steps of batch 4 per tuned network (default: about 50 visits of each photo, "
                        "50-300 steps: 100 for 8 photos)")
    p.add_argument("--alphas", default=None, help="optional alpha folder: held-out images are also scored by SAD "
                                                  "(never used for training)")
    p.add_argument("--val", nargs="+", default=None, metavar="IMAGES",
                   help="images to score before and after instead of holding out some of yours (their trimaps "
                        "in --trimaps)")
    p.add_argument("--holdout", type=int, default=None,
                   help="how many of your images to hold out (default: a fifth, 1-5; none below 4 images)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument("--push-to-hub", default=None, metavar="REPO", help="upload the model folder to this Hub repo")
    p.set_defaults(func=cmd_finetune)


def cmd_finetune(args) -> int:
    """Handler of ``afmatting finetune``: train, print the before / after table and how to use the model."""
    from .finetune import finetune

    try:
        import accelerate  # noqa: F401
        import datasets  # noqa: F401
    except ImportError:
        from .errors import MissingDependencyError

        raise MissingDependencyError("afmatting finetune needs the training extra: pip install 'afmatting[train]'.")
    report = finetune(args.images, args.trimaps, args.out, base=args.base, stage=args.stage, steps=args.steps,
                      alphas=args.alphas,
                      val_images=args.val, holdout=args.holdout, seed=args.seed, resume=args.resume,
                      push_to_hub=args.push_to_hub)
    print(report.table())
    print(f"saved the fine-tuned model to {report.out} ({report.seconds:.0f} s); use it with:\n"
          f"  afmatting matte PHOTOS --model {report.out} --out mattes/")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="afmatting", description="Image matting trained without alpha labels.")
    sub = parser.add_subparsers(dest="command", required=True)
    add_matte_subcommand(sub)
    add_eval_subcommand(sub)
    add_export_subcommand(sub)
    add_finetune_subcommand(sub)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so the same cleanup runs (temporary outputs removed, nothing half-written)."""


def _raise_terminated(signum, frame):
    raise Terminated()


def main(argv=None) -> int:
    import signal
    import threading

    parser = build_parser()
    args = parser.parse_args(argv)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return args.func(args)
    except AFMattingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Terminated:
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
