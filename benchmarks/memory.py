"""Benchmark: peak memory of every default path of ``predict`` + cut-out at 1, 8 and 24 megapixels.

Run from the repository root::

    .venv/bin/python benchmarks/memory.py                      # every path at 1, 8, 24 MP
    .venv/bin/python benchmarks/memory.py --paths trimap all-unknown --megapixels 24
    .venv/bin/python benchmarks/memory.py --megapixels 24 --tile-size 100000   # one tile: the untiled working set
    .venv/bin/python benchmarks/memory.py --quality            # tiled vs untiled cut-outs on the shared photos

The paths (``--paths``, default all but ``single-stage``):

* ``default``: the bundled trimap-free model with ``predict``'s defaults (the two-stage path: network, automatic
  trimap, trimap model, refinement), as ``afmatting matte photo.jpg`` runs it;
* ``trimap``: the bundled trimap model with a realistic trimap (a band of 2 % of the long side around the subject)
  and the default refinement, as ``afmatting matte photo.jpg --trimap t.png``;
* ``all-unknown``: the trimap model with a trimap that is unknown everywhere (the refinement's worst case);
* ``single-stage``: the trimap-free network alone (``--single-stage``), the reference.

Each case runs in its own fresh Python process (so one case's allocations cannot hide another's), with the normal
allocator: the figures are what a user's process reaches. That process

1. imports afmatting, loads the model(s) and runs a 64² warm-up prediction of the same path (kernels, pools);
2. reads its resident size (VmRSS): the **baseline**;
3. reads a JPEG of the given size (and its trimap PNG) from disk with ``predict`` (as the CLI and the app do), builds
   the cut-out (``MattingResult.cutout()``, which runs the foreground estimation) and encodes it as PNG in memory;
4. reports its resident-set high-water mark (VmHWM): the **peak**, and peak − baseline: the cost of the image.

The test photo is procedural (smooth colour fields with a soft-edged disc and noise, so JPEG decoding and the
network see a photo-like image). The table prints bytes per pixel, the figure that must stay small and constant for
any size.

``--quality`` compares the default (tiled) foreground with a single tile (the whole image at once, as before
tiling) on every photo of ../shared/data that is present: the largest absolute difference of the cut-out colours.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's afmatting and benchmarks
from benchmarks.common import PROJECT_ROOT, SHARED_DATA, status_kib  # noqa: E402

GIB = 2**30


PATHS = ("default", "trimap", "all-unknown", "single-stage")
DEFAULT_PATHS = ("default", "trimap", "all-unknown")


def _disc(h: int, w: int):
    """The test photo's subject: a soft disc, float32 (H, W) in [0, 1]."""
    import numpy as np

    ys = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    xs = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    return np.clip((0.3 - np.hypot(ys - 0.5, (xs - 0.5) * 1.5)) * 40, 0, 1)


def write_test_photo(path: Path, megapixels: float) -> tuple[int, int]:
    """A 3:2 photo-like JPEG of about ``megapixels`` MP; returns its (height, width)."""
    import numpy as np
    from PIL import Image

    h = int(round((megapixels * 1e6 / 1.5) ** 0.5))
    w = int(round(h * 1.5))
    rng = np.random.default_rng(0)
    ys = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    xs = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    inside = _disc(h, w)
    rgb = np.empty((h, w, 3), np.uint8)
    for c, (fg, bg) in enumerate(((0.9, 0.2 + 0.5 * 0.3), (0.6, 0.5), (0.2, 0.8))):
        channel = inside * fg + (1 - inside) * (bg * (0.7 + 0.3 * xs) + 0.1 * ys)
        channel += rng.normal(0, 0.02, size=(h, w)).astype(np.float32)
        rgb[..., c] = np.clip(channel * 255 + 0.5, 0, 255).astype(np.uint8)
        del channel
    Image.fromarray(rgb).save(path, quality=92)
    return h, w


def write_test_trimap(path: Path, height: int, width: int, all_unknown: bool) -> None:
    """The photo's trimap as PNG: unknown everywhere, or a band of 2 % of the long side around the disc."""
    import numpy as np
    from PIL import Image

    from afmatting.trimap import UNKNOWN, band_trimap

    if all_unknown:
        trimap = np.full((height, width), UNKNOWN, np.uint8)
    else:
        trimap = band_trimap(_disc(height, width) >= 0.5, 0.02 * max(height, width))
    Image.fromarray(trimap).save(path)


def measure_child(path: str, trimap: str | None, kind: str, max_side: int, tile_size: int | None,
                  threads: int) -> dict:
    """In a fresh process: peak resident memory of predict + cut-out of the photo at ``path`` on path ``kind``."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    from afmatting import foreground, load_matter
    from afmatting import result as result_module
    from afmatting.bundled import DEFAULT_TRIMAP_FREE_MODEL, DEFAULT_TRIMAP_MODEL

    if tile_size is not None:
        original = foreground.estimate_foreground

        def with_tile_size(*args, **kwargs):
            return original(*args, tile_size=tile_size, **kwargs)

        result_module.estimate_foreground = with_tile_size  # what MattingResult.foreground calls
    with_trimap = kind in ("trimap", "all-unknown")
    # the bundled pipelines as predict runs them: the trimap model, or the trimap-free one with its partner
    model = load_matter(DEFAULT_TRIMAP_MODEL if with_trimap else DEFAULT_TRIMAP_FREE_MODEL)
    options = {"two_stage": False} if kind == "single-stage" else {}
    warm_trimap = np.full((64, 64), 128, np.uint8) if with_trimap else None
    model.predict(np.full((64, 64, 3), 0.5, np.float32), trimap=warm_trimap, max_side=max_side,
                  **options).cutout()  # warm-up
    baseline = status_kib("VmRSS")
    start = time.perf_counter()
    result = model.predict(path, trimap=trimap, max_side=max_side, **options)
    cutout = result.cutout()
    cutout.save(io.BytesIO(), format="PNG", compress_level=1)
    seconds = time.perf_counter() - start
    peak = status_kib("VmHWM")
    h, w = result.alpha.shape
    return {"height": h, "width": w, "baseline_kib": baseline, "peak_kib": peak, "seconds": seconds}


def run_case(path: Path, trimap: Path | None, kind: str, args) -> dict:
    cmd = [sys.executable, __file__, "--child", str(path), "--kind", kind, "--max-side", str(args.max_side),
           "--threads", str(args.threads)]
    if trimap is not None:
        cmd += ["--trimap-file", str(trimap)]
    if args.tile_size is not None:
        cmd += ["--tile-size", str(args.tile_size)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=PROJECT_ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"case {kind} {path.name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def quality(tile_size_untiled: int = 1 << 20) -> None:
    """Tiled vs one-tile foreground on the shared photos (with their pseudo/GT alphas)."""
    import numpy as np
    from PIL import Image

    from afmatting.foreground import estimate_foreground
    from afmatting.io import load_image

    pairs = []
    for images, alphas in (("alphamatting/image", "alphamatting/alpha"), ("am2k-samples/image", "am2k-samples/alpha-pseudo"),
                           ("p3m-samples/image", "p3m-samples/alpha-pseudo")):
        folder = SHARED_DATA / images
        if not folder.is_dir():
            continue
        for image_path in sorted(folder.iterdir()):
            alpha_path = next((SHARED_DATA / alphas).glob(image_path.stem + ".*"), None)
            if alpha_path is not None:
                pairs.append((image_path, alpha_path))
    if not pairs:
        print(f"no shared photos under {SHARED_DATA}; nothing to compare")
        return
    worst = 0.0
    for image_path, alpha_path in pairs:
        image = load_image(image_path)
        alpha = np.asarray(Image.open(alpha_path).convert("L"), np.float32) / 255.0
        tiled = estimate_foreground(image, alpha)
        whole = estimate_foreground(image, alpha, tile_size=tile_size_untiled)
        diff = float(np.abs(tiled - whole).max())
        worst = max(worst, diff)
        print(f"{image_path.parent.parent.name}/{image_path.name}: {image.shape[1]}x{image.shape[0]}, "
              f"max |tiled - untiled| = {diff:.3g}")
    print(f"{len(pairs)} photos, largest difference {worst:.3g} (colours in [0, 1])")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megapixels", type=float, nargs="+", default=[1, 8, 24])
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(DEFAULT_PATHS))
    parser.add_argument("--max-side", type=int, default=1024)
    parser.add_argument("--tile-size", type=int, default=None, help="foreground tile side (default: the library's)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quality", action="store_true", help="compare tiled and untiled cut-outs on shared photos")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--kind", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--trimap-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_child(args.child, args.trimap_file, args.kind, args.max_side, args.tile_size,
                                       args.threads)))
        return
    if args.quality:
        quality()
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for mp in args.megapixels:
            path = Path(tmp) / f"photo_{mp:g}mp.jpg"
            h, w = write_test_photo(path, mp)
            for kind in args.paths:
                trimap = None
                if kind in ("trimap", "all-unknown"):
                    trimap = Path(tmp) / f"trimap_{kind}_{mp:g}mp.png"
                    write_test_trimap(trimap, h, w, all_unknown=kind == "all-unknown")
                r = run_case(path, trimap, kind, args)
                pixels = r["height"] * r["width"]
                extra = (r["peak_kib"] - r["baseline_kib"]) * 1024
                rows.append((kind, mp, r, pixels, extra))
                print(f"  {kind} {mp:g} MP: peak {r['peak_kib'] / 2**20:.2f} GiB, {r['seconds']:.1f} s",
                      file=sys.stderr)
                if trimap is not None:
                    trimap.unlink()
            path.unlink()
    tile = args.tile_size if args.tile_size is not None else "default"
    print(f"bundled models, max_side {args.max_side}, foreground tile {tile}, {args.threads} thread(s)\n")
    print("| path | size | pixels | baseline RSS | peak RSS | peak − baseline | bytes / pixel | time |")
    print("|---|---|---|---|---|---|---|---|")
    for kind, mp, r, pixels, extra in rows:
        print(f"| {kind} | {mp:g} MP ({r['width']}x{r['height']}) | {pixels / 1e6:.1f} M "
              f"| {r['baseline_kib'] / 2**20:.2f} GiB | {r['peak_kib'] / 2**20:.2f} GiB | {extra / GIB:.2f} GiB "
              f"| {extra / pixels:.0f} | {r['seconds']:.1f} s |")


if __name__ == "__main__":
    main()
