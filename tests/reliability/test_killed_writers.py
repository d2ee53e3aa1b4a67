"""What a killed process leaves: temporary files are removed, its run is not `running`.

The kill is driven: the child process reports (one line on stdout) that it is
inside the write, or that its run is logged, and only then gets SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from tlhelpers import atomic, features
from tlhelpers.training import RunLog

ROOT = Path(__file__).resolve().parents[2]

MID_WRITE = """
import sys, time
from pathlib import Path
from tlhelpers import atomic
with atomic.replacing(Path(sys.argv[1])) as tmp:
    tmp.write_bytes(b"half of a feature file")
    print(tmp, flush=True)
    time.sleep(600)
"""

RUN_STARTED = """
import sys, time
from tlhelpers.training import RunLog
run = RunLog(path=sys.argv[1]).add(strategy="fine-tuning", lr=1e-5)
print(run, flush=True)
time.sleep(600)
"""


def killed_after_first_line(script: str, *args) -> str:
    """Run `script`, wait for its first line, SIGKILL it; returns that line."""
    child = subprocess.Popen([sys.executable, "-c", script, *map(str, args)],
                             cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline().strip()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    return line


def test_a_killed_writers_temporary_file_goes_with_the_next_write(tmp_path):
    folder = tmp_path / "features"
    target = folder / "a.npz"
    left = Path(killed_after_first_line(MID_WRITE, target))
    assert left.exists() and left.parent == folder and not target.exists()
    features.save_npz_atomic(folder / "b.npz", x=np.arange(3))
    assert not left.exists()
    assert sorted(p.name for p in folder.iterdir()) == ["b.npz"]


def test_a_live_writers_temporary_file_is_kept(tmp_path):
    # This process is alive: its file must survive another write's cleanup.
    with atomic.replacing(tmp_path / "a.npz") as tmp:
        tmp.write_bytes(b"in progress")
        features.save_npz_atomic(tmp_path / "b.npz", x=np.arange(3))
        assert tmp.exists()
    assert (tmp_path / "a.npz").read_bytes() == b"in progress"


def test_a_temporary_file_from_another_machine_is_kept_for_a_day(tmp_path):
    fresh = tmp_path / f".a.npz.elsewhere-12345.abcd{atomic.MARK}"
    old = tmp_path / f".c.npz.elsewhere-12345.efgh{atomic.MARK}"
    for path in (fresh, old):
        path.write_bytes(b"x")
    day_ago = time.time() - atomic.STALE_SECONDS - 60
    os.utime(old, (day_ago, day_ago))
    assert atomic.remove_stale(tmp_path) == [old]
    assert fresh.exists()


def test_a_killed_runs_row_is_not_running_forever(tmp_path):
    path = tmp_path / "runs.json"
    run = int(killed_after_first_line(RUN_STARTED, path))
    rows = {row["run"]: row for row in RunLog(path=path).rows}
    assert rows[run]["status"] == "killed"
    # A run of this process, still going, stays running.
    mine = RunLog(path=path)
    live = mine.add(strategy="scratch")
    assert {r["run"]: r for r in RunLog(path=path).rows}[live]["status"] == "running"
