"""Each lesson's first code cell: the Colab install, run under a simulated Colab.

The cell cannot call `tlhelpers` (in a new Colab runtime it is not installed
yet), so it is plain Python, the same in every notebook; these tests run its
source as the notebook would, with Colab's module faked and the commands it
would run recorded instead of run.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def first_code_cells() -> dict[str, str]:
    cells = {}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        code = [c.source for c in nb.cells if c.cell_type == "code"]
        cells[path.name] = code
    return cells


COLAB_CELL = first_code_cells()[NOTEBOOKS[0].name][0]


def test_every_lesson_opens_with_the_same_colab_cell_before_its_setup_cell():
    assert len(NOTEBOOKS) >= 8
    for name, code in first_code_cells().items():
        assert code[0] == COLAB_CELL, f"{name}: its first code cell is not the Colab cell"
        assert "tlh.setup(" in code[1], f"{name}: the Setup cell should follow the Colab cell"
    assert 'if "google.colab" in sys.modules:' in COLAB_CELL


class Recorder:
    """Stands in for subprocess.run and Colab's output module."""

    def __init__(self):
        self.commands: list[list[str]] = []
        self.widget_manager_enabled = 0

    def run(self, command, check=False, **kwargs):
        assert check, "a failed install must stop the cell"
        self.commands.append(list(command))
        return subprocess.CompletedProcess(command, 0)

    def enable_custom_widget_manager(self):
        self.widget_manager_enabled += 1


@pytest.fixture
def recorder(monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(subprocess, "run", recorder.run)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the cell may add to it
    return recorder


def simulate_colab(monkeypatch, recorder, *, installed: bool, cloned: bool = False):
    """Fake `google.colab`, as Colab's kernel has it imported, and what is on disk."""
    output = types.ModuleType("google.colab.output")
    output.enable_custom_widget_manager = recorder.enable_custom_widget_manager
    colab = types.ModuleType("google.colab")
    colab.output = output
    google = types.ModuleType("google")
    google.colab = colab
    for name, module in {"google": google, "google.colab": colab,
                         "google.colab.output": output}.items():
        monkeypatch.setitem(sys.modules, name, module)
    real_find_spec, real_isdir = importlib.util.find_spec, os.path.isdir
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: (
        real_find_spec(name, *a) if installed or name != "tlhelpers" else None))
    monkeypatch.setattr(os.path, "isdir", lambda p: (
        cloned if str(p).startswith("/content/") else real_isdir(p)))


def run_cell() -> None:
    exec(compile(COLAB_CELL, "<colab cell>", "exec"), {"__name__": "__main__"})


def test_outside_colab_the_cell_runs_nothing(monkeypatch, recorder):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    run_cell()
    assert recorder.commands == []
    assert recorder.widget_manager_enabled == 0
    assert "/content/course" not in sys.path


def test_in_a_new_colab_runtime_it_clones_installs_and_enables_widgets(monkeypatch, recorder):
    simulate_colab(monkeypatch, recorder, installed=False)
    monkeypatch.setenv("COURSE_REPOSITORY", "https://example.org/course.git")
    run_cell()
    assert recorder.commands == [
        ["git", "clone", "--depth", "1", "https://example.org/course.git", "/content/course"],
        [sys.executable, "-m", "pip", "install", "--quiet",
         "-e", "/content/course[offline-weights]"],
    ]
    assert sys.path[0] == "/content/course"  # importable without a restart
    assert recorder.widget_manager_enabled == 1


def test_run_again_after_a_clone_it_installs_without_cloning_twice(monkeypatch, recorder):
    simulate_colab(monkeypatch, recorder, installed=False, cloned=True)
    monkeypatch.delenv("COURSE_REPOSITORY", raising=False)
    run_cell()
    assert [c[:3] for c in recorder.commands] == [[sys.executable, "-m", "pip"]]
    assert recorder.widget_manager_enabled == 1


def test_with_the_course_installed_it_only_enables_widgets(monkeypatch, recorder):
    simulate_colab(monkeypatch, recorder, installed=True)
    run_cell()
    assert recorder.commands == []
    assert recorder.widget_manager_enabled == 1


def test_without_a_repository_it_says_how_to_name_one(monkeypatch, recorder):
    simulate_colab(monkeypatch, recorder, installed=False)
    monkeypatch.delenv("COURSE_REPOSITORY", raising=False)
    with pytest.raises(RuntimeError, match="%env COURSE_REPOSITORY="):
        run_cell()
    assert recorder.commands == []
