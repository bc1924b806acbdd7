"""Command line: ``afmatting matte`` (and ``afmatting eval``). Also ``python -m afmatting.cli``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import AFMattingError


def load_model(model: str | None, *, trimap: bool, device: str | None = None):
    """Load ``model`` (directory, Hub id or bundled name) or, when None, the bundled default for the mode."""
    from .bundled import DEFAULT_TRIMAP_FREE_MODEL, DEFAULT_TRIMAP_MODEL, resolve_bundled
    from .errors import CheckpointError
    from .model import AFMatting

    if model is None:
        model = DEFAULT_TRIMAP_MODEL if trimap else DEFAULT_TRIMAP_FREE_MODEL
        if resolve_bundled(model) is None:
            raise CheckpointError(
                f"No --model given and the bundled default '{model}' is not installed; pass --model DIR_OR_REPO_ID."
            )
    m = AFMatting.from_pretrained(model)
    if device:
        m.to(device)
    return m


def find_trimap(trimap_arg: str | None, image_path: Path) -> Path | None:
    """--trimap FILE: that file; --trimap DIR: the file in DIR whose stem matches the image's (any extension,
    also ``<stem>_trimap``)."""
    if trimap_arg is None:
        return None
    p = Path(trimap_arg)
    if not p.is_dir():
        return p
    for stem in (image_path.stem, image_path.stem + "_trimap"):
        matches = sorted(q for q in p.glob(stem + ".*") if q.is_file())
        if matches:
            return matches[0]
    raise AFMattingError(f"No trimap for '{image_path.name}' in '{p}' (looked for {image_path.stem}.* ).")


def cmd_matte(args) -> int:
    from tqdm.auto import tqdm

    from .io import list_images

    if args.adapt < 0:
        print("error: --adapt takes a number of steps >= 0.", file=sys.stderr)
        return 2
    if args.adapt and args.trimap is None:
        print("error: --adapt needs --trimap: the trimap's known pixels anchor the per-image fit.", file=sys.stderr)
        return 2
    inputs = list_images(args.inputs)
    if not inputs:
        print(f"error: no images found in {args.inputs}", file=sys.stderr)
        return 2
    trimap_mode = args.trimap is not None
    try:
        model = load_model(args.model, trimap=trimap_mode, device=args.device)
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
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failures = []
    for path in tqdm(inputs, desc="matting", unit="img", disable=args.quiet or len(inputs) < 2):
        try:
            trimap = find_trimap(args.trimap, path)
            result = model.predict(path, trimap=trimap, max_side=args.max_side, adapt_steps=args.adapt,
                                   refine=not args.no_refine, progress=args.adapt > 0 and not args.quiet)
            result.alpha_image().save(out / f"{path.stem}_alpha.png")
            if not args.no_cutout:
                result.cutout().save(out / f"{path.stem}_cutout.png")
        except (AFMattingError, OSError) as e:
            failures.append((path, e))
            tqdm.write(f"skipped {path}: {e}", file=sys.stderr)
    done = len(inputs) - len(failures)
    if not args.quiet:
        print(f"{done}/{len(inputs)} images matted into {out}" + (f"; {len(failures)} failed" if failures else ""))
    return 1 if failures else 0


def build_parser() -> argparse.ArgumentParser:
    from .inference import DEFAULT_MAX_SIDE

    parser = argparse.ArgumentParser(prog="afmatting", description="Image matting trained without alpha labels.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("matte", help="matte images: writes <stem>_alpha.png and <stem>_cutout.png")
    p.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--trimap", help="a trimap file, or a folder of trimaps matched to the images by file name")
    p.add_argument("--model", help="model directory, Hub repo id or bundled name (default: the bundled model)")
    p.add_argument("--max-side", type=int, default=DEFAULT_MAX_SIDE,
                   help=f"long side of the network input (default {DEFAULT_MAX_SIDE}); the alpha is full size")
    p.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda")
    p.add_argument("--adapt", type=int, default=0, help="test-time adaptation steps (trimap models)")
    p.add_argument("--no-refine", action="store_true",
                   help="with --trimap: return the network's matte alone (by default it is refined per image with "
                        "the matting Laplacian's colour-line prior; about a second per photo)")
    p.add_argument("--no-cutout", action="store_true", help="write only the alpha")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_matte)
    try:
        from .evaluation import add_eval_subcommand
    except ImportError:
        pass
    else:
        add_eval_subcommand(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except AFMattingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
