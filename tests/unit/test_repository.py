"""Repository rules: notebooks in teaching order, with the frame, without outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_course_has_its_notebooks_in_teaching_order():
    names = [nb.name for nb in NOTEBOOKS]
    assert names and names[0].startswith("00_")
    assert all(name[:2].isdigit() and name[2] == "_" for name in names)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    dirty = [i for i, cell in enumerate(cells) if cell["cell_type"] == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, (f"{notebook.name}: cells {dirty} have outputs; run "
                       "`make clean-notebooks` before committing")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_the_course_frame(notebook):
    text = "\n".join("".join(c["source"]) for c in json.loads(notebook.read_text())["cells"]
                     if c["cell_type"] == "markdown")
    for heading in ("What you'll learn", "Prerequisites", "Time to learn",
                    "Key points", "Exercises", "What's next"):
        assert heading.lower() in text.lower(), f"{notebook.name} lacks {heading!r}"

