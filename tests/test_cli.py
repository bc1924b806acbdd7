import numpy as np
import pytest
from PIL import Image

from afmatting.cli import main


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory, tiny_vit, tiny_cnn_trimap):
    root = tmp_path_factory.mktemp("models")
    tiny_vit.save_pretrained(root / "free")
    tiny_cnn_trimap.save_pretrained(root / "trimap")
    return root


def _photos(folder, rng, n=3):
    folder.mkdir()
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (24 + i, 30, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    return folder


def test_matte_folder_with_one_broken_file(tmp_path, model_dirs, rng, capsys):
    photos = _photos(tmp_path / "in", rng)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    code = main(["matte", str(photos), "--out", str(tmp_path / "out"), "--model", str(model_dirs / "free")])
    assert code == 1  # something failed
    err = capsys.readouterr().err
    assert "broken.jpg" in err
    for i in range(3):
        alpha = Image.open(tmp_path / "out" / f"p{i}_alpha.png")
        assert alpha.mode == "L" and alpha.size == (30, 24 + i)
        assert Image.open(tmp_path / "out" / f"p{i}_cutout.png").mode == "RGBA"
    assert not (tmp_path / "out" / "broken_alpha.png").exists()


def test_matte_glob_and_trimap_dir(tmp_path, model_dirs, rng):
    photos = _photos(tmp_path / "in", rng, n=2)
    tris = tmp_path / "tri"
    tris.mkdir()
    for i in range(2):
        t = np.full((24 + i, 30), 128, np.uint8)
        t[:5] = 0
        Image.fromarray(t).save(tris / f"p{i}.png")
    code = main(["matte", str(photos / "*.png"), "--out", str(tmp_path / "out"), "--trimap", str(tris),
                 "--model", str(model_dirs / "trimap"), "--quiet"])
    assert code == 0
    a = np.asarray(Image.open(tmp_path / "out" / "p1_alpha.png"))
    assert (a[:5] == 0).all()


def test_matte_errors(tmp_path, model_dirs, rng, capsys):
    photos = _photos(tmp_path / "in", rng, n=1)
    assert main(["matte", str(photos), "--out", str(tmp_path / "o"), "--model", str(tmp_path / "no" / "model")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["matte", str(photos), "--out", str(tmp_path / "o"), "--model", str(model_dirs / "trimap")]) == 2
    assert "needs a trimap" in capsys.readouterr().err
    assert main(["matte", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]) in (1, 2)


def test_max_side_full_resolution_and_bad_values(tmp_path, model_dirs, rng, capsys):
    photos = _photos(tmp_path / "in", rng, n=1)
    base = ["matte", str(photos), "--out", str(tmp_path / "o"), "--model", str(model_dirs / "free")]
    assert main(base + ["--max-side", "full"]) == 0
    assert Image.open(tmp_path / "o" / "p0_alpha.png").size == (30, 24)
    for bad in ("0", "-3", "big"):
        with pytest.raises(SystemExit) as exit_info:
            main(base + ["--max-side", bad])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert "--max-side" in err and "full" in err and "Traceback" not in err


@pytest.mark.e2e
def test_module_entry_point(tmp_path, model_dirs, rng):
    import subprocess
    import sys

    photos = _photos(tmp_path / "in", rng, n=1)
    out = subprocess.run([sys.executable, "-m", "afmatting.cli", "matte", str(photos / "p0.png"), "--out",
                          str(tmp_path / "o"), "--model", str(model_dirs / "free")], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "o" / "p0_alpha.png").exists()


@pytest.mark.e2e
def test_bundled_trimap_free_default_is_two_stage_and_single_stage_switches_it_off(tmp_path):
    from pathlib import Path

    from afmatting import load_matter
    from afmatting.bundled import DEFAULT_TRIMAP_FREE_MODEL, resolve_bundled

    if resolve_bundled(DEFAULT_TRIMAP_FREE_MODEL) is None:
        pytest.skip("bundled models not installed")
    cat = Path(__file__).resolve().parents[1] / "afmatting" / "assets" / "cat.jpg"
    assert main(["matte", str(cat), "--out", str(tmp_path / "two"), "--max-side", "256", "--quiet"]) == 0
    assert main(["matte", str(cat), "--out", str(tmp_path / "one"), "--max-side", "256", "--single-stage",
                 "--quiet"]) == 0
    two = np.asarray(Image.open(tmp_path / "two" / "cat_alpha.png"))
    one = np.asarray(Image.open(tmp_path / "one" / "cat_alpha.png"))
    model = load_matter(DEFAULT_TRIMAP_FREE_MODEL)
    assert np.array_equal(one, model.predict(str(cat), max_side=256, two_stage=False).alpha_image())
    assert np.array_equal(two, model.predict(str(cat), max_side=256).alpha_image())
    assert not np.array_equal(one, two)


def test_start_from_one_network_of_the_bundled_path(tmp_path, model_dirs, rng, capsys):
    """--start-from: the second stage starts from that network's matte (predict(start_from=...)); it is refused
    where there is no automatic two-stage path to pick from."""
    from pathlib import Path

    from afmatting import load_matter
    from afmatting.bundled import DEFAULT_TRIMAP_FREE_MODEL, resolve_bundled

    photos = _photos(tmp_path / "in", rng, n=1)
    assert main(["matte", str(photos), "--out", str(tmp_path / "o"), "--start-from", "modnet", "--trimap",
                 str(photos)]) == 2
    assert "--start-from picks a network" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["matte", str(photos), "--out", str(tmp_path / "o2"), "--start-from", "isnet"])
    assert exit_info.value.code == 2 and "invalid choice" in capsys.readouterr().err
    pytest.importorskip("onnxruntime")
    if resolve_bundled(DEFAULT_TRIMAP_FREE_MODEL) is None:
        pytest.skip("bundled models not installed")
    cat = Path(__file__).resolve().parents[1] / "afmatting" / "assets" / "cat.jpg"
    assert main(["matte", str(cat), "--out", str(tmp_path / "m"), "--max-side", "256", "--start-from", "modnet",
                 "--quiet"]) == 0
    model = load_matter(DEFAULT_TRIMAP_FREE_MODEL)
    expected = model.predict(str(cat), max_side=256, start_from="modnet")
    assert expected.extra["first_stage_choice"] == 1
    assert np.array_equal(np.asarray(Image.open(tmp_path / "m" / "cat_alpha.png")), expected.alpha_image())
