"""The run log: two processes writing the same log lose no row and share no run id."""

from __future__ import annotations

import multiprocessing

import pytest

from tlhelpers.training import RunLog

RUNS_EACH = 25


def _write_runs(path: str, worker: int, start) -> None:
    log = RunLog(path=path)
    start.wait()  # after the slow imports: both processes write at once
    for i in range(RUNS_EACH):
        run = log.add(strategy=f"worker{worker}", lr=1e-5, epochs=i,
                      weights="imagenet")
        log.update(run, status="done", epochs_done=i)


def test_two_processes_writing_one_log_keep_every_row(tmp_path):
    path = tmp_path / "runs" / "course.json"
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    workers = [context.Process(target=_write_runs, args=(str(path), w, start))
               for w in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=240)
        assert worker.exitcode == 0, f"worker exit code {worker.exitcode}"
    rows = RunLog(path=path).rows
    assert len(rows) == 2 * RUNS_EACH
    assert sorted(r["run"] for r in rows) == list(range(1, 2 * RUNS_EACH + 1))
    for w in range(2):
        mine = [r for r in rows if r["strategy"] == f"worker{w}"]
        assert sorted(r["epochs"] for r in mine) == list(range(RUNS_EACH))
        assert all(r["status"] == "done" and r["epochs_done"] == r["epochs"]
                   and r["weights"] == "imagenet" for r in mine)


def test_a_log_open_in_two_kernels_numbers_runs_from_the_file(tmp_path):
    path = tmp_path / "course.json"
    first, second = RunLog(path=path), RunLog(path=path)
    a = first.add(strategy="fine-tuning")
    b = second.add(strategy="scratch")  # this kernel never saw run 1
    first.update(a, status="done", best_val_accuracy=0.5)
    assert (a, b) == (1, 2)
    rows = {r["run"]: r for r in RunLog(path=path).rows}
    assert rows[1]["status"] == "done" and rows[2]["strategy"] == "scratch"
    assert rows[1]["best_val_accuracy"] == pytest.approx(0.5)


def test_an_update_after_another_kernel_cleared_the_log_keeps_the_run(tmp_path):
    path = tmp_path / "course.json"
    first, second = RunLog(path=path), RunLog(path=path)
    run = first.add(strategy="fine-tuning")
    second.clear()
    first.update(run, status="done")
    rows = RunLog(path=path).rows
    assert [(r["run"], r["status"]) for r in rows] == [(1, "done")]
    with pytest.raises(KeyError, match="run 9"):
        first.update(9, status="done")
