"""`python -m tlhelpers course`: `--only` picks notebooks, a failing one exits 1."""

from __future__ import annotations

import nbformat
import pytest

from tlhelpers.cli import main


def write_notebook(path, source: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source)]
    nbformat.write(nb, path)


@pytest.fixture
def notebooks(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "00_works.ipynb", "print(6 * 7)")
    write_notebook(folder / "01_fails.ipynb", "raise ValueError('broken cell')")
    write_notebook(folder / "notes.ipynb", "raise ValueError('not a lesson')")
    return folder


def test_course_runs_only_the_chosen_notebooks(notebooks, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["course", "--notebooks", str(notebooks), "--out", str(out),
                 "--only", "00", "--timeout", "120"]) == 0
    printed = capsys.readouterr().out
    assert "00_works.ipynb" in printed and "01_fails" not in printed
    assert sorted(p.name for p in out.iterdir()) == ["00_works.html",
                                                     "00_works.ipynb"]
    executed = nbformat.read(out / "00_works.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["text"].strip() == "42"


def test_course_exits_1_when_a_notebook_fails(notebooks, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["course", "--notebooks", str(notebooks), "--out", str(out),
                 "--timeout", "120"]) == 1
    printed = capsys.readouterr().out
    rows = [line for line in printed.splitlines() if line.startswith("| 0")]
    assert rows[0].startswith("| 00_works.ipynb") and rows[0].endswith("| ok |")
    assert rows[1].startswith("| 01_fails.ipynb") and "FAILED" in rows[1]
    assert "broken cell" in rows[1]
    assert len(rows) == 2  # notes.ipynb is not a numbered lesson


def test_course_kernels_print_no_plain_tcp_warning(notebooks, tmp_path, capfd):
    # ipykernel 7 warns on stderr for every kernel started over plain TCP.
    assert main(["course", "--notebooks", str(notebooks), "--out",
                 str(tmp_path / "out"), "--only", "00", "--timeout", "120"]) == 0
    captured = capfd.readouterr()
    assert "00_works.ipynb" in captured.out
    assert "without encryption" not in captured.err + captured.out
