"""Keras callbacks for the course: live curves, best weights, run-log updates.

Taught in `01_train_from_scratch.ipynb` (LivePlot) and `03_fine_tuning.ipynb`.
"""

from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
        shell = get_ipython()
        return shell is not None and hasattr(shell, "kernel")
    except ImportError:
        return False


class LivePlot(keras.callbacks.Callback):
    """Redraws loss and accuracy (train and validation) after every epoch.

    Draws into an `ipywidgets.Output` when given one, else into the cell's
    output; outside a notebook it only keeps the history. The last figure
    stays in `.figure`. Chance (1 / classes) comes from the model's output.
    """

    def __init__(self, output=None, title: str = "", metrics=("loss", "accuracy")):
        super().__init__()
        self.output = output
        self.title = title
        self.metrics = tuple(metrics)
        self.history: dict[str, list[float]] = {}
        self.figure = None
        self._handle = None

    def on_train_begin(self, logs=None):
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        self.redraw()

    def redraw(self):
        from ..figures import figure_png, png_output
        from .curves import chance_of, plot_history

        self.figure = plot_history(self.history, title=self.title,
                                   chance=chance_of(self))
        if self.output is not None:
            # Replacing the outputs (not `with output: display(...)`) also works
            # headless and inside a button's callback.
            self.output.outputs = (png_output(self.figure),)
        elif _in_notebook():
            # As a PNG image: a bare Figure has no image formatter until pyplot
            # has been imported.
            from IPython.display import Image, display
            image = Image(data=figure_png(self.figure), format="png")
            if self._handle is None:
                self._handle = display(image, display_id=True)
            else:
                self._handle.update(image)


class BestWeights(keras.callbacks.Callback):
    """Keeps the weights of the best epoch (in memory, and on disk when `path` is set).

    The file is written to a temporary name and renamed, so an interrupt never
    leaves a half-written checkpoint.
    """

    def __init__(self, monitor: str = "val_accuracy", path: str | Path | None = None):
        super().__init__()
        self.monitor = monitor
        self.path = Path(path) if path else None
        self.best = -np.inf
        self.best_epoch = None
        self.weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        score = -value if "loss" in self.monitor else value
        if score > self.best:
            self.best, self.best_epoch = score, epoch
            self.weights = self.model.get_weights()
            if self.path is not None:
                self._save()

    def _save(self):
        from .. import atomic

        with atomic.replacing(self.path, suffix=".weights.h5") as tmp:
            self.model.save_weights(tmp, overwrite=True)

    @property
    def best_value(self):
        if self.best_epoch is None:
            return None
        return -self.best if "loss" in self.monitor else self.best

    def restore(self, model=None) -> bool:
        """Put the best weights back; False when no epoch finished."""
        if self.weights is None:
            return False
        (model or self.model).set_weights(self.weights)
        return True


class RunLogger(keras.callbacks.Callback):
    """Writes epochs done, best validation accuracy and seconds to the run log each epoch."""

    def __init__(self, run_log, run: int):
        super().__init__()
        self.run_log = run_log
        self.run = run
        self.best = None
        self.started = time.perf_counter()
        self.epochs_done = 0

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_done = epoch + 1
        value = (logs or {}).get("val_accuracy")
        if value is not None:
            self.best = float(value) if self.best is None else max(self.best,
                                                                   float(value))
        self.run_log.update(self.run, epochs_done=self.epochs_done,
                            best_val_accuracy=self.best,
                            seconds=round(time.perf_counter() - self.started, 1))
