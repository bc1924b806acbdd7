"""The library without its optional stacks: importing it and matting a photo need none of gradio, accelerate,
datasets or tensorboard (pyproject's [app] and [train] groups)."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # a subprocess with the optional stacks hidden

ROOT = Path(__file__).resolve().parents[1]

HIDDEN = ("gradio", "gradio_client", "accelerate", "datasets", "tensorboard")

SCRIPT = f"""
import sys

class Hidden:
    '''A finder that makes the optional packages look uninstalled.'''
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {HIDDEN!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (hidden by the test)", name=name)
        return None

sys.meta_path.insert(0, Hidden())
sys.path.insert(0, {str(ROOT)!r})

import numpy as np
import torch

import afmatting
import afmatting.cli, afmatting.data, afmatting.evaluation, afmatting.metrics, afmatting.refine
from afmatting import AFMatting

torch.manual_seed(0)
model = AFMatting(backbone="test_vit", trimap_input=True, fusion_widths=(32, 16, 16, 8), detail_widths=(8, 16, 16))
image = np.random.default_rng(0).random((40, 50, 3), dtype=np.float32)
trimap = np.full((40, 50), 128, np.uint8)
trimap[:, :10], trimap[:, -10:] = 0, 255
result = afmatting.predict(model, image, trimap=trimap, refine=True)
assert result.alpha.shape == (40, 50) and result.cutout().mode == "RGBA"
assert not [m for m in sys.modules if m.split(".")[0] in {HIDDEN!r}]
try:
    import gradio
except ModuleNotFoundError:
    print("ok")
"""


def test_library_works_without_the_app_and_training_stacks(tmp_path):
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "ok"
