"""Folder runs: exact-stem trimap pairing, output collisions, no silent overwrite, no writing through symlinks."""

import os

import numpy as np
import pytest
from PIL import Image

from afmatting.batch_files import OutputError, find_trimap, plan_outputs
from afmatting.cli import main
from afmatting.errors import AFMattingError


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory, tiny_vit, tiny_cnn_trimap):
    root = tmp_path_factory.mktemp("models")
    tiny_vit.save_pretrained(root / "free")
    tiny_cnn_trimap.save_pretrained(root / "trimap")
    return root


def photo(path, value, size=(20, 24)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((*size, 3), value, np.uint8)).save(path)
    return path


def trimap(path, known, size=(20, 24)):
    """A trimap whose top rows are ``known`` (0 or 255), the rest unknown."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.full(size, 128, np.uint8)
    t[:6] = known
    Image.fromarray(t).save(path)
    return path


def test_pairing_is_by_exact_stem_not_prefix_or_glob(tmp_path, model_dirs):
    images, tris, out = tmp_path / "img", tmp_path / "tri", tmp_path / "out"
    photo(images / "a.png", 100)
    photo(images / "[1].png", 150)
    trimap(tris / "a.png", 0)
    trimap(tris / "a.b.png", 255)  # a prefix match of a.png
    trimap(tris / "[1].png", 0)
    trimap(tris / "1.png", 255)  # what '[1].*' matches as a glob
    assert find_trimap(tris, images / "a.png") == tris / "a.png"
    assert find_trimap(tris, images / "[1].png") == tris / "[1].png"
    code = main(["matte", str(images), "--out", str(out), "--trimap", str(tris),
                 "--model", str(model_dirs / "trimap"), "--quiet", "--no-cutout"])
    assert code == 0
    for stem in ("a", "[1]"):  # each got its own trimap: known background on top
        assert (np.asarray(Image.open(out / f"{stem}_alpha.png"))[:6] == 0).all()


def test_missing_and_ambiguous_trimaps_skip_the_image_and_exit_1(tmp_path, model_dirs, capsys):
    images, tris, out = tmp_path / "img", tmp_path / "tri", tmp_path / "out"
    photo(images / "good.png", 100)
    photo(images / "lonely.png", 100)
    photo(images / "twice.png", 100)
    trimap(tris / "good.png", 0)
    trimap(tris / "twice.png", 0)
    trimap(tris / "twice_trimap.png", 255)
    with pytest.raises(AFMattingError, match="twice.png.*twice_trimap.png"):
        find_trimap(tris, images / "twice.png")
    code = main(["matte", str(images), "--out", str(out), "--trimap", str(tris),
                 "--model", str(model_dirs / "trimap"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert "lonely.png" in err and str(tris) in err
    assert "twice.png" in err and "twice_trimap.png" in err
    assert sorted(p.name for p in out.iterdir()) == ["good_alpha.png", "good_cutout.png"]


def test_stem_collision_is_refused_before_any_work(tmp_path, model_dirs, capsys):
    images, out = tmp_path / "img", tmp_path / "out"
    photo(images / "a.png", 10)
    photo(images / "a.jpg", 200)
    photo(images / "b.png", 90)
    code = main(["matte", str(images), "--out", str(out), "--model", str(model_dirs / "free")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error:") and "a.jpg" in err and "a.png" in err and "a_alpha.png" in err
    assert len(err.splitlines()) == 1
    assert list(out.iterdir()) == []


def test_existing_outputs_are_not_overwritten_without_a_flag(tmp_path, model_dirs, capsys):
    images, out = tmp_path / "img", tmp_path / "out"
    photo(images / "a.png", 10)
    photo(images / "b.png", 90)
    out.mkdir()
    (out / "a_alpha.png").write_bytes(b"precious")
    args = ["matte", str(images), "--out", str(out), "--model", str(model_dirs / "free"), "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "a_alpha.png" in err and "--overwrite" in err
    assert (out / "a_alpha.png").read_bytes() == b"precious" and not (out / "b_alpha.png").exists()

    # --skip-existing: a is skipped only when all its outputs exist; here its cut-out is missing, so it is redone
    (out / "a_cutout.png").write_bytes(b"precious too")
    assert main(args + ["--skip-existing"]) == 0
    assert (out / "a_alpha.png").read_bytes() == b"precious"
    assert Image.open(out / "b_alpha.png").size == (24, 20)

    assert main(args + ["--overwrite"]) == 0
    assert Image.open(out / "a_alpha.png").size == (24, 20)
    with pytest.raises(SystemExit) as info:  # mutually exclusive: argparse's usage error
        main(args + ["--overwrite", "--skip-existing"])
    assert info.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


def test_planted_symlink_is_replaced_not_written_through(tmp_path, model_dirs):
    images, out = tmp_path / "img", tmp_path / "out"
    photo(images / "b.png", 90)
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("do not touch")
    os.symlink("../victim.txt", out / "b_cutout.png")
    base = ["matte", str(images), "--out", str(out), "--model", str(model_dirs / "free"), "--quiet"]
    assert main(base) == 2  # a symlink counts as an existing output
    assert main(base + ["--overwrite"]) == 0
    assert victim.read_text() == "do not touch"
    assert not (out / "b_cutout.png").is_symlink()
    assert Image.open(out / "b_cutout.png").mode == "RGBA"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_bad_out_is_one_error_line(tmp_path, model_dirs, capsys):
    photo(tmp_path / "img" / "a.png", 10)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for out in (a_file, a_file / "sub"):
        code = main(["matte", str(tmp_path / "img"), "--out", str(out), "--model", str(model_dirs / "free")])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.startswith("error:") and len(err.splitlines()) == 1, err
        assert str(out) in err


def test_plan_outputs_rules(tmp_path):
    a, b = tmp_path / "x" / "a.png", tmp_path / "y" / "a.png"
    with pytest.raises(OutputError, match="a_alpha.png"):
        plan_outputs([a, b], tmp_path, cutout=False)
    plan = plan_outputs([a, a], tmp_path, cutout=True)  # the same file twice is matted once
    assert plan.todo == [(a, [tmp_path / "a_alpha.png", tmp_path / "a_cutout.png"])]
