"""A run-log file that is not a run log is moved aside, never overwritten, never fatal."""

from __future__ import annotations

import json
import os

import pytest

from tlhelpers.training import RunLog

NOT_A_LOG = {
    "an object": b'{"run": 1, "strategy": "fine-tuning"}',
    "null": b"null",
    "a list of numbers": b"[1, 2, 3]",
    "a run number that is text": b'[{"run": "one", "strategy": "scratch"}]',
    "a run number that is a list": b'[{"run": [1], "strategy": "scratch"}]',
    "random bytes": bytes(range(256)) * 4,
    "a Latin-1 byte": b'[{"run": 1, "strategy": "caf\xe9"}]',
    "cut off mid-write": b'[{"run": 1, "lr": 1e-5',
}


@pytest.mark.parametrize("content", NOT_A_LOG.values(), ids=NOT_A_LOG.keys())
def test_a_file_that_is_not_a_run_log_is_moved_aside(tmp_path, content):
    path = tmp_path / "runs.json"
    path.write_bytes(content)
    with pytest.warns(UserWarning, match="moved to runs.broken.json") as caught:
        log = RunLog(path=path)
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    assert len(log) == 0
    assert (tmp_path / "runs.broken.json").read_bytes() == content
    # The fresh log works, and the next load reads it without a warning.
    assert log.add(strategy="scratch") == 1
    again = RunLog(path=path)
    assert [row["strategy"] for row in again.rows] == ["scratch"]


def test_a_second_broken_file_keeps_the_first_ones_copy(tmp_path):
    path = tmp_path / "runs.json"
    for content in [b"null", b"\xff\xfe", b"{}"]:
        path.write_bytes(content)
        with pytest.warns(UserWarning, match="unreadable"):
            RunLog(path=path)
    assert (tmp_path / "runs.broken.json").read_bytes() == b"null"
    assert (tmp_path / "runs.2.broken.json").read_bytes() == b"\xff\xfe"
    assert (tmp_path / "runs.3.broken.json").read_bytes() == b"{}"


def test_a_broken_file_found_by_add_is_moved_aside_too(tmp_path):
    path = tmp_path / "runs.json"
    log = RunLog(path=path)
    log.add(strategy="scratch")
    path.write_bytes(b"[1, 2, 3]")  # another program wrote it meanwhile
    with pytest.warns(UserWarning, match="moved to"):
        run = log.add(strategy="fine-tuning")
    assert run == 1
    assert json.loads((tmp_path / "runs.broken.json").read_text()) == [1, 2, 3]


def test_a_good_log_loads_with_no_warning_and_no_backup(tmp_path, recwarn):
    path = tmp_path / "runs.json"
    RunLog(path=path).add(strategy="scratch", lr=1e-5)
    rows = RunLog(path=path).rows
    assert rows[0]["run"] == 1 and rows[0]["lr"] == 1e-5
    assert not [w for w in recwarn if "run log" in str(w.message)]
    assert sorted(os.listdir(tmp_path)) == ["runs.json", "runs.json.lock"]
