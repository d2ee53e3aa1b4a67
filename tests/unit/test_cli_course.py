"""`python -m tlhelpers course`: `--only` picks notebooks, a failing one exits 1,
and each notebook's peak memory is reported."""

from __future__ import annotations

import subprocess
import sys
import time

import nbformat
import pytest

from tlhelpers.cli import main
from tlhelpers.cli.course import PeakMemory


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


def test_changed_runs_only_notebooks_with_no_current_copy(notebooks, tmp_path, capsys):
    out = tmp_path / "out"
    (notebooks / "01_fails.ipynb").unlink()
    write_notebook(notebooks / "01_new.ipynb", "print(1)")
    assert main(["course", "--notebooks", str(notebooks), "--out", str(out),
                 "--only", "00", "--timeout", "120"]) == 0
    capsys.readouterr()
    assert main(["course", "--notebooks", str(notebooks), "--out", str(out),
                 "--changed", "--timeout", "120"]) == 0
    printed = capsys.readouterr().out
    assert "01_new.ipynb" in printed and "00_works" not in printed  # 00's copy is current
    write_notebook(notebooks / "00_works.ipynb", "print(6 * 8)")  # changed since its run
    assert main(["course", "--notebooks", str(notebooks), "--out", str(out),
                 "--changed", "--timeout", "120"]) == 0
    printed = capsys.readouterr().out
    assert "00_works.ipynb" in printed and "01_new" not in printed
    assert main(["course", "--notebooks", str(notebooks), "--out", str(out),
                 "--changed"]) == 0
    assert "nothing to run" in capsys.readouterr().out


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


def test_course_reports_the_kernels_peak_memory(tmp_path, capsys):
    # A cell holding 300 MB for a few seconds: the sampled peak must see it,
    # and a notebook that allocates nothing must report less.
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "00_small.ipynb", "print(1)")
    write_notebook(folder / "01_large.ipynb",
                   "import time\nblock = bytearray(300 * 2**20)\n"
                   "block[::4096] = b'x' * len(block[::4096])\ntime.sleep(3)")
    assert main(["course", "--notebooks", str(folder), "--out",
                 str(tmp_path / "out"), "--timeout", "120"]) == 0
    rows = {line.split("|")[1].strip(): line.split("|")
            for line in capsys.readouterr().out.splitlines()
            if line.startswith("| 0")}
    small, large = (float(rows[name][3]) for name in ("00_small.ipynb", "01_large.ipynb"))
    # The kernel's own peak (VmHWM) includes its start, about 100 MB here.
    assert large >= 300 + 20 and large >= small + 200, (small, large)
    assert small > 20  # a Python kernel, not nothing


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/status"),
                    reason="VmHWM is Linux's")
def test_high_water_mark_keeps_a_peak_that_is_over():
    import subprocess
    import sys

    import psutil

    from tlhelpers.cli.course import high_water_mark

    # 300 MB touched, then freed: the process's resident memory falls back,
    # its high-water mark keeps the peak a sampler would have missed.
    child = subprocess.Popen(
        [sys.executable, "-c", "block = bytearray(300 * 2**20)\n"
         "block[::4096] = b'x' * len(block[::4096])\ndel block\n"
         "print('freed', flush=True)\ninput()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "freed"
        peak = high_water_mark(child.pid)
        now = psutil.Process(child.pid).memory_info().rss
        assert peak >= 300 * 2**20 > now + 200 * 2**20, (peak, now)
    finally:
        child.communicate("")
    assert high_water_mark(child.pid) == 0  # ended: nothing to read


def test_course_record_holds_each_notebooks_measurements_and_runs(
        tmp_path, monkeypatch, capsys):
    import json

    monkeypatch.setenv("TLH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TLH_DATASET", str(tmp_path / "somewhere" / "flowers_x"))
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "00_quiet.ipynb", "print(1)")
    write_notebook(folder / "01_logs.ipynb",
                   "from tlhelpers.training.runlog import RunLog\n"
                   "RunLog('course').add(strategy='scratch', note='plain',\n"
                   "                     best_val_accuracy=0.61, seconds=12.5)")
    record = tmp_path / "record.json"
    assert main(["course", "--notebooks", str(folder), "--out",
                 str(tmp_path / "out"), "--timeout", "120",
                 "--record", str(record)]) == 0
    data = json.loads(record.read_text())
    assert data["dataset"] == "flowers_x"  # the folder's name, not the path
    assert data["tlh_home"] == "empty at the start"
    quiet, logs = data["notebooks"]
    assert quiet["notebook"] == "00_quiet.ipynb" and quiet["runs"] == []
    assert logs["status"] == "ok" and logs["peak_memory_mb"] > 20
    assert logs["runs"] == [{"log": "course", "run": 1, "strategy": "scratch",
                             "note": "plain", "best_val_accuracy": 0.61,
                             "seconds": 12.5, "status": "running"}]
    assert data["total_seconds"] == pytest.approx(
        quiet["seconds"] + logs["seconds"], abs=0.2)
    assert "cpu_model" in data["machine"] and str(tmp_path) not in record.read_text()


@pytest.mark.parametrize("content", [b"\xff\xfe not text", b"[1, 2, 3]", b"null",
                                     b'[{"started": "2026-12-04T10:00:05"}, 7]'])
def test_logged_runs_passes_over_a_run_log_it_cannot_read(tmp_path, monkeypatch,
                                                         content):
    import datetime as dt

    from tlhelpers.cli import course

    monkeypatch.setenv("TLH_HOME", str(tmp_path))
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "odd.json").write_bytes(content)
    (tmp_path / "runs" / "good.json").write_text(
        '[{"started": "2026-12-04T10:00:01", "lr": 0.001}]')
    window = (dt.datetime(2026, 12, 4, 10, 0), dt.datetime(2026, 12, 4, 10, 1))
    (runs,) = course.logged_runs([window])
    assert {"log": "good", "lr": 0.001} in runs
    assert all(run["log"] in ("good", "odd") for run in runs)


def test_html_copies_fold_each_solution_under_its_exercise():
    from tlhelpers.cli.course import notebook_html

    nb = nbformat.v4.new_notebook()
    solution = nbformat.v4.new_code_cell("# Solution\nanswer = 42")
    solution.metadata["tags"] = ["solution"]
    nb.cells = [nbformat.v4.new_code_cell("answer = None  # your code here"), solution]
    page = notebook_html(nb)
    folded = page[page.index("<details"):page.index("</details>")]
    assert ">42<" in folded
    assert page.count("<details") == 1  # the exercise itself stays open
    assert "your code here" not in folded


def test_executed_copies_keep_a_progress_bars_last_state(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "00_bar.ipynb",
                   "from tlhelpers.progress import progress_bar\n"
                   "for _ in progress_bar(range(50), desc='pass', mininterval=0):\n"
                   "    pass")
    out = tmp_path / "out"
    assert main(["course", "--notebooks", str(folder), "--out", str(out),
                 "--timeout", "120"]) == 0
    (stream,) = nbformat.read(out / "00_bar.ipynb", as_version=4).cells[0].outputs
    assert stream["text"].strip().startswith("pass: 100%")
    assert "50/50" in stream["text"] and "\r" not in stream["text"]
    assert (out / "00_bar.html").read_text().count("pass: ") == 1


def test_peak_memory_leaves_out_children_alive_before_it_opened():
    # Under pytest, nbval's kernels are children too: a notebook's figure
    # must not include a 3 GB kernel another test left running.
    hold = ("import sys, time\nblock = bytearray(200 * 2**20)\n"
            "block[::4096] = b'x' * len(block[::4096])\nprint('ready', flush=True)\n"
            "time.sleep(30)")
    earlier = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    try:
        assert earlier.stdout.readline().strip() == "ready"
        with PeakMemory(interval=0.1) as memory:
            time.sleep(0.5)
        assert memory.peak_mb < 50, memory.peak_mb
        with PeakMemory(interval=0.1) as memory:
            later = subprocess.Popen([sys.executable, "-c", hold],
                                     stdout=subprocess.PIPE, text=True)
            assert later.stdout.readline().strip() == "ready"
            time.sleep(0.5)
            later.kill()
            later.wait()
        assert memory.peak_mb >= 200, memory.peak_mb
    finally:
        earlier.kill()
        earlier.wait()
