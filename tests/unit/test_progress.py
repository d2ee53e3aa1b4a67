"""Progress bars keep their finished state in what a notebook saves (stdout)."""

from __future__ import annotations

from tlhelpers.progress import progress_bar


def test_the_bar_ends_on_stdout_at_its_finished_state(capsys):
    for _ in progress_bar(range(12), desc="extracting features", unit="img"):
        pass
    printed = capsys.readouterr()
    last = printed.out.split("\r")[-1].strip()
    assert last.startswith("extracting features: 100%") and "12/12" in last
    assert printed.err == ""  # stderr shows as a warning-coloured block in JupyterLab
