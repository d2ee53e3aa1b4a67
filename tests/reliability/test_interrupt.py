"""Interrupted training (Kernel > Interrupt, Ctrl-C) and a run log across processes.

A callback raises KeyboardInterrupt part-way through the second epoch, as
the kernel does when a learner interrupts it: the best weights so far come
back, the history is kept, and the run log says what happened.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tinymodel

from tlhelpers import training  # noqa: E402
from tlhelpers.config import PROJECT_ROOT  # noqa: E402


@pytest.fixture(scope="module")
def trained():
    """(model, base_model, train_ds, val_ds, start_weights); runs restore them."""
    return tinymodel.head_trained()


class InterruptIn(keras.callbacks.Callback):
    """Raise KeyboardInterrupt after `batch` batches of epoch `epoch` (0-based).

    Keeps the weights at the end of every finished epoch and its val accuracy.
    """

    def __init__(self, epoch: int, batch: int = 1):
        super().__init__()
        self.epoch, self.batch = epoch, batch
        self.current = 0
        self.epoch_weights: list = []
        self.val_accuracy: list = []

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_weights.append(self.model.get_weights())
        self.val_accuracy.append(float(logs["val_accuracy"]))

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch + 1 >= self.batch:
            raise KeyboardInterrupt


def test_interrupt_keeps_best_weights_history_and_logs_the_run(trained, capsys):
    model, base_model, train_ds, val_ds, start = trained
    log = training.RunLog("interrupted")
    stopper = InterruptIn(epoch=2, batch=1)
    result = training.fine_tune(model, base_model, train_ds, val_ds,
                                n_unfrozen=3, lr=1e-3, epochs=5,
                                start_weights=start, run_log=log,
                                live_plot=False, callbacks=[stopper])

    assert result.interrupted and result.epochs_done == 2
    assert len(result.history["loss"]) == len(result.history["val_loss"]) == 2
    # The best finished epoch's weights are back, not those of the half epoch.
    best = int(np.argmax(stopper.val_accuracy))
    assert all(np.array_equal(a, b) for a, b in
               zip(model.get_weights(), stopper.epoch_weights[best]))
    assert result.best_val_accuracy == pytest.approx(max(stopper.val_accuracy))

    row = training.RunLog("interrupted").rows[0]
    assert row["status"] == "interrupted"
    assert row["epochs"] == 5 and row["epochs_done"] == 2
    assert row["best_val_accuracy"] == pytest.approx(result.best_val_accuracy)
    printed = capsys.readouterr().out
    assert "Interrupted after 2 of 5 epoch(s)" in printed
    # fine_tune restores start_weights first: the cell repeats, not continues.
    assert "starts over from start_weights" in printed
    assert "training goes on from these weights" not in printed


def test_an_interrupted_plain_fit_says_the_cell_goes_on(trained, capsys):
    model, base_model, train_ds, val_ds, start = trained
    model.set_weights(start)
    training.compile_for_training(model, 1e-3)
    result = training.fit(model, train_ds, val_ds, epochs=3, live_plot=False,
                          callbacks=[InterruptIn(epoch=1, batch=1)])
    assert result.interrupted and result.epochs_done == 1
    assert "training goes on from these weights" in capsys.readouterr().out


def test_interrupt_in_the_first_epoch_leaves_the_start_weights(trained, capsys):
    model, base_model, train_ds, val_ds, start = trained
    log = training.RunLog("first_epoch")
    result = training.fine_tune(model, base_model, train_ds, val_ds,
                                n_unfrozen=3, lr=1e-2, epochs=3,
                                start_weights=start, run_log=log,
                                live_plot=False,
                                callbacks=[InterruptIn(epoch=0, batch=1)])
    assert result.interrupted and result.epochs_done == 0
    assert result.best_val_accuracy is None
    row = training.RunLog("first_epoch").rows[0]
    assert (row["status"], row["epochs_done"]) == ("interrupted", 0)
    assert "before any epoch finished" in capsys.readouterr().out
    # No epoch finished, so no best weights: the weights of before the run
    # come back rather than those of a half-trained batch.
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), start))


def test_run_log_survives_a_process_that_dies_mid_run(tlh_home):
    log = training.RunLog("survivor")
    log.add(strategy="fine-tuning", n_unfrozen=4, lr=1e-5, epochs=2,
            status="done", best_val_accuracy=0.61, seconds=12.0)
    # Another process (a kernel) reads the log, starts a run, logs one epoch,
    # then dies without any clean-up.
    child = textwrap.dedent("""
        import os
        from tlhelpers.training.runlog import RunLog
        log = RunLog("survivor")
        assert len(log) == 1, log.rows
        run = log.add(strategy="fine-tuning", n_unfrozen=8, lr=1e-4, epochs=3)
        log.update(run, epochs_done=1, best_val_accuracy=0.55, seconds=4.0)
        os._exit(3)
    """)
    env = dict(os.environ, TLH_HOME=str(tlh_home), PYTHONPATH=str(PROJECT_ROOT))
    done = subprocess.run([sys.executable, "-c", child], env=env, timeout=120,
                          capture_output=True, text=True)
    assert done.returncode == 3, done.stderr

    reloaded = training.RunLog("survivor")
    assert [r["run"] for r in reloaded.rows] == [1, 2]
    second = reloaded.rows[1]
    # Its process is gone: the row says so instead of `running` forever.
    assert (second["status"], second["epochs_done"]) == ("killed", 1)
    assert second["best_val_accuracy"] == pytest.approx(0.55)
    # No temporary files are left next to the log (the lock file stays: it is
    # what writers of the log lock, and removing it would race with them).
    assert sorted(p.name for p in log.path.parent.iterdir()) == [
        "survivor.json", "survivor.json.lock"]
    assert json.loads(log.path.read_text())[0]["best_val_accuracy"] == 0.61


def test_a_broken_run_log_is_kept_aside_not_overwritten(tlh_home):
    log = training.RunLog("broken")
    log.add(strategy="fine-tuning", lr=1e-5)
    log.path.write_text('[{"run": 1, "lr": 1e-5')  # cut off mid-write
    with pytest.warns(UserWarning, match="unreadable"):
        fresh = training.RunLog("broken")
    assert len(fresh) == 0
    backup = log.path.with_suffix(".broken.json")
    assert backup.read_text().startswith('[{"run": 1')


def test_a_run_that_fails_is_logged_as_failed(trained):
    model, base_model, train_ds, val_ds, start = trained

    class Boom(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise RuntimeError("disk full")

    log = training.RunLog("failing")
    with pytest.raises(RuntimeError, match="disk full"):
        training.fine_tune(model, base_model, train_ds, val_ds, n_unfrozen=3,
                           lr=1e-3, epochs=2, start_weights=start, run_log=log,
                           live_plot=False, callbacks=[Boom()])
    assert training.RunLog("failing").rows[0]["status"] == "failed"
