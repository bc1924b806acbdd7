"""Hugging Face Space entry: runs the same demo as the repository's app.py (the code is in afmatting/demo.py)."""

import sys
from pathlib import Path

try:
    import afmatting.demo  # noqa: F401  (on the Space: the package folder uploaded next to this file)
except ImportError:  # run from a checkout without installing: use the repository's package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from afmatting.demo import main

if __name__ == "__main__":
    sys.exit(main())
