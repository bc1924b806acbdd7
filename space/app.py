"""Hugging Face Space entry: runs the same app as the repository's app.py (the code is in afmatting/app/)."""

import sys
from pathlib import Path

try:
    import afmatting.app  # noqa: F401  (on the Space: the package folder uploaded next to this file)
except ImportError:  # run from a checkout without installing: use the repository's package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from afmatting.app import main

if __name__ == "__main__":
    sys.exit(main())
