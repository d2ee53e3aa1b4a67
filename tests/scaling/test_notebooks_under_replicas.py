"""Every notebook, unchanged, under MirroredStrategy on two logical CPU devices.

The README's "Scaling out" promises that the notebooks need no edit on
several GPUs: `tlh.setup()` picks the strategy and makes it current for the
session. `TLH_CPU_REPLICAS=2` gives the same MirroredStrategy a two-GPU
machine gets, on the CPU this machine has; every assertion in the notebooks
must still hold. Slower than the nbval run (the two replicas share the cores).
oneDNN's graph rewrites are forced on, as recent CPUs have them by default:
the course must turn them off for the replicas (README, "Scaling out").

What replicas change is training (`fit` splits each batch between them, and
a batch of one image leaves a replica empty): `make test` runs 03 (the head,
block5's convolutions fine-tuned, the range test, `predict` on the photos),
starting from the stored features of the session's own run (`coursehome`):
the frozen base's pass (`features.extract`, a `tf.function` called outside
`strategy.run`) is not split between replicas, so a stored one stands for it.
The other six, 02's end-to-end training through the whole base among them,
run in `make test-all` (marker `exhaustive`): on a CPU without AVX-512, 02
under two replicas alone took several minutes of CI's budget.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from coursehome import seed_home

from tlhelpers.cli.course import run_notebook

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks")
                   .glob("[0-9][0-9]_*.ipynb"))


def setup_line(notebook) -> str:
    """The line `tlh.setup()` printed: the first output naming the profile."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            text = output.get("text", "")
            if "profile=" in text:
                return text
    return ""


def test_every_notebook_is_here():
    assert [p.name[:2] for p in NOTEBOOKS] == ["00", "01", "02", "03", "04", "05",
                                              "06"]


# Where replicas change what runs, in make test: fine-tuning a VGG16 base.
TRAINING = ("03",)


@pytest.fixture(scope="module")
def course_home(tmp_path_factory):
    """One TLH_HOME for the notebooks in order, as `make course` has: 06 uses
    the models 03 saved (05 would train its own). It starts with the stored
    features and weights of the session's own run."""
    return seed_home(tmp_path_factory.mktemp("course_home"))


@pytest.mark.slow
@pytest.mark.parametrize("path", [
    pytest.param(path, marks=() if path.name[:2] in TRAINING
                 else pytest.mark.exhaustive)
    for path in NOTEBOOKS], ids=lambda p: p.stem)
def test_the_notebook_runs_under_two_replicas(path, tmp_path, monkeypatch,
                                              course_home):
    monkeypatch.setenv("TLH_HOME", str(course_home))
    monkeypatch.setenv("TLH_CPU_REPLICAS", "2")
    monkeypatch.setenv("TLH_PROFILE", "quick")
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
    seconds, status = run_notebook(path, tmp_path, timeout=1200)
    assert status == "ok", f"{path.name} under two replicas: {status}"
    executed = nbformat.read(tmp_path / path.name, as_version=4)
    line = setup_line(executed)
    assert ", MirroredStrategy, 2 replicas, float32 |" in line, line
    assert "oneDNN rewrites off)" in line, line
    unexecuted = [i for i, cell in enumerate(executed.cells)
                  if cell.cell_type == "code" and cell.source.strip()
                  and cell.get("execution_count") is None]
    assert not unexecuted, f"cells {unexecuted} did not run"
