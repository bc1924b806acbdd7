"""ViTMatte-S backbone: structure, shapes at any size, windowed attention, strict ViT-S weight loading, save/load."""

from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

from afmatting import AFMatting
from afmatting.backbones import create_backbone
from afmatting.errors import CheckpointError
from afmatting.vitmatte import (
    CLASSIFIER_ONLY_KEYS,
    GLOBAL_BLOCKS,
    ResidualConvBlock,
    ViTMatteBackbone,
    load_vit_small_weights,
)

from .conftest import import_script

#: a small decoder keeps these tests fast; the backbone is the real ViTMatte-S
SMALL_DECODER = dict(detail_widths=(8, 16, 16), fusion_widths=(32, 16, 16, 8), head_width=8)


@pytest.fixture(scope="module")
def vitmatte():
    torch.manual_seed(0)
    return AFMatting(backbone="vitmatte_small_patch16", **SMALL_DECODER).eval()


@pytest.fixture(scope="module")
def vit_small_state():
    """A randomly initialised timm ViT-S/16 classifier's state dict (stands in for DINO, which cannot be fetched)."""
    torch.manual_seed(1)
    return {k: v.clone() for k, v in timm.create_model("vit_small_patch16_224").state_dict().items()}


def test_structure_is_vitmatte_s(vitmatte):
    vit = vitmatte.backbone.vit
    assert vit.embed_dim == 384 and len(vit.blocks) == 12
    assert all(block.attn.num_heads == 6 for block in vit.blocks)
    windows = [block.window_size for block in vit.blocks]
    assert windows == [0 if i in (2, 5, 8, 11) else 14 for i in range(12)]
    assert sorted(int(k) for k in vitmatte.backbone.residual.blocks) == [2, 5, 8, 11]
    assert vitmatte.feature_channels == [384] and vitmatte.feature_reductions == [16]
    assert not any(".rel_pos_" in k for k in vitmatte.state_dict())
    relpos = ViTMatteBackbone(use_rel_pos=True)
    assert sum(k.endswith("rel_pos_h") for k in relpos.state_dict()) == 12


def test_parameter_count_is_close_to_published_vitmatte_s(vitmatte):
    full = AFMatting(backbone="vitmatte_small_patch16")  # ViTMatte's decoder widths
    count = sum(p.numel() for p in full.parameters())
    conv = sum(p.numel() for p in full.backbone.residual.parameters())
    assert 25.0e6 < count < 26.5e6  # ViTMatte-S as published: about 25 M
    assert conv == 4 * (384 * 192 + 192 * 192 * 9 + 192 * 384 + 2 * (192 + 192 + 384))


def test_residual_conv_block_starts_as_identity():
    torch.manual_seed(0)
    block = ResidualConvBlock(384)
    x = torch.randn(2, 384, 5, 7)
    assert torch.equal(block(x), x)
    assert block.conv2.weight.shape == (192, 192, 3, 3)


@pytest.mark.parametrize("hw", [(512, 512), (700, 500), (1024, 1024)])
def test_any_size_gives_alpha_of_that_size(vitmatte, hw):
    x = torch.rand(1, 3, *hw, generator=torch.Generator().manual_seed(0))
    features = []
    hook = vitmatte.backbone.register_forward_hook(lambda m, a, out: features.extend(out))
    try:
        with torch.inference_mode():
            alpha = vitmatte(x)
    finally:
        hook.remove()
    assert features[0].shape == (1, 384, -(-hw[0] // 16), -(-hw[1] // 16))  # the input padded to a multiple of 16
    assert alpha.shape == (1, 1, *hw) and alpha.dtype == torch.float32
    assert torch.isfinite(alpha).all() and 0 <= alpha.min() and alpha.max() <= 1


def _block_outputs(backbone, x, indices):
    outputs = {}
    hooks = [backbone.vit.blocks[i].register_forward_hook(lambda m, a, out, i=i: outputs.__setitem__(i, out))
             for i in indices]
    try:
        with torch.inference_mode():
            backbone(x)
    finally:
        for h in hooks:
            h.remove()
    return outputs


def test_windowed_blocks_are_windowed_and_global_blocks_are_global(vitmatte):
    backbone = vitmatte.backbone
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 3, 448, 480, generator=g)  # 28 x 30 tokens: windows of 14, the last column padded
    y = x.clone()
    y[0, :, 100, 300] += 3.0  # pixel -> token (6, 18) -> window rows 0..13, columns 14..27
    a, b = _block_outputs(backbone, x, [0, 2]), _block_outputs(backbone, y, [0, 2])
    moved = (a[0] - b[0]).abs().amax(dim=-1)[0] > 0  # (28, 30) tokens changed by block 0
    inside = torch.zeros_like(moved)
    inside[0:14, 14:28] = True
    assert moved[6, 18] and moved[inside].sum() > 1  # attention spreads the change across the window...
    assert not moved[~inside].any()  # ...but never out of it
    moved_global = (a[2] - b[2]).abs().amax(dim=-1)[0] > 0
    assert moved_global[~inside].all()  # block 2 attends globally: every token moves


def test_strict_loading_from_a_timm_vit_small_state_dict(vit_small_state):
    torch.manual_seed(0)
    backbone = ViTMatteBackbone()
    report = load_vit_small_weights(backbone, vit_small_state)
    own = backbone.state_dict()
    for i in range(12):
        for name in ("attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "mlp.fc2.weight", "norm1.weight"):
            assert torch.equal(own[f"vit.blocks.{i}.{name}"], vit_small_state[f"blocks.{i}.{name}"])
    assert torch.equal(own["vit.patch_embed.proj.weight"], vit_small_state["patch_embed.proj.weight"])
    assert own["vit.pos_embed"].shape == (1, 32, 32, 384)  # the grid of a 512 crop
    assert sorted({k.split(".")[2] for k in report.new}) == ["11", "2", "5", "8"]
    assert all(k.startswith("residual.blocks.") for k in report.new)
    assert set(report.unused) <= set(CLASSIFIER_ONLY_KEYS) and "cls_token" in report.unused
    assert len(report.loaded) == len(vit_small_state) - len(report.unused)


def test_position_embedding_is_resized_without_the_class_token(vit_small_state):
    ys, xs = torch.meshgrid(torch.arange(14.0), torch.arange(14.0), indexing="ij")
    grid = torch.full((14, 14, 384), 0.5)
    grid[..., 0], grid[..., 1] = xs, ys  # channel 0 ramps left to right, channel 1 top to bottom
    pos = torch.cat([torch.full((1, 384), 1000.0), grid.reshape(196, 384)])[None]  # class-token slot first
    backbone = ViTMatteBackbone()
    load_vit_small_weights(backbone, {**vit_small_state, "pos_embed": pos})
    resized = backbone.vit.pos_embed.detach()[0]  # (32, 32, 384)
    assert resized.abs().max() < 20  # the class token's slot is not part of the grid
    assert torch.allclose(resized[..., 2:], torch.tensor(0.5), atol=1e-5)
    assert (resized[:, 1:, 0] > resized[:, :-1, 0]).all() and (resized[1:, :, 1] > resized[:-1, :, 1]).all()
    assert resized[:, :, 0].std(dim=0).max() < 1e-4 and resized[:, :, 1].std(dim=1).max() < 1e-4
    assert resized[0, 0, 0] < 0.5 and resized[0, -1, 0] > 12.5  # spans the source range 0..13


def test_loading_a_checkpoint_file_into_the_model(tmp_path, vit_small_state):
    path = tmp_path / "vit_s.safetensors"
    save_file(vit_small_state, str(path))
    model = AFMatting(backbone="vitmatte_small_patch16", trimap_input=True, pretrained_backbone=str(path),
                      **SMALL_DECODER)
    own = model.backbone.state_dict()
    assert torch.equal(own["vit.blocks.7.attn.qkv.weight"], vit_small_state["blocks.7.attn.qkv.weight"])
    patch = own["vit.patch_embed.proj.weight"]  # RGB weights copied, the trimap channel starts at zero
    assert torch.equal(patch[:, :3], vit_small_state["patch_embed.proj.weight"]) and not patch[:, 3].any()
    module, channels, reductions = create_backbone("vitmatte_small_patch16.dino", 3, str(path))
    assert (channels, reductions) == ([384], [16])


def test_loading_is_strict(vit_small_state):
    backbone = ViTMatteBackbone()
    partial = {k: v for k, v in vit_small_state.items() if k != "blocks.3.attn.qkv.weight"}
    with pytest.raises(CheckpointError, match=r"missing 1 keys.*blocks\.3\.attn\.qkv\.weight"):
        load_vit_small_weights(backbone, partial)
    extra = {**vit_small_state, "blocks.12.attn.qkv.weight": torch.zeros(1)}
    with pytest.raises(CheckpointError, match=r"unexpected 1 keys.*blocks\.12"):
        load_vit_small_weights(backbone, extra)
    wrong = {**vit_small_state, "blocks.0.mlp.fc1.weight": torch.zeros(768, 384)}
    with pytest.raises(CheckpointError, match=r"wrong shapes.*blocks\.0\.mlp\.fc1\.weight"):
        load_vit_small_weights(backbone, wrong)
    with pytest.raises(CheckpointError, match="does not exist"):
        create_backbone("vitmatte_small_patch16", 3, "/nonexistent/vit_s.safetensors")
    with pytest.raises(CheckpointError, match="No offline weights"):
        create_backbone("vitmatte_small_patch16", 3, "offline")


def test_save_and_load_round_trip(tmp_path, vitmatte):
    vitmatte.save_pretrained(tmp_path / "m")
    loaded = AFMatting.from_pretrained(tmp_path / "m")
    assert loaded.backbone_name == "vitmatte_small_patch16"
    own, back = vitmatte.state_dict(), loaded.state_dict()
    assert own.keys() == back.keys() and all(torch.equal(own[k], back[k]) for k in own)
    x = torch.rand(1, 3, 96, 80, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        assert torch.equal(vitmatte(x), loaded(x))


def test_conv_blocks_get_their_global_blocks_layer_decay():
    train = import_script("train/train.py", "afm_train_vitmatte")
    config = Path(__file__).resolve().parents[1] / "train" / "configs" / "am2k_vits_ddc.yaml"
    args = train.parse_args(["--config", str(config), "--pretrained_backbone", "false"])
    assert args.backbone == "vitmatte_small_patch16.dino"
    model = AFMatting(backbone=args.backbone, **SMALL_DECODER)
    by_param = {id(p): g for g in train.parameter_groups(model, args) for p in g["params"]}
    named = dict(model.named_parameters())
    for i in GLOBAL_BLOCKS:
        conv = by_param[id(named[f"backbone.residual.blocks.{i}.conv2.weight"])]["lr_scale"]
        assert conv == by_param[id(named[f"backbone.vit.blocks.{i}.attn.qkv.weight"])]["lr_scale"]
    assert by_param[id(named["backbone.vit.pos_embed"])]["weight_decay"] == 0.0


def test_benchmark_runs_on_cpu_with_a_tiny_size():
    bench = import_script("benchmarks/vitmatte_backbone.py", "afm_bench_vitmatte")
    rates = bench.main(["--train-throughput", "--device", "cpu", "--size", "32", "--batch", "2", "--steps", "1",
                        "--warmup", "1", "--threads", "1"])
    assert set(rates) == {"plain ViT-S/16", "ViTMatte-S"} and all(r > 0 for r in rates.values())
    results = bench.main(["--sizes", "32", "--repeats", "1", "--threads", "1"])
    assert all(r["latency_s"] > 0 for r in results.values())
