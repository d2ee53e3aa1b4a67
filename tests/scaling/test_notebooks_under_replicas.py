"""Every notebook, unchanged, under MirroredStrategy on two logical CPU devices.

"Scaling out" (docs/scaling_out.md) promises that the notebooks need no edit on
several GPUs: `tlh.setup()` picks the strategy and makes it current for the
session. `TLH_CPU_REPLICAS=2` gives the same MirroredStrategy a two-GPU
machine gets, on the CPU this machine has; every assertion in the notebooks
must still hold. Slower than the nbval run (the two replicas share the cores).
oneDNN's graph rewrites are forced on, as recent CPUs have them by default:
the course must turn them off for the replicas (docs/scaling_out.md).

What replicas change is training (`fit` splits each batch between them, and
a batch of one image leaves a replica empty). `make test` runs notebook 03
(the head, block5's convolutions fine-tuned, the range test, `predict` on
photos) under two replicas on a few of the shipped photos of each class, as
a learner's own folder (`TLH_DATASET`): every cell runs, and its lessons are
reported rather than asserted, since a few photos cannot show them. The
seven notebooks on the course's whole data, where the lessons are asserted
under replicas too, run in `make test-all` (marker `exhaustive`), starting
from the stored features of the session's own run (`coursehome`): on a CPU
without AVX-512, 03 alone on the whole data took about five minutes of CI's
budget.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from coursehome import seed_home

from tlhelpers.cli.course import run_notebook
from tlhelpers.data import registry, scan_folder

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
                                              "06", "07"]


@pytest.fixture(scope="module")
def course_home(tmp_path_factory):
    """One TLH_HOME for the notebooks in order, as `make course` has: 06 uses
    the models 03 saved (05 would train its own). It starts with the stored
    features and weights of the session's own run."""
    return seed_home(tmp_path_factory.mktemp("course_home"))


# Photos per class of each split in the few-photos folder: 150 training rows
# with the mirrored views make a last batch of 22, which two replicas share.
FEW = {"train": 15, "val": 6, "test": 6}


@pytest.fixture(scope="module")
def few_photos(tmp_path_factory) -> Path:
    """The first few shipped photos of each class, in train/, val/ and test/ (links)."""
    shipped = registry.shipped_folder(registry.DATASETS["flowers-small"])
    scan = scan_folder(shipped)
    root = tmp_path_factory.mktemp("few_photos")
    for split, count in FEW.items():
        for name, files in scan.good[split].items():
            folder = root / split / name
            folder.mkdir(parents=True)
            for path in sorted(files)[:count]:
                (folder / path.name).symlink_to(path)
    return root


def run_under_two_replicas(path: Path, work: Path, monkeypatch, home: Path):
    """Run `path` headless under two replicas; its executed copy, checked."""
    monkeypatch.setenv("TLH_HOME", str(home))
    monkeypatch.setenv("TLH_CPU_REPLICAS", "2")
    monkeypatch.setenv("TLH_PROFILE", "quick")
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
    seconds, status = run_notebook(path, work, timeout=1200)
    assert status == "ok", f"{path.name} under two replicas: {status}"
    executed = nbformat.read(work / path.name, as_version=4)
    line = setup_line(executed)
    assert ", MirroredStrategy, 2 replicas, float32 |" in line, line
    assert "oneDNN rewrites off)" in line, line
    unexecuted = [i for i, cell in enumerate(executed.cells)
                  if cell.cell_type == "code" and cell.source.strip()
                  and cell.get("execution_count") is None]
    assert not unexecuted, f"cells {unexecuted} did not run"
    return executed


@pytest.mark.slow
def test_fine_tuning_runs_under_two_replicas_on_a_few_photos(
        few_photos, tmp_path, monkeypatch):
    monkeypatch.setenv("TLH_DATASET", str(few_photos))
    path = next(p for p in NOTEBOOKS if p.name.startswith("03_"))
    # The session's converted weights; its stored features are of other photos.
    home = seed_home(tmp_path / "home", kinds=("weights",))
    executed = run_under_two_replicas(path, tmp_path / "run", monkeypatch, home)
    text = "\n".join(output.get("text", "") for cell in executed.cells
                     for output in cell.get("outputs", []))
    n_train = FEW["train"] * 5
    assert f"{n_train} training, {FEW['val'] * 5} validation" in text, \
        "03 did not run on the few photos"


@pytest.mark.slow
@pytest.mark.exhaustive
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_notebook_runs_under_two_replicas(path, tmp_path, monkeypatch,
                                              course_home):
    run_under_two_replicas(path, tmp_path, monkeypatch, course_home)
