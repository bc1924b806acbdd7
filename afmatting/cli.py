"""Command line: ``afmatting matte``, ``afmatting eval``, ``afmatting export-onnx`` and ``afmatting finetune``. Also
``python -m afmatting.cli``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import AFMattingError
from .loading import load_matter, load_model
from .processing import DEFAULT_MAX_SIDE, FULL_RESOLUTION, max_side_argument

MAX_SIDE_HELP = (f"long side of the network input in pixels, or '{FULL_RESOLUTION}' for full resolution "
                 f"(default {DEFAULT_MAX_SIDE}); the alpha is always full size")
SINGLE_STAGE_HELP = ("the bundled trimap-free model's network alone instead of its two-stage path (network, automatic "
                     "trimap, trimap model, refinement): predict(two_stage=False)")


def cmd_matte(args) -> int:
    """Handler of ``afmatting matte``: matte every input, write ``<stem>_alpha.png`` (and ``_cutout.png``)."""
    from tqdm.auto import tqdm

    from .batch_files import (
        find_trimap,
        plan_outputs,
        prepare_output_folder,
        without_own_outputs,
        write_image_atomically,
    )
    from .io import list_images

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
    inputs = list_images(args.inputs)
    if not inputs:
        print(f"error: no images found in {args.inputs}", file=sys.stderr)
        return 2
    # every output path is decided (collisions, existing files, a bad --out) before any work starts
    try:
        out = prepare_output_folder(args.out)
        inputs, own_outputs = without_own_outputs(inputs, out)
        if own_outputs and not args.quiet:
            print(f"note: {len(own_outputs)} earlier output(s) in '{out}' (e.g. '{own_outputs[0].name}') are not "
                  f"inputs", file=sys.stderr)
        if not inputs:
            print(f"error: no images found in {args.inputs} (only earlier outputs)", file=sys.stderr)
            return 2
        plan = plan_outputs(inputs, out, cutout=not args.no_cutout, overwrite=args.overwrite,
                            skip_existing=args.skip_existing, trimap=args.save_trimap)
    except AFMattingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    trimap_mode = args.trimap is not None
    try:
        model = load_matter(args.model, trimap=trimap_mode, device=args.device)
    except AFMattingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if trimap_mode and not model.trimap_input:
        print("error: --trimap was given but the model is trimap-free; drop --trimap or pass a trimap-input --model.",
              file=sys.stderr)
        return 2
    if model.trimap_input and not trimap_mode:
        print("error: this model needs a trimap: pass --trimap FILE or --trimap DIR.", file=sys.stderr)
        return 2
    failures = []
    for path, outputs in tqdm(plan.todo, desc="matting", unit="img", disable=args.quiet or len(plan.todo) < 2):
        try:
            trimap = find_trimap(args.trimap, path)
            result = model.predict(path, trimap=trimap, max_side=args.max_side, adapt_steps=args.adapt,
                                   refine=not args.no_refine, two_stage=False if args.single_stage else None,
                                   progress=args.adapt > 0 and not args.quiet)
            write_image_atomically(result.alpha_image(), outputs[0])
            if not args.no_cutout:
                write_image_atomically(result.cutout(), outputs[1])
            if args.save_trimap:
                write_image_atomically(automatic_trimap_image(result), outputs[-1])
        except (AFMattingError, OSError) as e:
            failures.append((path, e))
            tqdm.write(f"skipped {path}: {e}", file=sys.stderr)
    done = len(plan.todo) - len(failures)
    if not args.quiet:
        print(f"{done}/{len(plan.todo)} images matted into {out}" + (f"; {len(failures)} failed" if failures else "")
              + (f"; {len(plan.skipped)} skipped (outputs exist)" if plan.skipped else ""))
    return 1 if failures else 0


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
    p.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda")
    p.add_argument("--adapt", type=int, default=0, help="test-time adaptation steps (trimap models)")
    p.add_argument("--no-refine", action="store_true",
                   help="skip the per-image refinement (the matting Laplacian's colour-line prior; about a second per "
                        "photo): predict(refine=False)")
    p.add_argument("--single-stage", action="store_true", help=SINGLE_STAGE_HELP)
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
                    "folder loads with --model in `afmatting matte` and AFMatting.from_pretrained. Trimaps: "
                    "`afmatting matte --save-trimap`, the app's 'Save this trimap for fine-tuning', or any editor "
                    "(0 background, 128 unknown, 255 foreground).",
    )
    p.add_argument("images", nargs="+", help="image files, folders or glob patterns")
    p.add_argument("--trimaps", required=True, help="folder of trimaps, one per image: <stem>.png or <stem>_trimap.png")
    p.add_argument("--out", required=True, help="the model folder to write (new or empty)")
    p.add_argument("--from", dest="base", default=DEFAULT_TRIMAP_FREE_MODEL,
                   help=f"the model to start from: {' or '.join(BUNDLED_MODELS)} (default "
                        f"{DEFAULT_TRIMAP_FREE_MODEL}: the first stage of the default path), a folder or a Hub id")
    p.add_argument("--steps", type=int, default=None,
                   help="optimiser steps of batch 4 (default: about 50 visits of each photo, 50-300 steps: 100 for "
                        "8 photos)")
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
    report = finetune(args.images, args.trimaps, args.out, base=args.base, steps=args.steps, alphas=args.alphas,
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
