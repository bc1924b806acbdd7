"""benchmarks/report.py: docs/results.md and the bundled models' cards are rendered from the measured JSON (edit the
JSON or report.py, never the rendered files)."""

import pytest

from afmatting.bundled import WEIGHTS_DIR, resolve_bundled

from .conftest import ROOT, import_script

report = import_script("benchmarks/report.py", "afm_report")


def test_results_page_is_the_rendering_of_the_json():
    assert report.results_markdown() == (ROOT / "docs" / "results.md").read_text()


@pytest.mark.parametrize("name", ["lite0-trimap", "lite0-trimap-free"])
def test_model_cards_are_the_rendering_of_the_json(name):
    if resolve_bundled(f"afmatting/{name}") is None:
        pytest.skip("bundled models not installed")
    card = report.model_card(name)
    assert card == (WEIGHTS_DIR / name / "README.md").read_text()
    assert "refine_steps" not in card  # the Adam refinement is a benchmark baseline, not an option of the package
