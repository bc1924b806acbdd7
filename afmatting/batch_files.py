"""The files a folder run reads and writes: trimap pairing, output names, and writing outputs safely.

* A trimap folder is paired with each image by **exact stem** (``a.png`` with ``a.*`` or ``a_trimap.*``), never by
  prefix or glob pattern: ``a.png`` does not take ``a.b.png``'s trimap, ``[1].png`` does not take ``1.png``'s. A
  missing or ambiguous partner is an error naming the files.
* Two inputs that would write the same output name (``a.png`` and ``a.jpg``, or ``x/a.png`` and ``y/a.png``) are an
  error before any work starts: nothing is silently overwritten, and which matte is which stays obvious.
* Existing outputs are kept unless the caller asks to overwrite them (or to skip those images).
* An output is written to a temporary file in the output folder and renamed onto its name: a planted symlink is
  replaced, never written through, and a crash never leaves half a PNG under the final name.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import AFMattingError
from .io import IMAGE_EXTENSIONS

#: suffixes of the outputs written per image
ALPHA_SUFFIX, CUTOUT_SUFFIX, TRIMAP_SUFFIX = "_alpha.png", "_cutout.png", "_trimap.png"


class OutputError(AFMattingError):
    """An output folder or file cannot be used (not a folder, not creatable, would collide or overwrite)."""


def trimap_candidates(trimap_dir: Path, image_path: Path) -> list[Path]:
    """Files of ``trimap_dir`` whose stem is exactly the image's stem or ``<stem>_trimap`` (image extensions only;
    the image itself is never its own trimap)."""
    wanted = {image_path.stem, image_path.stem + "_trimap"}
    image_real = image_path.resolve()
    return sorted(
        p for p in trimap_dir.iterdir()
        if p.stem in wanted and p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file() and p.resolve() != image_real
    )


def find_trimap(trimap_arg: str | os.PathLike | None, image_path: Path) -> Path | None:
    """The trimap for ``image_path``: ``trimap_arg`` itself when it is a file, the exact-stem partner when it is a
    folder, None without one. Raises AFMattingError naming the image and the folder (or both candidates) when the
    partner is missing or ambiguous."""
    if trimap_arg is None:
        return None
    folder = Path(trimap_arg)
    if not folder.is_dir():
        return folder
    found = trimap_candidates(folder, image_path)
    if not found:
        raise AFMattingError(
            f"No trimap for '{image_path}' in '{folder}': expected '{image_path.stem}.<ext>' or "
            f"'{image_path.stem}_trimap.<ext>'."
        )
    if len(found) > 1:
        raise AFMattingError(
            f"Ambiguous trimap for '{image_path}': both '{found[0]}' and '{found[1]}' match"
            + (f" (and {len(found) - 2} more)" if len(found) > 2 else "") + "; keep one."
        )
    return found[0]


def output_names(image_path: Path, cutout: bool, trimap: bool = False) -> list[str]:
    """File names (no folder) written for one image: the alpha, then the cutout and the automatic trimap if asked."""
    return ([image_path.stem + ALPHA_SUFFIX] + ([image_path.stem + CUTOUT_SUFFIX] if cutout else [])
            + ([image_path.stem + TRIMAP_SUFFIX] if trimap else []))


@dataclass
class OutputPlan:
    """What a run will write: ``todo`` images and their output paths; ``skipped`` images whose outputs exist."""

    todo: list[tuple[Path, list[Path]]]
    skipped: list[Path]


def prepare_output_folder(out: str | os.PathLike) -> Path:
    """Create ``out`` if needed; OutputError when it is a file or cannot be created."""
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"--out '{folder}' exists and is not a folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"Cannot create the output folder '{folder}': {e.strerror or e}.") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"The output folder '{folder}' is not writable.")
    return folder


def plan_outputs(images: list[Path], out: Path, *, cutout: bool, overwrite: bool = False,
                 skip_existing: bool = False, trimap: bool = False) -> OutputPlan:
    """Decide every output path before any work starts.

    Raises OutputError when two inputs would write the same file (naming both), or when outputs exist and neither
    ``overwrite`` nor ``skip_existing`` is set (naming the first and how many). With ``skip_existing``, an image is
    skipped when all its outputs exist and redone when only some do (a run interrupted between its writes: the
    outputs it left are replaced). A symlink counts as an existing output.
    """
    if overwrite and skip_existing:
        raise OutputError("Pass either --overwrite or --skip-existing, not both.")
    owner: dict[str, Path] = {}
    for image in images:
        for name in output_names(image, cutout, trimap):
            if name in owner and owner[name] != image:
                raise OutputError(
                    f"'{owner[name]}' and '{image}' would both write '{name}' (outputs are named by file stem); "
                    f"rename one of them or matte them into separate --out folders."
                )
            owner[name] = image
    todo, skipped, existing = [], [], []
    for image in dict.fromkeys(images):  # the same file named twice is matted once
        paths = [out / name for name in output_names(image, cutout, trimap)]
        present = [p for p in paths if os.path.lexists(p)]
        if skip_existing and len(present) == len(paths):
            skipped.append(image)
            continue
        if not skip_existing:
            existing.extend(present)
        todo.append((image, paths))
    if existing and not overwrite:
        raise OutputError(
            f"{len(existing)} output file(s) already exist in '{out}', e.g. '{existing[0].name}'; nothing was "
            f"written. Pass --overwrite to replace them or --skip-existing to skip those images."
        )
    return OutputPlan(todo=todo, skipped=skipped)


def is_own_output(path: Path) -> bool:
    """True for a file this tool writes (``<stem>_alpha.png``, ``<stem>_cutout.png``): never an input to matte."""
    return path.name.endswith((ALPHA_SUFFIX, CUTOUT_SUFFIX))


def without_own_outputs(images: list[Path], out: Path) -> tuple[list[Path], list[Path]]:
    """Split ``images`` into (inputs, dropped): the outputs of this tool lying in ``out`` are dropped, so a run whose
    input folder is its output folder never mattes its previous outputs (``a_alpha_alpha.png``)."""
    out_real = out.resolve()
    dropped = [p for p in images if is_own_output(p) and p.resolve().parent == out_real]
    return [p for p in images if p not in dropped], dropped


def _umask() -> int:
    """The process umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_file_atomically(path: Path, write, suffix: str = ".partial") -> None:
    """Write ``path`` through a temporary file in the same folder, then rename it onto ``path``.

    ``write(binary_file)`` writes the content. The file gets the umask's normal mode (mkstemp's is 0600); the rename
    replaces whatever entry ``path`` is (a symlink included) instead of writing through it, and on any failure or
    interrupt the temporary file is removed and ``path`` is left as it was.
    """
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=suffix, dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def write_image_atomically(image, path: Path) -> None:
    """Save a PIL image as PNG at ``path`` through :func:`write_file_atomically`."""
    write_file_atomically(path, lambda f: image.save(f, format="PNG"), suffix=".png.partial")
