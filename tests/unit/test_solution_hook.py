"""The notebooks' pytest hook: nbval fails a solution cell whose self-check does not pass."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]

SETUP = ("from tlhelpers.checks import hint, passed\n"
         "def check(answer):\n"
         "    return passed('4 is right') if answer == 4 else hint('add again')")


def _run(tmp_path: Path, answer: int) -> subprocess.CompletedProcess:
    nb = nbformat.v4.new_notebook()
    solution = nbformat.v4.new_code_cell(f"# Solution\nanswer = {answer}\ncheck(answer)")
    solution.metadata["tags"] = ["solution"]
    nb.cells = [nbformat.v4.new_code_cell(SETUP),
                nbformat.v4.new_code_cell("answer = None  # your code here\ncheck(answer)"),
                solution]
    folder = tmp_path / "course"
    folder.mkdir()
    shutil.copy(ROOT / "conftest.py", folder / "conftest.py")
    nbformat.write(nb, folder / "exercise.ipynb")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
         "-p", "no:cacheprovider", "-q", "--rootdir", str(folder), str(folder)],
        capture_output=True, text=True, cwd=folder, timeout=300)


def test_a_solution_that_passes_its_check_runs_green(tmp_path):
    run = _run(tmp_path, 4)
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_solution_that_fails_its_check_fails_the_notebook(tmp_path):
    run = _run(tmp_path, 5)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "does not pass its self-check" in run.stdout
    assert "Not yet: add again" in run.stdout
    assert "1 failed, 2 passed" in run.stdout  # the placeholder cell is not a failure
