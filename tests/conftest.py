"""Shared fixtures. Real photos come from ../shared/data when present; tests that need them skip otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
import torch

torch.set_num_threads(int(os.environ.get("AFMATTING_TEST_THREADS", min(2, os.cpu_count() or 1))))

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("AFMATTING_SHARED_DATA", ROOT.parent / "shared" / "data"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test when it is absent (a user's fresh clone has none)."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared data not present: {p}")
    return p


def import_script(relative_path: str, module_name: str):
    """Import a script of the repository (train/train.py, benchmarks/*.py) as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(module_name, ROOT / relative_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny_vit():
    from afmatting import AFMatting

    torch.manual_seed(0)
    return AFMatting(backbone="test_vit", fusion_widths=(32, 16, 16, 8), detail_widths=(8, 16, 16)).eval()


@pytest.fixture(scope="session")
def tiny_cnn_trimap():
    from afmatting import AFMatting

    torch.manual_seed(0)
    return AFMatting(backbone="resnet18", trimap_input=True, neck_width=32,
                     fusion_widths=(32, 16, 16, 8), detail_widths=(8, 16, 16)).eval()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def two_colour_case(h=48, w=64):
    """Red background, blue foreground with a wavy boundary; the trimap leaves a 16-px band around it unknown."""
    yy, xx = np.mgrid[0:h, 0:w]
    boundary = w / 2 + 5 * np.sin(yy / 5.0)
    gt = (xx >= boundary).astype(np.float32)
    image = np.where(gt[..., None] > 0, [0.1, 0.2, 0.9], [0.9, 0.2, 0.1]).astype(np.float32)
    trimap = np.full((h, w), 128, np.uint8)
    trimap[xx < boundary - 8] = 0
    trimap[xx >= boundary + 8] = 255
    return image, trimap, gt


def stencil_to_sparse(stencil: np.ndarray, radius: int = 1) -> scipy.sparse.csr_matrix:
    """The full (H·W, H·W) sparse matrix of a Laplacian stencil (tiny images: dense checks of the solver)."""
    from afmatting.laplacian import laplacian_offsets

    n, h, w = stencil.shape
    rows, cols, vals = [], [], []
    ys, xs = np.mgrid[0:h, 0:w]
    for k, (dy, dx) in enumerate(laplacian_offsets(radius)):
        ok = (ys + dy >= 0) & (ys + dy < h) & (xs + dx >= 0) & (xs + dx < w) & (stencil[k] != 0)
        rows.append((ys * w + xs)[ok])
        cols.append(((ys + dy) * w + xs + dx)[ok])
        vals.append(stencil[k][ok])
    return scipy.sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(h * w, h * w)
    )
