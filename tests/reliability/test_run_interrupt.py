"""`run` interrupted at chosen moments: what it says, what it reports, and reruns.

Interrupts are driven: `keras.Model.fit` raises KeyboardInterrupt on a chosen
call, as Ctrl-C in that phase's first batch would.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import imagefactory
import keras
import numpy as np
import pytest

from tlhelpers import models
from tlhelpers.cli import main

FAST = ["--profile", "quick", "--image-size", "32", "--epochs", "1",
        "--weights", "random", "--no-flip", "--json"]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TLH_PROFILE", "quick")
    return imagefactory.make_folder(tmp_path / "d", ("red", "blue"), per_class=6,
                                    layout="split", val_per_class=3)


def summary_of(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def interrupt_fit_call(monkeypatch, which: int) -> None:
    """The `which`-th call of `keras.Model.fit` (1-based) is interrupted at once."""
    real, calls = keras.Model.fit, {"n": 0}

    def fit(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == which:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", fit)


def test_an_interrupt_says_what_the_command_does_not_a_cell(folder, capsys,
                                                            monkeypatch):
    interrupt_fit_call(monkeypatch, 1)
    assert main(["run", "feature-extraction", "--data", str(folder), *FAST]) == 130
    out = capsys.readouterr().out
    assert "cell" not in out and "run log" not in out
    assert "Run the same command again" in out


def test_an_interrupt_in_the_first_fine_tuning_epoch_reports_the_head_phase(
        folder, capsys, monkeypatch):
    interrupt_fit_call(monkeypatch, 2)  # the head phase finishes, then Ctrl-C
    status = main(["run", "fine-tuning", "--data", str(folder), *FAST])
    out = capsys.readouterr().out
    assert status == 130
    summary = summary_of(out)
    assert summary["epochs"] == 1  # the head's epoch
    assert summary["val_accuracy"] is not None
    assert 0.0 <= summary["val_accuracy"] <= 1.0
    assert "Run the same command again" in out and "cell" not in out


def test_reruns_start_the_head_from_the_same_weights_whatever_the_cache(
        folder, capsys, monkeypatch):
    starts = []
    real = models.build_head

    def recording(*args, **kwargs):
        head = real(*args, **kwargs)
        starts.append([w.copy() for w in head.get_weights()])
        return head

    monkeypatch.setattr(models, "build_head", recording)
    args = ["run", "feature-extraction", "--data", str(folder), *FAST]
    assert main(args) == 0  # empty cache: both passes run
    store = Path(os.environ["TLH_HOME"]) / "features"
    # A kill after the training photos' pass: their file stays, the
    # validation photos' file is missing.
    for path in store.glob("*.npz"):
        with np.load(path) as data:
            if len(data["labels"]) == 6:
                path.unlink()
    assert main(args) == 0  # half-filled cache: one pass runs
    assert main(args) == 0  # full cache: no pass
    capsys.readouterr()
    assert len(starts) == 3
    for other in starts[1:]:
        for a, b in zip(starts[0], other):
            np.testing.assert_array_equal(a, b)
