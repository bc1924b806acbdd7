"""Procedural matting data with a known soft alpha, for smoke tests, CI and quick training runs.

Each sample is a textured foreground blob with an anti-aliased (sometimes blurred, fuzzy) edge and hair-like strands:
thin curved semi-transparent polylines growing out of the blob, composited over a textured background:
``image = alpha * F + (1 - alpha) * B``. The alpha is exact (the same uint8 matte is used for compositing and stored
as ground truth), 1 inside the blob, 0 far from it, fractional along edges and strands.

Everything is drawn with numpy and PIL on a supersampled canvas and box-filtered down; a sample depends only on
``(seed, split, index)``.

    >>> ds = make_synthetic_dataset(8, 4, size=128, seed=0)   # DatasetDict: train, validation
    >>> write_synthetic_folder("data/synth", 8, 4)            # generic layout: train/{image,alpha,trimap}/...
    python -m afmatting.data.synthetic --out data/synth-hf --train 64 --val 16 --size 256 [--folder]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..trimap import alpha_to_trimap
from .conversion import dataset_card, dataset_features, save_dataset, trimap_seed_for

#: supersampling factor of the drawing canvas (edges and strands get 1/SS^2 coverage steps)
SUPERSAMPLE = 4
SPLIT_IDS = {"train": 0, "validation": 1, "test": 2}


def _size_hw(size) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = (int(v) for v in size)
    return h, w


def smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int, channels: int = 3) -> np.ndarray:
    """Float32 (H, W, C) in [0, 1]: a random (cells x cells) grid upsampled bicubically (smooth blotches)."""
    grid = (rng.random((cells + 1, cells + 1, channels)) * 255).astype(np.uint8)
    layers = [
        np.asarray(Image.fromarray(grid[..., c]).resize((width, height), Image.BICUBIC), dtype=np.float32)
        for c in range(channels)
    ]
    return np.stack(layers, axis=2) / 255.0


def textured_layer(rng: np.random.Generator, height: int, width: int, palette_spread: float = 0.5) -> np.ndarray:
    """Float32 (H, W, 3) in [0, 1]: a base colour plus multi-scale colour noise and a random stripe pattern."""
    base = rng.random(3)
    tex = np.zeros((height, width, 3), np.float32)
    for cells, weight in ((3, 0.5), (9, 0.3), (max(4, min(height, width) // 6), 0.2)):
        tex += weight * (smooth_noise(rng, height, width, cells) - 0.5)
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    angle = rng.uniform(0, math.pi)
    period = rng.uniform(4, 24)
    stripes = np.sin((xx * math.cos(angle) + yy * math.sin(angle)) * 2 * math.pi / period)
    stripe_colour = rng.random(3) - 0.5
    out = base + palette_spread * tex + rng.uniform(0, 0.25) * stripes[..., None] * stripe_colour
    return np.clip(out, 0, 1).astype(np.float32)


def _downsample(canvas: Image.Image, height: int, width: int) -> np.ndarray:
    """Box-filter a (H*SS, W*SS) L canvas to float64 (H, W) coverage in [0, 1] (exact 0/1 on uniform blocks)."""
    arr = np.asarray(canvas, dtype=np.float64).reshape(height, SUPERSAMPLE, width, SUPERSAMPLE)
    return arr.mean(axis=(1, 3)) / 255.0


def _blob_outline(rng: np.random.Generator, height: int, width: int):
    """Centre, angles and radii (in supersampled pixels) of a wobbly closed outline."""
    s = SUPERSAMPLE
    cy, cx = rng.uniform(0.35, 0.65) * height * s, rng.uniform(0.35, 0.65) * width * s
    base_radius = rng.uniform(0.18, 0.3) * min(height, width) * s
    angles = np.linspace(0, 2 * math.pi, 180, endpoint=False)
    radii = np.full_like(angles, base_radius)
    for k in range(2, 6):
        radii *= 1 + rng.uniform(0, 0.12) * np.cos(k * angles + rng.uniform(0, 2 * math.pi))
    return (cy, cx), angles, radii


def render_sample(rng: np.random.Generator, size=128) -> tuple[np.ndarray, np.ndarray]:
    """One composite: (image uint8 (H, W, 3), alpha uint8 (H, W)). ``size`` is an int or (H, W)."""
    height, width = _size_hw(size)
    s = SUPERSAMPLE
    (cy, cx), angles, radii = _blob_outline(rng, height, width)

    blob = Image.new("L", (width * s, height * s), 0)
    polygon = [(cx + r * math.cos(a), cy + r * math.sin(a)) for a, r in zip(angles, radii)]
    ImageDraw.Draw(blob).polygon(polygon, fill=255)
    if rng.random() < 0.5:  # a fuzzy (defocused) edge on some samples
        blob = blob.filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 3.0) * s))
    blob_cov = _downsample(blob, height, width)

    # hair-like strands in a few layers of different opacity
    num_layers = 3
    layers = [Image.new("L", (width * s, height * s), 0) for _ in range(num_layers)]
    draws = [ImageDraw.Draw(layer) for layer in layers]
    num_strands = int(rng.integers(15, 40) * max(1.0, math.sqrt(height * width) / 128))
    diag = math.hypot(height, width) * s
    for _ in range(num_strands):
        i = int(rng.integers(len(angles)))
        a, r = angles[i], radii[i] * rng.uniform(0.85, 0.98)
        y, x = cy + r * math.sin(a), cx + r * math.cos(a)
        heading = a + rng.normal(0, 0.4)
        curvature = rng.normal(0, 0.08)
        step = rng.uniform(0.01, 0.02) * diag
        points = [(x, y)]
        for _ in range(int(rng.integers(6, 20))):
            heading += curvature + rng.normal(0, 0.05)
            x += step * math.cos(heading)
            y += step * math.sin(heading)
            points.append((x, y))
        width_px = int(rng.integers(1, 2 * s + 1))  # 1/SS .. 2 output pixels wide
        draws[int(rng.integers(num_layers))].line(points, fill=255, width=width_px, joint="curve")
    opacities = rng.uniform(0.35, 0.95, size=num_layers)
    transmit = np.ones((height, width))
    for layer, opacity in zip(layers, opacities):
        if rng.random() < 0.5:
            layer = layer.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0) * s))  # softer strand edges
        transmit *= 1.0 - opacity * _downsample(layer, height, width)
    alpha_f = 1.0 - (1.0 - blob_cov) * transmit
    alpha = np.round(alpha_f * 255.0).astype(np.uint8)

    background = textured_layer(rng, height, width)
    body = textured_layer(rng, height, width, palette_spread=0.3)
    hair = np.clip(rng.random(3) * 0.8 + 0.1 + 0.15 * (smooth_noise(rng, height, width, 6) - 0.5), 0, 1)
    strand_share = (1.0 - transmit)[..., None] * (1.0 - blob_cov[..., None])
    foreground = (1.0 - strand_share) * body + strand_share * hair
    a = (alpha.astype(np.float32) / 255.0)[..., None]
    image = a * foreground + (1.0 - a) * background
    image += rng.normal(0, 1.5 / 255.0, image.shape)  # a little sensor noise
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8), alpha


def sample_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of one sample: depends only on (seed, split, index)."""
    return np.random.default_rng([int(seed), SPLIT_IDS.get(split, 99), int(index)])


def generate_split(split: str, count: int, size=128, seed: int = 0):
    """Yield ``count`` rows ``{"image": PIL RGB, "trimap": PIL L, "alpha": PIL L, "name": str}`` of a split."""

    for index in range(count):
        image, alpha = render_sample(sample_rng(seed, split, index), size)
        name = f"synthetic_{split}_{index:05d}"
        trimap = alpha_to_trimap(alpha, seed=trimap_seed_for(name, seed))
        yield {
            "image": Image.fromarray(image, "RGB"),
            "trimap": Image.fromarray(trimap, "L"),
            "alpha": Image.fromarray(alpha, "L"),
            "name": name,
        }


def make_synthetic_dataset(num_train: int, num_val: int, size=128, seed: int = 0):
    """A ``datasets.DatasetDict`` with splits ``train`` and ``validation`` (a split is left out when its count is 0).

    Columns: ``image`` (PIL RGB), ``trimap`` (PIL L {0, 128, 255}, from :func:`afmatting.trimap.alpha_to_trimap`),
    ``alpha`` (PIL L, the exact ground truth), ``name``. ``size`` is an int or (H, W). Deterministic in ``seed``.
    """
    import datasets


    out = datasets.DatasetDict()
    for split, count in (("train", num_train), ("validation", num_val)):
        if count <= 0:
            continue
        rows = list(generate_split(split, count, size, seed))
        columns = {key: [row[key] for row in rows] for key in ("image", "trimap", "alpha", "name")}
        out[split] = datasets.Dataset.from_dict(columns, features=dataset_features(True), split=split)
    return out


def write_synthetic_folder(root, num_train: int, num_val: int, size=128, seed: int = 0, with_trimap: bool = True) -> Path:
    """Write samples as a generic-layout folder: ``root/<split>/{image,alpha[,trimap]}/<name>.png``; returns root."""
    root = Path(root)
    for split, count in (("train", num_train), ("validation", num_val)):
        if count <= 0:
            continue
        folders = ["image", "alpha"] + (["trimap"] if with_trimap else [])
        for folder in folders:
            (root / split / folder).mkdir(parents=True, exist_ok=True)
        for row in generate_split(split, count, size, seed):
            for folder in folders:
                row[folder].save(root / split / folder / f"{row['name']}.png")
    return root


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Write a procedural matting dataset (save_to_disk, or --folder).")
    p.add_argument("--out", required=True)
    p.add_argument("--train", type=int, default=64, help="training samples")
    p.add_argument("--val", type=int, default=16, help="validation samples")
    p.add_argument("--size", type=int, default=256, help="image side in pixels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--folder", action="store_true", help="write image/alpha/trimap PNG folders instead")
    args = p.parse_args(argv)
    if args.folder:
        write_synthetic_folder(args.out, args.train, args.val, args.size, args.seed)
    else:

        ds = make_synthetic_dataset(args.train, args.val, args.size, args.seed)
        save_dataset(ds, args.out, dataset_card(ds, title="Synthetic matting data (afmatting)", seed=args.seed))
    print(f"Wrote {args.train} + {args.val} synthetic samples of {args.size}px to '{args.out}'.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
