"""The fine-tuning panel: layers to unfreeze, learning rate, epochs, Train, run log.

Taught in `03_fine_tuning.ipynb`. The panel wraps the plain functions the
notebook also calls directly: `tlhelpers.training.fine_tune` (Train) and
`tlhelpers.training.lr_range_test` (Find a learning rate). Every run starts
from the same head-trained weights, random states and seed, on a training set
built anew (pass `train_ds` as a function that builds it, or a dataset with
`tlh_rebuild`), so runs in the log see the same batches and are comparable.

CSS classes (the browser test relies on them): `tlh-fine-tuning-panel`,
`tlh-unfreeze`, `tlh-layer-table`, `tlh-lr`, `tlh-epochs`, `tlh-train`,
`tlh-plot`, `tlh-runlog`, `tlh-lr-find`, `tlh-lr-use`.
"""

from __future__ import annotations

import html
import math

import ipywidgets as widgets
import keras

from .. import config
from ..models import (
    check_n_unfrozen,
    layer_blocks,
    layer_table,
    set_trainable,
    unfreeze_choices,
    unfrozen_flags,
)
from ..training import LivePlot, RunLog, fine_tune, lr_range_test
from ..training.recipes import check_epochs, fresh_dataset, random_states, set_random_states
from .common import WIDE, has_image, lr_slider, message, scroll_box, show_figure

MAX_EPOCHS = 20
RERUN_NOTE = ("Train starts a new run from the head-trained weights; it does not "
              "go on from these.")
RUN_LOG_NAME = "03_fine_tuning"
# run-log column -> header shown in the panel
RUNLOG_COLUMNS = {"run": "run", "n_unfrozen": "N unfrozen", "lr": "rate",
                  "epochs": "epochs", "epochs_done": "done",
                  "best_val_accuracy": "best val accuracy", "seconds": "seconds",
                  "status": "status"}

__all__ = ["FineTuningPanel", "LRFinderPanel", "fine_tuning_panel",
           "lr_finder_panel", "unfreeze_label", "layer_table_html", "runlog_html"]


def unfreeze_label(base_model, n_unfrozen: int) -> str:
    """What the top N layers reach, e.g. '4: down to block5 (3 conv + pool)'.

    Taught in `03_fine_tuning.ipynb`. Block boundaries use the labels of
    `tlhelpers.models.unfreeze_choices`; other values name the partial block.
    """
    n_unfrozen = check_n_unfrozen(base_model, n_unfrozen)
    for label, n in unfreeze_choices(base_model):
        if n == n_unfrozen:
            return label
    left = n_unfrozen
    full = []
    for block, layers in reversed(layer_blocks(base_model)):
        if left >= len(layers):
            full.append(block)
            left -= len(layers)
            continue
        names = ", ".join(layer.name for layer in layers[-left:])
        above = f"down to {full[-1]}, plus " if full else ""
        return (f"{n_unfrozen}: {above}part of {block} ({names}); "
                "not a block boundary")
    return f"{n_unfrozen} layers"


def _head_params(model, base_model) -> int:
    """Parameters of the model outside the base: the new head (always trained)."""
    base_ids = {id(v) for v in base_model.weights}
    total = 0
    for v in model.weights:
        if id(v) not in base_ids:
            total += math.prod(int(d) for d in v.shape)
    return total


def layer_table_html(base_model, n_unfrozen: int, head_params: int = 0) -> str:
    """The per-layer preview for N unfrozen layers as HTML; the model is not changed.

    Taught in `03_fine_tuning.ipynb`. Its text holds "trainable parameters: N"
    for the base and the head's count on the next line.
    """
    table = layer_table(base_model, unfrozen_flags(base_model, n_unfrozen))
    rows = []
    # Top layer first: the rows that change with the slider stay in view.
    for row in reversed(list(table.frame.itertuples(index=False))):
        style = ' style="background:#e8f5e9"' if row.trainable else ""
        if not row.params:
            mark = "no weights"
        else:
            mark = "trains" if row.trainable else "frozen"
        rows.append(f"<tr{style}><td>{row.index}</td><td>{html.escape(row.name)}"
                    f"</td><td>{html.escape(row.type)}</td><td>{row.params:,}</td>"
                    f"<td>{mark}</td></tr>")
    header = ("<thead><tr><th>#</th><th>layer (top first)</th><th>type</th>"
              "<th>parameters</th><th>in fine-tuning</th></tr></thead>")
    grid = (f'<table class="tlh-layer-grid" style="font-size:12px">{header}'
            f"<tbody>{''.join(rows)}</tbody></table>")
    totals = (f"<p><b>{html.escape(table.totals())}</b> (in the base)<br>"
              f"the head adds {head_params:,} trainable parameters</p>")
    return scroll_box(grid, max_height=260) + totals


def runlog_html(run_log: RunLog) -> str:
    """The run log as an HTML table, one `<tr>` per run in `<tbody>`."""
    if not run_log.rows:
        return (f"<p><i>No runs yet in {html.escape(run_log.path.name)}: press "
                "Train.</i></p>")
    frame = run_log.frame()[list(RUNLOG_COLUMNS)].rename(columns=RUNLOG_COLUMNS)

    def fmt(pattern):
        def apply(value):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                return ""
            try:
                return pattern.format(value)
            except (TypeError, ValueError):
                return str(value)
        return apply

    formatters = {"rate": fmt("{:.1e}"), "best val accuracy": fmt("{:.3f}"),
                  "seconds": fmt("{:.1f}"), "epochs": fmt("{:.0f}"),
                  "done": fmt("{:.0f}"), "N unfrozen": fmt("{:.0f}"),
                  "run": fmt("{:.0f}")}
    table = frame.to_html(index=False, classes="tlh-runlog-table", na_rep="",
                          formatters=formatters, border=0)
    return scroll_box(table, max_height=240)


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed={seed!r} is not valid; expected an integer")
    return seed


def _n_value(n_unfrozen) -> int:
    return int(n_unfrozen.value) if hasattr(n_unfrozen, "value") else n_unfrozen


class LRFinderPanel(widgets.VBox):
    """'Find a learning rate' and 'Use suggestion' buttons, the loss-vs-rate plot.

    Taught in `03_fine_tuning.ipynb`. Runs `lr_range_test` for the chosen
    number of unfrozen layers, from `start_weights` when given; the model's
    weights are the same afterwards, its trainable flags are those of N.
    """

    def __init__(self, model, base_model, train_ds, n_unfrozen, lr_slider,
                 start_weights=None, num_steps: int = 15, seed: int = 42):
        super().__init__()
        check_n_unfrozen(base_model, _n_value(n_unfrozen))
        if not isinstance(lr_slider, widgets.FloatLogSlider):
            raise ValueError(f"lr_slider={type(lr_slider).__name__} is not valid; "
                             "expected an ipywidgets.FloatLogSlider")
        if isinstance(num_steps, bool) or not isinstance(num_steps, int) \
                or num_steps < 5:
            raise ValueError(f"num_steps={num_steps!r} is not valid; expected an "
                             "integer >= 5")
        self.model, self.base_model, self.train_ds = model, base_model, train_ds
        self.n_unfrozen, self.lr_slider = n_unfrozen, lr_slider
        self.start_weights, self.num_steps = start_weights, num_steps
        self.seed = _check_seed(seed)
        self.result = None
        self.also_disable: list = []  # the fine-tuning panel's controls
        self.find_button = widgets.Button(
            description="Find a learning rate", icon="search",
            tooltip="Range test: raise the rate batch by batch, record the loss",
            layout=widgets.Layout(width="190px"))
        self.use_button = widgets.Button(
            description="Use suggestion", disabled=True, icon="arrow-up",
            tooltip="Copy the suggested rate into the learning-rate slider",
            layout=widgets.Layout(width="220px"))
        self.find_button.add_class("tlh-lr-find")
        self.use_button.add_class("tlh-lr-use")
        self.plot = widgets.Output()
        self.plot.add_class("tlh-lr-plot")
        self.message = widgets.HTML()
        self.find_button.on_click(self.find)
        self.use_button.on_click(self.use)
        self.children = [widgets.HBox([self.find_button, self.use_button]),
                         self.message, self.plot]
        self.add_class("tlh-lr-finder")

    def find(self, _button=None):
        """Run the range test and show loss against rate with the suggestion."""
        controls = [self.find_button, self.use_button, *self.also_disable]
        previous = [c.disabled for c in controls]
        for control in controls:
            control.disabled = True
        n = _n_value(self.n_unfrozen)
        self.message.value = message(
            f"Range test with the top {n} layers unfrozen: {self.num_steps} "
            "batches ...")
        try:
            if self.start_weights is not None:
                self.model.set_weights(self.start_weights)
            set_trainable(self.base_model, n)
            low = self.lr_slider.base ** self.lr_slider.min
            high = self.lr_slider.base ** self.lr_slider.max
            keras.utils.set_random_seed(self.seed)
            self.result = lr_range_test(self.model, fresh_dataset(self.train_ds),
                                        min_lr=low, max_lr=high,
                                        num_steps=self.num_steps)
            show_figure(self.plot, self.result.figure(
                title=f"Range test, top {n} layers unfrozen"))
            suggestion = self.result.suggestion
            self.use_button.description = f"Use suggestion ({suggestion:.1e})"
            self.message.value = message(
                f"Suggested rate: {suggestion:.1e}, a tenth of the rate where "
                f"the loss starts to climb ({self.result.edge:.1e}). Click 'Use "
                "suggestion' to copy it into the slider.", "ok")
        except Exception as err:  # shown to the learner instead of a traceback
            self.message.value = message(
                f"The range test failed: {type(err).__name__}: {err}", "error")
        finally:
            for control, was in zip(controls, previous):
                control.disabled = was
            self.use_button.disabled = self.result is None
        return self.result

    def use(self, _button=None):
        """Copy the suggested rate into the learning-rate slider."""
        if self.result is None:
            self.message.value = message("Run 'Find a learning rate' first.",
                                         "warning")
            return
        self.lr_slider.value = self.result.suggestion
        self.message.value = message(
            f"Learning rate set to {self.lr_slider.value:.1e}.", "ok")


def lr_finder_panel(model, base_model, train_ds, n_unfrozen, lr_slider,
                    start_weights=None, num_steps: int = 15,
                    seed: int = 42) -> LRFinderPanel:
    """A 'Find a learning rate' box that fills `lr_slider` with one click.

    Taught in `03_fine_tuning.ipynb`. `n_unfrozen`: an int or a widget with
    `.value` (the panel's unfreeze slider). Wraps `lr_range_test`.
    """
    return LRFinderPanel(model, base_model, train_ds, n_unfrozen, lr_slider,
                         start_weights=start_weights, num_steps=num_steps,
                         seed=seed)


class FineTuningPanel(widgets.VBox):
    """Sliders for N, rate and epochs, a Train button, live curves, the run log.

    Taught in `03_fine_tuning.ipynb`. Reach the parts as attributes:
    `unfreeze`, `unfreeze_label`, `layer_table`, `lr`, `epochs`,
    `train_button`, `status`, `plot`, `runlog` (the HTML table), `run_log`
    (the `RunLog`), `lr_finder`, `lr_find_button`, `lr_use_button`.
    """

    def __init__(self, model, base_model, train_ds, val_ds, start_weights=None,
                 run_log: RunLog | str | None = None, default_n: int = 4,
                 default_lr: float = 1e-5, default_epochs: int | None = None,
                 lr_steps: int = 15, seed: int = 42):
        super().__init__()
        n_layers = len(base_model.layers)
        default_n = check_n_unfrozen(base_model, default_n)
        if default_epochs is None:
            default_epochs = config.get_profile().fine_tune_epochs
        default_epochs = check_epochs(default_epochs)
        if default_epochs > MAX_EPOCHS:
            raise ValueError(f"default_epochs={default_epochs} is not valid; "
                             f"expected an integer in 1..{MAX_EPOCHS}")
        if run_log is None or isinstance(run_log, str):
            run_log = RunLog(run_log or RUN_LOG_NAME)
        self.model, self.base_model = model, base_model
        self.train_ds, self.val_ds = train_ds, val_ds
        # A copy taken now when none is given: every run restarts from it.
        self.start_weights = (model.get_weights() if start_weights is None
                              else start_weights)
        # Dropout and augmentation states too: get_weights leaves them out.
        self.start_states = random_states(model)
        self.seed = _check_seed(seed)
        self.run_log = run_log
        self.last_result = None
        self._busy = False
        self._head_params = _head_params(model, base_model)

        self.unfreeze = widgets.IntSlider(
            value=default_n, min=0, max=n_layers, step=1,
            description="Layers to unfreeze", style=WIDE,
            layout=widgets.Layout(width="460px"))
        self.unfreeze_label = widgets.HTML()
        self.layer_table = widgets.HTML()
        self.lr = lr_slider(default_lr)
        self.epochs = widgets.IntSlider(
            value=default_epochs, min=1, max=MAX_EPOCHS, step=1,
            description="Epochs", style=WIDE, layout=widgets.Layout(width="460px"))
        self.train_button = widgets.Button(
            description="Train", button_style="primary", icon="play",
            tooltip="Fine-tune from the head-trained weights with these settings")
        self.status = widgets.HTML()
        self.plot = widgets.Output()
        self.runlog = widgets.HTML()
        self.lr_finder = LRFinderPanel(model, base_model, train_ds, self.unfreeze,
                                       self.lr, start_weights=self.start_weights,
                                       num_steps=lr_steps, seed=self.seed)
        self.lr_find_button = self.lr_finder.find_button
        self.lr_use_button = self.lr_finder.use_button
        self.lr_finder.also_disable = [self.train_button, self.unfreeze,
                                       self.lr, self.epochs]

        for widget, name in [(self.unfreeze, "unfreeze"),
                             (self.unfreeze_label, "unfreeze-label"),
                             (self.layer_table, "layer-table"), (self.lr, "lr"),
                             (self.epochs, "epochs"),
                             (self.train_button, "train"),
                             (self.status, "status"), (self.plot, "plot"),
                             (self.runlog, "runlog")]:
            widget.add_class(f"tlh-{name}")
        self.add_class("tlh-fine-tuning-panel")

        self.unfreeze.observe(self._preview, names="value")
        self.train_button.on_click(self.train)
        self._preview()
        self.refresh_runlog()
        boundaries = ", ".join(str(n) for _, n in unfreeze_choices(base_model))
        title = widgets.HTML(
            "<b>Fine-tuning</b>: every run starts from the head-trained weights. "
            f"Block boundaries of {html.escape(base_model.name)}: {boundaries}.")
        self.children = [
            title,
            widgets.HBox([self.unfreeze, self.unfreeze_label]),
            self.layer_table,
            self.lr,
            self.lr_finder,
            self.epochs,
            self.train_button,
            self.status,
            self.plot,
            widgets.HTML("<b>Run log</b> (saved after every epoch)"),
            self.runlog,
        ]

    def _preview(self, change=None):
        n = int(self.unfreeze.value)
        self.unfreeze_label.value = html.escape(unfreeze_label(self.base_model, n))
        self.layer_table.value = layer_table_html(self.base_model, n,
                                                  self._head_params)

    def refresh_runlog(self):
        """Redraw the run-log table from the `RunLog`."""
        self.runlog.value = runlog_html(self.run_log)

    def train(self, _button=None):
        """Fine-tune with the sliders' values from the start weights; log the run."""
        if self._busy:
            return self.last_result
        self._busy = True
        controls = [self.train_button, self.unfreeze, self.lr, self.epochs,
                    self.lr_find_button]
        for control in controls:
            control.disabled = True
        n, lr, epochs = int(self.unfreeze.value), float(self.lr.value), \
            int(self.epochs.value)
        self.status.value = message(
            f"Training: top {n} layers unfrozen, rate {lr:.1e}, {epochs} "
            "epoch(s); the curves update after every epoch ...")
        try:
            plot = LivePlot(output=self.plot,
                            title=f"N={n}, lr={lr:.1e}")
            set_random_states(self.model, self.start_states)
            result = fine_tune(self.model, self.base_model, self.train_ds,
                               self.val_ds, n_unfrozen=n, lr=lr, epochs=epochs,
                               start_weights=self.start_weights,
                               run_log=self.run_log, live_plot=plot,
                               seed=self.seed, rerun_note=RERUN_NOTE)
            self.last_result = result
            best = ("n/a" if result.best_val_accuracy is None
                    else f"{result.best_val_accuracy:.3f}")
            if result.interrupted:
                self.status.value = message(
                    f"Run {result.run} interrupted after {result.epochs_done} "
                    f"epoch(s); the best weights so far are in the model (best "
                    f"validation accuracy {best}). {RERUN_NOTE}", "warning")
            else:
                self.status.value = message(
                    f"Run {result.run} done: best validation accuracy {best} "
                    f"in {result.seconds:.1f} s.", "ok")
        except Exception as err:  # shown to the learner instead of a traceback
            self.status.value = message(
                f"Training failed: {type(err).__name__}: {err}", "error")
        finally:
            self.refresh_runlog()
            for control in controls:
                control.disabled = False
            self.lr_use_button.disabled = self.lr_finder.result is None
            self._busy = False
        return self.last_result

    @property
    def has_plot(self) -> bool:
        """True once the live plot shows a figure."""
        return has_image(self.plot)


def fine_tuning_panel(model, base_model, train_ds, val_ds, start_weights=None,
                      run_log: RunLog | str | None = None, default_n: int = 4,
                      default_lr: float = 1e-5, default_epochs: int | None = None,
                      lr_steps: int = 15, seed: int = 42) -> FineTuningPanel:
    """The fine-tuning panel; taught in `03_fine_tuning.ipynb`.

    start_weights: the head-trained weights every run starts from (default:
    the model's weights now). run_log: a `RunLog` or its name (default
    "03_fine_tuning"); its rows show at once, so a reopened notebook shows
    earlier runs. default_epochs: default the profile's `fine_tune_epochs`.
    train_ds: a dataset, or a function that builds it (then every run sees
    the same batch order). seed: reseeds every run and the range test.
    """
    return FineTuningPanel(model, base_model, train_ds, val_ds,
                           start_weights=start_weights, run_log=run_log,
                           default_n=default_n, default_lr=default_lr,
                           default_epochs=default_epochs, lr_steps=lr_steps,
                           seed=seed)
