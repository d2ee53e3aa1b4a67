"""Training curves: loss and accuracy per epoch, and one metric across runs.

Lives with training because the live-plot callback draws them; `tlhelpers.viz`
re-exports them. Taught in `01_train_from_scratch.ipynb` (overfitting shows as the gap between
the train and validation curves) and `03_fine_tuning.ipynb` (the two phases).
"""

from __future__ import annotations

import math

from ..figures import colour, figure_png, new_figure, png_output  # noqa: F401

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


def _plot_pair(ax, values: dict, key: str, ylabel: str) -> None:
    epochs = range(1, len(values[key]) + 1)
    ax.plot(epochs, values[key], "o-", color=colour(0), label=f"train {ylabel}")
    if f"val_{key}" in values:
        ax.plot(epochs, values[f"val_{key}"], "s--", color=colour(1),
                label=f"validation {ylabel}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if len(values[key]) <= 20:
        ax.set_xticks(list(epochs))


def plot_history(history, title: str = "Training history",
                 phase_names: list[str] | None = None):
    """Loss and accuracy per epoch, train and validation, in two panels.

    Taught in `01_train_from_scratch.ipynb`. `history`: a Keras History, a dict of
    lists, or a list of them (phases, e.g. head training then fine-tuning; a
    dashed line marks where each later phase starts). Returns the Figure.
    """
    if isinstance(history, (list, tuple)):
        values, starts = join_phases(history)
    else:
        values, starts = history_dict(history), []
    if "loss" not in values:
        found = ", ".join(values) or "nothing"
        raise ValueError(f"history has no 'loss'; found: {found}")
    acc = accuracy_key(values)
    panels = [("loss", "loss")] + ([(acc, "accuracy")] if acc else [])
    fig, axes = new_figure(1, len(panels), width=5.0 * len(panels), height=3.6)
    names = list(phase_names or [])
    for ax, (key, label) in zip(axes.flat, panels):
        _plot_pair(ax, values, key, label)
        for i, start in enumerate(starts):
            ax.axvline(start - 0.5, color="grey", linestyle=":", linewidth=1.5)
            name = names[i + 1] if i + 1 < len(names) else f"phase {i + 2}"
            ax.annotate(name, (start - 0.4, 0.98), xycoords=("data", "axes fraction"),
                        fontsize=8, va="top", color="grey")
        ax.set_title(label)
    fig.suptitle(title)
    return fig


def compare_histories(histories: dict, metric: str = "val_accuracy",
                      title: str | None = None):
    """One metric per epoch for several runs, one line each.

    Taught in `04_choosing_a_strategy.ipynb`. `histories`: run label -> Keras
    History or dict of lists. Returns the Figure.
    """
    if not isinstance(histories, dict) or not histories:
        raise ValueError("histories must be a non-empty dict: run label -> history")
    fig, axes = new_figure(1, 1, width=6.5, height=4.0)
    ax = axes[0, 0]
    longest = 0
    for i, (label, history) in enumerate(histories.items()):
        if isinstance(history, (list, tuple)):
            values, _ = join_phases(history)
        else:
            values = history_dict(history)
        if metric not in values:
            raise ValueError(f"metric={metric!r} is not in the history of "
                             f"{label!r}; found: {', '.join(values)}")
        series = values[metric]
        longest = max(longest, len(series))
        ax.plot(range(1, len(series) + 1), series, "o-", color=colour(i),
                label=str(label), markersize=4)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric.replace("_", " "))
    if longest <= 20:
        ax.set_xticks(range(1, longest + 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or f"{metric.replace('_', ' ')} by run")
    return fig
