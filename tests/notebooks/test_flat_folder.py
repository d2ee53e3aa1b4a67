"""The course on every folder layout: `DIR/<class>`, `DIR/train/<class>`, both splits.

The default `flowers` download and most learners' own photos are flat
(`DIR/<class>/*.jpg`); the shipped subset is split (`train/`, `val/`).
Here the same photos are laid out flat and train-only (links, not copies), and
the CLI's scan and notebook 00 (the data, the splits) run on them headless, as
`make course` runs them; `make test-all` runs the rest of the course on the
flat folder too. The dataset is `TLH_DATASET` when
that is a folder, else the subset shipped in `data/flowers-small`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from coursehome import seed_home

from tlhelpers import config
from tlhelpers.cli import main as cli_main
from tlhelpers.cli.course import run_notebook
from tlhelpers.data import registry, scan_folder

NOTEBOOKS = config.PROJECT_ROOT / "notebooks"
SHIPPED_FLOWERS = registry.shipped_folder(registry.DATASETS["flowers-small"])


@pytest.fixture(scope="module")
def source() -> Path:
    """The photos to lay out: TLH_DATASET if it is a folder, else the shipped subset."""
    named = os.environ.get("TLH_DATASET", "").strip()
    if named and Path(named).expanduser().is_dir():
        return Path(named).expanduser().resolve()
    # Shipped with the repository: missing means a broken checkout, not a skip.
    assert SHIPPED_FLOWERS.is_dir(), registry.missing_shipped_message(
        registry.DATASETS["flowers-small"])
    return SHIPPED_FLOWERS


def link_tree(files_by_class: dict[str, list[Path]], root: Path) -> Path:
    """`root/<class>/` holding a link to each file (renamed if two names clash)."""
    for name, files in files_by_class.items():
        folder = root / name
        folder.mkdir(parents=True)
        for path in files:
            target = folder / path.name
            if target.exists():  # train/x.jpg and val/x.jpg: keep both
                target = folder / f"{path.parent.parent.name}_{path.name}"
            target.symlink_to(path)
    return root


@pytest.fixture(scope="module")
def layouts(source, tmp_path_factory) -> dict[str, Path]:
    """The source's good photos as "flat", "train only", and the source itself."""
    scan = scan_folder(source)
    every = {name: scan.good_files(name) for name in scan.class_names}
    train = scan.good.get("train") or scan.good["all"]
    top = tmp_path_factory.mktemp("layouts")
    return {"flat": link_tree(every, top / "flat"),
            "train only": link_tree(train, top / "train_only" / "train"),
            "as given": source}


@pytest.mark.parametrize("layout", ["flat", "train only", "as given"])
def test_check_data_on_every_layout(layouts, layout, capsys):
    folder = layouts[layout]
    if layout == "train only":
        folder = folder.parent
    assert cli_main(["check-data", "--json", str(folder)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["usable"] and report["bad_files"] == [], report
    source = scan_folder(layouts["as given"])
    expected = {name: len(source.good_files(name)) for name in source.class_names}
    if layout == "train only":
        train = source.good.get("train") or source.good["all"]
        expected = {name: len(files) for name, files in train.items() if files}
    assert {c: n["good"] for c, n in report["classes"].items()} == expected
    assert report["layout"] == ("flat" if layout == "flat" else
                                "split" if layout == "train only" else
                                source.layout)


def executed_cells(path: Path) -> tuple[nbformat.NotebookNode, list[int]]:
    """The executed notebook, and the code cells that did not run."""
    nb = nbformat.read(path, as_version=4)
    missed = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
              and cell.source.strip() and cell.get("execution_count") is None]
    return nb, missed


def printed(nb: nbformat.NotebookNode) -> str:
    return "\n".join(out.get("text", "") for cell in nb.cells
                     for out in cell.get("outputs", []))


@pytest.fixture(scope="module")
def flat_home(tmp_path_factory) -> Path:
    """One TLH_HOME for the flat folder's notebooks in order (06 uses 03's models),
    with the session's converted weights."""
    return seed_home(tmp_path_factory.mktemp("flat_home"), kinds=("weights",))


EVERY_NOTEBOOK = sorted(path.name for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("notebook, layout", [
    ("00_setup_and_data.ipynb", "flat"),
    ("00_setup_and_data.ipynb", "train only"),
    # The rest of the course on the flat folder, training included: `make
    # test-all` (00 above already loads the splits the others train on).
    *[pytest.param(name, "flat", marks=pytest.mark.exhaustive)
      for name in EVERY_NOTEBOOK[1:]],
])
def test_notebook_runs_on_the_layout(layouts, notebook, layout, tmp_path,
                                     monkeypatch, flat_home):
    folder = layouts[layout]
    if layout == "train only":
        folder = folder.parent
    if layout == "flat":
        monkeypatch.setenv("TLH_HOME", str(flat_home))
    monkeypatch.setenv("TLH_DATASET", str(folder))
    monkeypatch.setenv("TLH_PROFILE", "quick")
    seconds, status = run_notebook(NOTEBOOKS / notebook, tmp_path, timeout=1200)
    assert status == "ok", f"{notebook} on a {layout} folder: {status}"
    nb, missed = executed_cells(tmp_path / notebook)
    assert not missed, f"cells {missed} of {notebook} did not run"
    if notebook.startswith("00_"):
        # The scan the notebook printed is of this folder, in this layout.
        kind = "flat" if layout == "flat" else "split"
        assert f"{folder.resolve()} ({kind} layout)" in printed(nb)
