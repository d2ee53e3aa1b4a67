"""The head widget: retrain the classifier head on stored features in seconds.

Taught in `02_feature_extraction.ipynb`. It wraps
`tlhelpers.training.retrain_head`, which the notebook also calls directly, so
the real work runs without clicks under nbval and in the unit tests.
"""

from __future__ import annotations

import html
import time

import ipywidgets as widgets
import numpy as np

from .. import config
from ..training import LivePlot
from ..training.curves import chance_of, plot_history, png_output
from ..training.head import HeadResult, as_arrays, retrain_head

DROPOUT_RANGE = (0.0, 0.8)
EPOCH_RANGE = (1, 50)
REDRAW_SECONDS = 0.5  # a head epoch takes a fraction of this: do not redraw each


class _CurvesInto(LivePlot):
    """Live curves drawn as a PNG into the panel's Output, at most every half second."""

    def __init__(self, panel: HeadPanel, title: str):
        super().__init__(output=None, title=title)
        self.panel = panel
        self._drawn = 0.0

    def redraw(self, force: bool = False):
        now = time.perf_counter()
        if not force and now - self._drawn < REDRAW_SECONDS:
            return
        self._drawn = now
        self.figure = plot_history(self.history, title=self.title,
                                   chance=chance_of(self))
        self.panel.show_figure(self.figure)

    def on_train_end(self, logs=None):
        if self.history:
            self.redraw(force=True)


class HeadPanel(widgets.VBox):
    """Head type, dropout, epochs, a "Retrain head" button, curves, a results table."""

    def __init__(self, train_features, val_features, n_classes: int,
                 epochs: int | None = None, lr: float = 1e-3, seed: int = 42):
        self.train_features = as_arrays(train_features, "train_features")
        self.val_features = as_arrays(val_features, "val_features")
        self.n_classes = n_classes
        self.lr = lr
        self.seed = seed
        self.results: list[HeadResult] = []
        self.figure = None
        if epochs is None:
            epochs = config.get_profile().head_epochs
        epochs = int(min(max(epochs, EPOCH_RANGE[0]), EPOCH_RANGE[1]))
        self.head = widgets.ToggleButtons(
            options=[("Flatten", "flatten"), ("Global average pooling", "gap")],
            value="gap", description="Head",
            tooltips=["every position and channel feeds the Dense layer",
                      "one average per channel: far fewer weights"])
        self.dropout = widgets.FloatSlider(
            value=0.5, min=DROPOUT_RANGE[0], max=DROPOUT_RANGE[1], step=0.05,
            description="Dropout", readout_format=".2f", continuous_update=False)
        self.epochs = widgets.IntSlider(
            value=epochs, min=EPOCH_RANGE[0], max=EPOCH_RANGE[1],
            description="Epochs", continuous_update=False)
        self.button = widgets.Button(description="Retrain head",
                                     button_style="primary", icon="refresh")
        self.status = widgets.HTML(value=self._shapes_text())
        self.output = widgets.Output(layout=widgets.Layout(min_height="40px"))
        self.output.add_class("tlh-head-curves")
        self.table = widgets.HTML(value="<p><i>No retrains yet.</i></p>")
        self.table.add_class("tlh-head-results")
        self.button.on_click(self._on_click)
        super().__init__([
            widgets.HTML("<b>Retrain the head on the stored features</b>"),
            self.head, self.dropout, self.epochs, self.button, self.status,
            self.output, self.table,
        ])
        self.add_class("tlh-head-panel")

    def _shapes_text(self) -> str:
        x_train, _ = self.train_features
        x_val, _ = self.val_features
        shape = tuple(x_train.shape[1:])
        text = (f"Stored features: {len(x_train)} training and {len(x_val)} "
                f"validation maps of shape {shape}.")
        if len(shape) == 3:
            text += (f" Flatten feeds {int(np.prod(shape)):,} numbers to the Dense "
                     f"layer; global average pooling feeds {shape[-1]:,}.")
        return f"<span>{html.escape(text)}</span>"

    def show_figure(self, fig) -> None:
        """Show a figure in the curves area as a PNG (with or without a kernel)."""
        self.figure = fig
        self.output.outputs = (png_output(fig),)

    def retrain(self) -> HeadResult:
        """Retrain with the current widget values; adds a row to the results table."""
        run = len(self.results) + 1
        title = (f"run {run}: {self.head.value}, dropout {self.dropout.value:.2f}")
        result = retrain_head(
            self.train_features, self.val_features, self.n_classes,
            head=self.head.value, dropout=round(float(self.dropout.value), 2),
            epochs=int(self.epochs.value), lr=self.lr, seed=self.seed,
            live_plot=_CurvesInto(self, title))
        self.results.append(result)
        self.table.value = self.table_html()
        best = result.best_val_accuracy
        self.status.value = html.escape(
            f"Run {run}: {result.head}, dropout {result.dropout:.2f}, "
            f"{result.epochs_done} epoch(s): best validation accuracy "
            f"{best:.3f} in {result.seconds:.1f} s.")
        return result

    def frame(self):
        """The results so far as a pandas DataFrame, one row per retrain."""
        import pandas as pd

        rows = [{"run": i + 1, **r.row()} for i, r in enumerate(self.results)]
        return pd.DataFrame(rows)

    def table_html(self) -> str:
        if not self.results:
            return "<p><i>No retrains yet.</i></p>"
        frame = self.frame()
        best = int(frame["best_val_accuracy"].idxmax())
        styled = frame.style.hide(axis="index").format(
            {"dropout": "{:.2f}", "lr": "{:.0e}", "params": "{:,}",
             "final_train_accuracy": "{:.3f}", "best_val_accuracy": "{:.3f}",
             "seconds": "{:.1f}"}, na_rep="").apply(
            lambda row: ["background:#e8f5e9" if row.name == best else ""] * len(row),
            axis=1)
        return (styled.to_html() + "<p><small>Green: the best validation accuracy "
                "so far. Every run starts from the same seed, so rows differ only "
                "by the settings.</small></p>")

    def _on_click(self, _button) -> None:
        self.button.disabled = True
        self.status.value = "<i>Training the head...</i>"
        try:
            self.retrain()
        except Exception as err:  # shown in the panel: a callback's traceback is hidden
            self.status.value = (f"<span style='color:#c0392b'><b>Error:</b> "
                                 f"{html.escape(str(err))}</span>")
            raise
        finally:
            self.button.disabled = False


def head_panel(train_features, val_features, n_classes: int,
               epochs: int | None = None, lr: float = 1e-3,
               seed: int = 42) -> HeadPanel:
    """The head widget; taught in `02_feature_extraction.ipynb`.

    Head type (Flatten or GAP), dropout, epochs and a "Retrain head" button.

    `train_features`/`val_features`: FeatureSets from `tlhelpers.features.extract`
    or (x, y) pairs. `epochs` defaults to the profile's `head_epochs`.
    """
    return HeadPanel(train_features, val_features, n_classes, epochs, lr, seed)
