"""Dataset conversion (AM-2K, P3M-10K, generic layouts), loading, bad inputs and training/validation transforms."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from afmatting.data import (
    EvalTransform,
    TrainTransform,
    choose_crop,
    convert_folder,
    detect_layout,
    drop_alpha,
    load_matting_dataset,
    training_dataset,
    validation_dataset,
)
from afmatting.errors import AFMattingError, DatasetError

from .conftest import SHARED_DATA

SHARED_AM2K = SHARED_DATA / "am2k-samples"


def _alpha(h, w, seed):
    """uint8 (H, W): a soft-edged disc (fractional ring, exact 0 and 255 elsewhere)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot(yy - h / 2, xx - w / 2)
    return (np.clip((min(h, w) * rng.uniform(0.25, 0.35) - r) / 3 + 0.5, 0, 1) * 255).round().astype(np.uint8)


def _write_pair(image_dir, alpha_dir, name, h=40, w=56, seed=0, image_ext=".jpg", trimap_dir=None):
    rng = np.random.default_rng(seed)
    for d in (image_dir, alpha_dir, trimap_dir):
        if d is not None:
            Path(d).mkdir(parents=True, exist_ok=True)
    Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)).save(Path(image_dir) / f"{name}{image_ext}")
    alpha = _alpha(h, w, seed)
    if alpha_dir is not None:
        Image.fromarray(alpha).save(Path(alpha_dir) / f"{name}.png")
    if trimap_dir is not None:
        trimap = np.full((h, w), 128, np.uint8)
        trimap[0, :] = 0
        Image.fromarray(trimap).convert("P").save(Path(trimap_dir) / f"{name}.png")  # palette PNG, as P3M ships
    return alpha


def _check_trimap_against_alpha(row):
    alpha = np.asarray(row["alpha"])
    trimap = np.asarray(row["trimap"])
    assert trimap.shape == alpha.shape and set(np.unique(trimap)) <= {0, 128, 255}
    assert (trimap[(alpha > 0) & (alpha < 255)] == 128).all()
    assert (alpha[trimap == 255] == 255).all() and (alpha[trimap == 0] == 0).all()


@pytest.fixture()
def am2k_root(tmp_path):
    root = tmp_path / "AM-2K"
    for split, names in (("train", ["m_1", "m_2", "m_3"]), ("validation", ["v_1"])):
        for i, name in enumerate(names):
            _write_pair(root / split / "original", root / split / "mask", name, seed=i)
    return root


def test_am2k_layout(am2k_root, tmp_path):
    assert detect_layout(am2k_root) == "am2k"
    ds = convert_folder(am2k_root, cache_dir=str(tmp_path / "cache"), progress=False)
    assert set(ds) == {"train", "validation"}
    assert ds["train"].column_names == ["image", "trimap", "alpha", "name"]
    assert ds["train"]["name"] == ["m_1", "m_2", "m_3"]
    row = ds["train"][1]
    assert row["image"].mode == "RGB" and row["image"].size == (56, 40)
    assert row["image"].format == "JPEG"  # original bytes kept
    assert np.array_equal(np.asarray(row["alpha"]), _alpha(40, 56, 1))
    for row in ds["train"]:
        _check_trimap_against_alpha(row)
    # generated trimaps are fixed by the seed, independent of the cache
    again = convert_folder(am2k_root, cache_dir=str(tmp_path / "cache2"), progress=False)
    assert all(np.array_equal(np.asarray(a["trimap"]), np.asarray(b["trimap"])) for a, b in zip(ds["train"], again["train"]))


def test_p3m_layout(tmp_path):
    root = tmp_path / "P3M-10k"
    _write_pair(root / "train" / "blurred_image", root / "train" / "mask", "p_a", seed=0)
    _write_pair(root / "train" / "blurred_image", root / "train" / "mask", "p_b", seed=1)
    for sub, image_sub in (("P3M-500-P", "blurred_image"), ("P3M-500-NP", "original_image")):
        base = root / "validation" / sub
        _write_pair(base / image_sub, base / "mask", f"{sub}_x", seed=2, trimap_dir=base / "trimap")
    assert detect_layout(root) == "p3m"
    ds = convert_folder(root, cache_dir=str(tmp_path / "cache"), progress=False)
    assert set(ds) == {"train", "validation_p", "validation_np"}
    assert len(ds["train"]) == 2 and ds["validation_np"][0]["name"] == "P3M-500-NP_x"
    _check_trimap_against_alpha(ds["train"][0])
    # the shipped trimap is used (normalised from palette), not regenerated
    trimap = np.asarray(ds["validation_p"][0]["trimap"])
    assert (trimap[0] == 0).all() and (trimap[1:] == 128).all()


def test_generic_layouts_and_named_folders(tmp_path):
    flat = tmp_path / "flat"
    _write_pair(flat / "image", flat / "alpha-pseudo", "a", image_ext=".png")
    ds = convert_folder(flat, alpha_dir="alpha-pseudo", split_name="validation", cache_dir=str(tmp_path / "c"), progress=False)
    assert list(ds) == ["validation"] and ds["validation"][0]["name"] == "a"
    # trimap-only: no alpha column at all
    only_trimap = tmp_path / "trimaps"
    _write_pair(only_trimap / "train" / "image", None, "t", trimap_dir=only_trimap / "train" / "trimap")
    ds = convert_folder(only_trimap, layout="generic", cache_dir=str(tmp_path / "c"), progress=False)
    assert ds["train"].column_names == ["image", "trimap", "name"]


def test_prepare_dataset_script_and_loader(am2k_root, tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "prepare_dataset", Path(__file__).resolve().parents[1] / "train" / "prepare_dataset.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "out"
    assert module.main(["--root", str(am2k_root), "--out", str(out), "--cache-dir", str(tmp_path / "c"), "--quiet"]) == 0
    assert "am2k layout" in capsys.readouterr().out
    card = (out / "README.md").read_text()
    assert card.startswith("---") and "| `train` | 3 |" in card and "alpha-free" in card.lower()
    loaded = load_matting_dataset(out)
    assert set(loaded) == {"train", "validation"}
    assert len(load_matting_dataset(out, split="train")) == 3
    with pytest.raises(DatasetError, match="no split 'test'.*train"):
        load_matting_dataset(out, split="test")
    # a raw folder loads through the same function
    raw = load_matting_dataset(am2k_root, split="validation", cache_dir=str(tmp_path / "c"))
    assert raw[0]["name"] == "v_1"
    # bad script input: error message and exit status 1
    assert module.main(["--root", str(tmp_path / "nothing"), "--out", str(tmp_path / "o2"), "--quiet"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_loader_errors(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(DatasetError, match="is a file"):
        load_matting_dataset(tmp_path / "file.txt")
    with pytest.raises(DatasetError, match="neither an existing folder"):
        load_matting_dataset(str(tmp_path / "a" / "b" / "c"))
    with pytest.raises(DatasetError, match="Cannot tell the layout"):
        load_matting_dataset(tmp_path)


@pytest.mark.parametrize("problem", ["missing_alpha", "missing_image", "size", "non_image", "empty", "corrupt"])
def test_bad_folders_name_the_file(tmp_path, problem):
    root = tmp_path / "AM-2K"
    img, mask = root / "train" / "original", root / "train" / "mask"
    _write_pair(img, mask, "good")
    if problem == "missing_alpha":
        _write_pair(img, None, "lonely")
        match = "lonely.jpg' has no alpha partner"
    elif problem == "missing_image":
        Image.fromarray(_alpha(40, 56, 0)).save(mask / "orphan.png")
        match = "orphan.png' has no image partner"
    elif problem == "size":
        _write_pair(img, None, "odd")
        Image.fromarray(_alpha(41, 56, 0)).save(mask / "odd.png")
        match = "Size mismatch: the alpha '.*odd.png' is 56x41"
    elif problem == "non_image":
        (img / "notes.txt").write_text("hello")
        match = "notes.txt' in the image folder is not an image"
    elif problem == "empty":
        (root / "validation" / "original").mkdir(parents=True)
        (root / "validation" / "mask").mkdir(parents=True)
        match = "folder '.*validation.original' is empty"
    else:
        (img / "broken.jpg").write_bytes(b"not a jpeg at all")
        Image.fromarray(_alpha(40, 56, 0)).save(mask / "broken.png")
        match = "broken.jpg' is not a readable image"
    with pytest.raises(DatasetError, match=match):
        convert_folder(root, cache_dir=str(tmp_path / "c"), progress=False)


@pytest.mark.skipif(not SHARED_AM2K.is_dir(), reason=f"{SHARED_AM2K} is not present (AFMATTING_SHARED_DATA)")
def test_shared_am2k_samples(tmp_path):
    ds = convert_folder(
        SHARED_AM2K, alpha_dir="alpha-pseudo", split_name="validation", cache_dir=str(tmp_path / "c"), progress=False, num_proc=2
    )
    split = ds["validation"]
    assert len(split) == len(list((SHARED_AM2K / "image").glob("*.jpg")))
    assert split.column_names == ["image", "trimap", "alpha", "name"]
    for i in (0, len(split) - 1):
        row = split[i]
        assert row["image"].size == row["alpha"].size
        _check_trimap_against_alpha(row)


# --------------------------------------------------------------------------------------------- transforms


def _dataset(tmp_path, sizes=((90, 120), (40, 30))):
    import datasets

    from afmatting.data import dataset_features
    from afmatting.trimap import alpha_to_trimap

    rows = {"image": [], "trimap": [], "alpha": [], "name": []}
    for i, (h, w) in enumerate(sizes):
        alpha = _alpha(h, w, i)
        rows["image"].append(Image.fromarray((np.random.default_rng(i).random((h, w, 3)) * 255).astype(np.uint8)))
        rows["alpha"].append(Image.fromarray(alpha))
        rows["trimap"].append(Image.fromarray(alpha_to_trimap(alpha, seed=i, min_kernel=5, max_kernel=9)))
        rows["name"].append(f"s{i}")
    return datasets.Dataset.from_dict(rows, features=dataset_features(True))


def test_choose_crop_centres_on_unknown_pixel():
    trimap = np.zeros((128, 160), np.uint8)
    trimap[50, 70] = 128
    assert choose_crop(trimap, 64) == (50 - 32, 70 - 32)
    # near the border the centred window does not fit: it is clamped, still containing the pixel
    trimap[:] = 0
    trimap[3, 5] = 128
    assert choose_crop(trimap, 64) == (0, 0)
    torch.manual_seed(0)
    trimap = np.zeros((100, 100), np.uint8)
    trimap[40:60, 30:50] = 128
    for _ in range(20):
        y, x = choose_crop(trimap, 32)
        assert trimap[y + 16, x + 16] == 128


def test_train_transform_crop_sizes_and_centring(tmp_path):
    ds = _dataset(tmp_path)
    torch.manual_seed(0)
    plain = TrainTransform(64, scale_range=(1, 1), hflip=False, colour=0.0)
    for _ in range(5):
        out = plain.transform_example(ds[0]["image"], ds[0]["trimap"], "s0")
        assert out["image"].shape == (3, 64, 64) and out["image"].dtype == torch.float32
        assert out["trimap"].shape == (1, 64, 64)
        assert set(out["trimap"].unique().tolist()) <= {0.0, 0.5, 1.0}
        assert out["trimap"][0, 32, 32] == 0.5  # centred on an unknown pixel
        assert 0 <= out["image"].min() and out["image"].max() <= 1
    # the small image (40x30) is upscaled to the crop size; with jitter, flips and colour too
    jitter = TrainTransform(64)
    for _ in range(5):
        out = jitter.transform_example(ds[1]["image"], ds[1]["trimap"], "s1")
        assert out["image"].shape == (3, 64, 64) and out["trimap"].shape == (1, 64, 64)


def test_alpha_free_training_never_sees_alpha(tmp_path):
    ds = _dataset(tmp_path)
    train = training_dataset(ds, crop_size=32)
    assert "alpha" not in train.column_names
    item = train[0]
    assert set(item) == {"image", "trimap", "name"}

    class NoAlphaBatch(dict):
        def __getitem__(self, key):
            if key == "alpha":
                raise AssertionError("alpha-free transform read alpha")
            return super().__getitem__(key)

        def get(self, key, default=None):
            if key == "alpha":
                raise AssertionError("alpha-free transform read alpha")
            return super().get(key, default)

    batch = NoAlphaBatch(image=[ds[0]["image"]], trimap=[ds[0]["trimap"]], name=["s0"], alpha=[ds[0]["alpha"]])
    out = TrainTransform(32)(batch)
    assert "alpha" not in out and out["image"][0].shape == (3, 32, 32)
    assert drop_alpha(ds).column_names == ["image", "trimap", "name"]


def test_alpha_supervision_and_dataloader(tmp_path):
    ds = _dataset(tmp_path)
    torch.manual_seed(1)
    train = training_dataset(ds, supervision="alpha", crop_size=32, scale_range=(1, 1), colour=0.0)
    item = train[0]
    alpha, trimap = item["alpha"], item["trimap"]
    assert alpha.shape == (1, 32, 32)
    assert torch.all(alpha[trimap == 1.0] == 1.0) and torch.all(alpha[trimap == 0.0] == 0.0)
    loader = torch.utils.data.DataLoader(train, batch_size=2, num_workers=1)
    batch = next(iter(loader))
    assert batch["image"].shape == (2, 3, 32, 32) and batch["alpha"].shape == (2, 1, 32, 32)
    assert batch["name"] == ["s0", "s1"]
    with pytest.raises(AFMattingError):
        training_dataset(drop_alpha(ds), supervision="alpha")


def test_neighbours_option(tmp_path):
    from afmatting.neighbours import find_similar_neighbours

    ds = _dataset(tmp_path)
    item = training_dataset(ds, crop_size=32, with_neighbours=True, neighbour_kernel=5)[0]
    assert item["neighbours"].dtype == torch.int8 and item["neighbours"].shape == (5, 2, 32, 32)
    # the neighbours of the crop the item holds, not of another draw
    np.testing.assert_array_equal(item["neighbours"].numpy(),
                                  find_similar_neighbours(item["image"], kernel_size=5).numpy())


def test_validation_transform_full_image(tmp_path):
    ds = _dataset(tmp_path)
    item = validation_dataset(ds)[0]
    assert item["image"].shape == (3, 90, 120) and item["trimap"].shape == (1, 90, 120)
    assert item["alpha"].shape == (1, 90, 120)
    assert "alpha" not in validation_dataset(ds, with_alpha=False)[0]
    out = EvalTransform()({"image": [ds[1]["image"]], "trimap": [ds[1]["trimap"]], "name": ["s1"]})
    assert out["image"][0].shape == (3, 40, 30)
