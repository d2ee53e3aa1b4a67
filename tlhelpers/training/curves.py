"""Training curves: loss and accuracy per epoch, and one metric across runs.

Lives with training because the live-plot callback draws them; `tlhelpers.viz`
re-exports them. Taught in `01_train_from_scratch.ipynb` (overfitting shows as
the gap between the train and validation curves) and `03_fine_tuning.ipynb`
(the two phases). Accuracy runs from 0% to 100% with chance marked, the
convention of every plot (`tlhelpers.figures.accuracy_axis`).
"""

from __future__ import annotations

import math

from matplotlib.ticker import MaxNLocator, PercentFormatter

from ..figures import (  # noqa: F401
    accuracy_axis,
    colour,
    figure_legend,
    figure_png,
    loss_axis,
    new_figure,
    png_output,
)

ACCURACY_KEYS = ("accuracy", "acc", "sparse_categorical_accuracy",
                 "categorical_accuracy")


def history_dict(history) -> dict[str, list[float]]:
    """metric -> values per epoch, from a Keras History or a dict of lists."""
    values = getattr(history, "history", history)
    if not isinstance(values, dict):
        raise ValueError(f"history={type(history).__name__} is not valid; expected "
                         "a keras History or a dict of lists")
    out = {}
    for key, series in values.items():
        try:
            out[str(key)] = [float(v) for v in series]
        except TypeError:
            raise ValueError(f"history[{key!r}] is not a list of numbers") from None
    return out


def join_phases(histories) -> tuple[dict[str, list[float]], list[int]]:
    """Several phases (e.g. head training, then fine-tuning) as one history.

    Returns the joined dict and the epoch at which each later phase starts.
    A metric missing from a phase is padded with NaN so the epochs stay aligned.
    """
    dicts = [history_dict(h) for h in histories]
    if not dicts:
        raise ValueError("histories is empty; expected at least one history")
    keys = []
    for d in dicts:
        keys += [k for k in d if k not in keys]
    joined = {k: [] for k in keys}
    starts = []
    for i, d in enumerate(dicts):
        length = max((len(v) for v in d.values()), default=0)
        if i:
            done = max((len(v) for v in joined.values()), default=0)
            starts.append(done + 1)
        for key in keys:
            series = d.get(key, [])
            joined[key] += series + [math.nan] * (length - len(series))
    return joined, starts


def accuracy_key(values: dict) -> str | None:
    """The name the accuracy metric was logged under, or None."""
    for key in ACCURACY_KEYS:
        if key in values:
            return key
    return None


def is_accuracy(metric: str) -> bool:
    """Whether a logged metric (e.g. `val_accuracy`) is an accuracy."""
    return metric.removeprefix("val_") in ACCURACY_KEYS


def chance_of(source) -> float | None:
    """1 / classes of a model, of a Keras History's model, or of a callback's.

    None when there is no model to ask (a dict of lists). One sigmoid output
    counts as two classes.
    """
    model = source if hasattr(source, "output_shape") else getattr(
        source, "model", None)
    try:
        n_outputs = int(model.output_shape[-1])
    except (AttributeError, TypeError, ValueError, IndexError):
        return None
    return 1 / max(n_outputs, 2)


def _first_chance(histories) -> float | None:
    return next((c for c in map(chance_of, histories) if c is not None), None)


def _plot_pair(ax, values: dict, key: str) -> None:
    epochs = range(1, len(values[key]) + 1)
    ax.plot(epochs, values[key], "o-", color=colour(0), label="train")
    if f"val_{key}" in values:
        ax.plot(epochs, values[f"val_{key}"], "s--", color=colour(1),
                label="validation")
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    if len(values[key]) <= 20:
        ax.set_xticks(list(epochs))


def _mark_phases(ax, starts: list[int], names: list[str], epochs: int) -> None:
    """A dotted line between phases; their names above the axes, clear of the lines."""
    edges = [0.5] + [start - 0.5 for start in starts] + [epochs + 0.5]
    for edge in edges[1:-1]:
        ax.axvline(edge, color="grey", linestyle=":", linewidth=1.5)
    labels = [names[i] if i < len(names) else f"phase {i + 1}"
              for i in range(len(edges) - 1)]
    top = ax.secondary_xaxis("top")
    top.set_xticks([(a + b) / 2 for a, b in zip(edges, edges[1:])], labels)
    top.tick_params(length=0, labelsize=8, labelcolor="dimgrey")


def plot_history(history, title: str = "Training history",
                 phase_names: list[str] | None = None,
                 chance: float | None = None):
    """Loss and accuracy per epoch, train and validation, in two panels.

    Taught in `01_train_from_scratch.ipynb`. `history`: a Keras History, a dict of
    lists, or a list of them (phases, e.g. head training then fine-tuning; a
    dotted line divides them, `phase_names` label them). `chance`: 1 / classes
    for a dotted line (read from a Keras History's model when not given).
    Returns the Figure.
    """
    if isinstance(history, (list, tuple)):
        phases = list(history)
        values, starts = join_phases(phases)
    else:
        phases = [history]
        values, starts = history_dict(history), []
    if "loss" not in values:
        found = ", ".join(values) or "nothing"
        raise ValueError(f"history has no 'loss'; found: {found}")
    if chance is None:
        chance = _first_chance(phases)
    acc = accuracy_key(values)
    panels = [("loss", "loss")] + ([(acc, "accuracy")] if acc else [])
    fig, axes = new_figure(1, len(panels), width=5.0 * len(panels), height=3.8)
    for ax, (key, label) in zip(axes.flat, panels):
        _plot_pair(ax, values, key)
        ax.set_ylabel(label)
        if key == "loss":
            loss_axis(ax, values[key], values.get(f"val_{key}", []))
        else:
            accuracy_axis(ax, chance)
        if starts:
            _mark_phases(ax, starts, list(phase_names or []),
                         len(values[key]))
        ax.set_title(label)
    figure_legend(fig, axes.flat)
    fig.suptitle(title)
    return fig


def compare_histories(histories: dict, metric: str = "val_accuracy",
                      title: str | None = None, chance: float | None = None):
    """One metric per epoch for several runs, one line each.

    Taught in `04_choosing_a_strategy.ipynb`. `histories`: run label -> Keras
    History or dict of lists. `chance`: 1 / classes, drawn on an accuracy axis
    (read from a Keras History's model when not given); another metric named
    "...accuracy..." (e.g. a gap) is shown in percentage points. Returns the
    Figure.
    """
    if not isinstance(histories, dict) or not histories:
        raise ValueError("histories must be a non-empty dict: run label -> history")
    fig, axes = new_figure(1, 1, width=6.5, height=4.0)
    ax = axes[0, 0]
    longest = 0
    drawn, phases = [], []
    for i, (label, history) in enumerate(histories.items()):
        run = list(history) if isinstance(history, (list, tuple)) else [history]
        phases += run
        values, _ = join_phases(run)
        if metric not in values:
            raise ValueError(f"metric={metric!r} is not in the history of "
                             f"{label!r}; found: {', '.join(values)}")
        series = values[metric]
        drawn.append(series)
        longest = max(longest, len(series))
        ax.plot(range(1, len(series) + 1), series, "o-", color=colour(i),
                label=str(label), markersize=4)
    if is_accuracy(metric):
        accuracy_axis(ax, _first_chance(phases) if chance is None else chance)
    elif "accuracy" in metric:
        # A difference of accuracies (train minus validation): percentage
        # points around a marked zero, not a 0-100% axis.
        ax.yaxis.set_major_locator(MaxNLocator(steps=[1, 2, 5, 10]))
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
        ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric.replace("_", " "))
    if "loss" in metric:
        loss_axis(ax, *drawn)
    if longest <= 20:
        ax.set_xticks(range(1, longest + 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or f"{metric.replace('_', ' ')} by run")
    return fig


# Lines that may lie on top of each other stay apart by marker and style.
MARKERS = ("o", "s", "^", "D", "v", "P")
LINESTYLES = ("-", "--", "-.", ":")


def plot_from_start(start: float, runs: dict, metric: str = "val_accuracy",
                    start_label: str = "head phase", title: str | None = None,
                    chance: float | None = None, zoom: float = 0.2):
    """Runs that go on from one trained model, each line from epoch 0 at `start`.

    Taught in `03_fine_tuning.ipynb`: every fine-tuning run starts from the
    head phase, so each line is drawn from the head phase's value (epoch 0)
    through its own epochs, and a fall shows as a fall. `runs`: label ->
    Keras History or dict of lists; `metric`: an accuracy. The left panel
    shows the whole 0-100% range; the right one each run minus `start`, in
    points, close up, so runs that overlap on the left come apart. A run that
    leaves `zoom` (a fraction: 0.2 is 20 points) is named there, not drawn.
    `chance`: 1 / classes. Returns the Figure.
    """
    if not isinstance(runs, dict) or not runs:
        raise ValueError("runs must be a non-empty dict: run label -> history")
    if not is_accuracy(metric):
        raise ValueError(f"metric={metric!r} is not an accuracy; expected e.g. "
                         "'val_accuracy'")
    start = float(start)
    fig, axes = new_figure(1, 2, width=11.0, height=4.0)
    whole, close = axes[0]
    off_scale = []
    longest, reach = 0, 5.0  # at least +-5 points around the start
    for i, (label, history) in enumerate(runs.items()):
        values = history_dict(history)
        if metric not in values:
            raise ValueError(f"metric={metric!r} is not in the history of "
                             f"{label!r}; found: {', '.join(values)}")
        series = [start] + values[metric]
        epochs = range(len(series))
        longest = max(longest, len(series) - 1)
        style = dict(color=colour(i + 1), marker=MARKERS[i % len(MARKERS)],
                     linestyle=LINESTYLES[i % len(LINESTYLES)], markersize=6,
                     markerfacecolor="none" if i % 2 else colour(i + 1))
        whole.plot(epochs, series, label=str(label), **style)
        gain = [100 * (v - start) for v in series]
        if max(abs(g) for g in gain) <= 100 * zoom:
            close.plot(epochs, gain, **style)
            reach = max(reach, 1.25 * max(abs(g) for g in gain))
        else:
            worst = min(gain[1:], key=lambda g: -abs(g))
            off_scale.append(f"{label}: {worst:+.0f} points, off this scale")
    for ax in (whole, close):
        ax.plot([0], [start if ax is whole else 0.0], "o", color="black",
                markersize=8, zorder=5,
                label=f"{start_label} ({start:.1%})" if ax is whole else None)
        ax.set_xlabel(f"fine-tuning epoch (0: {start_label})")
        ax.set_xticks(range(longest + 1))
        ax.grid(alpha=0.3)
    name = metric.replace("_", " ").replace("val ", "validation ")
    accuracy_axis(whole, chance)
    whole.set_ylabel(name)
    whole.set_title(f"{name}, from the {start_label}")
    close.axhline(0, color="black", linewidth=0.8)
    close.set_ylim(-reach, reach)
    close.set_ylabel("points")
    close.set_title(f"minus the {start_label}, close up (points)")
    if off_scale:
        close.text(0.02, 0.03, "\n".join(off_scale), transform=close.transAxes,
                   fontsize=8, color="dimgrey", va="bottom")
    figure_legend(fig, [whole])
    fig.suptitle(title or f"{name}: runs from the {start_label}")
    return fig
