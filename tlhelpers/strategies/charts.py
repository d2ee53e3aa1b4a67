"""Charts of the strategy comparison and the unfreeze sweep.

Taught in `04_choosing_a_strategy.ipynb` (and `plot_bars` in
`02_feature_extraction.ipynb`); they draw the tables that `run` returns.
"""

from __future__ import annotations

import numpy as np

from ..figures import accuracy_axis, colour, figure_legend, new_figure
from .run import STRATEGIES

# Room above 100% for the labels on top of the bars.
BAR_TOP = 1.12


def _figure(ncols: int, width: float, height: float = 3.8):
    fig, axes = new_figure(1, ncols, width=width, height=height)
    return fig, axes[0]


def _chance(frame, chance: float | None) -> float | None:
    """`chance` when given, else 1 / the class count the table carries, if any."""
    n_classes = frame.attrs.get("n_classes")
    if chance is None and n_classes:
        chance = 1 / n_classes
    return chance


def plot_bars(frame, columns, title: str = "", chance: float | None = None):
    """One bar panel per column of a results table, one bar per row.

    Taught in `02_feature_extraction.ipynb` (fast vs end to end). A column
    whose name says "accuracy" gets the 0-100% axis and, with `chance` (or
    `frame.attrs["n_classes"]`), a dotted chance line. Returns the Figure.
    """
    columns = [columns] if isinstance(columns, str) else list(columns)
    missing = [c for c in columns if c not in frame.columns]
    if missing or not columns:
        raise ValueError(f"columns={columns!r} is not valid; choose from "
                         f"{list(frame.columns)}")
    fig, axes = _figure(len(columns), 4.6 * len(columns), 3.6)
    labels = [str(i) for i in frame.index]
    for ax, column in zip(axes, columns):
        values = frame[column].astype(float).to_numpy()
        bars = ax.bar(range(len(values)), values,
                      color=[colour(i) for i in range(len(values))])
        accuracy = "accuracy" in column
        ax.bar_label(bars, fmt="{:.0%}" if accuracy else "%.3g", fontsize=8)
        ax.set_xticks(range(len(values)), labels, fontsize=8)
        ax.set_xlabel("run")
        ax.set_ylabel(column)
        ax.set_title(column)
        ax.grid(axis="y", alpha=0.3)
        if accuracy:
            accuracy_axis(ax, _chance(frame, chance), top=BAR_TOP)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8, loc="upper right")
    if title:
        fig.suptitle(title)
    return fig


def plot_by_size(results, title: str = "Strategies against training-set size",
                 chance: float | None = None):
    """Accuracy and training seconds against images per class, one line per strategy.

    Taught in `04_choosing_a_strategy.ipynb`. `chance`: 1 / classes, by
    default from `results.attrs["n_classes"]`. Returns the Figure.
    """
    fig, (acc_ax, time_ax) = _figure(2, 11.0, 4.0)
    for i, strategy in enumerate(s for s in STRATEGIES
                                 if s in set(results["strategy"])):
        part = results[results["strategy"] == strategy].sort_values(
            "images_per_class")
        style = dict(color=colour(i), marker="os^"[i % 3], label=strategy)
        acc_ax.plot(part["images_per_class"], part["final_val_accuracy"], **style)
        time_ax.plot(part["images_per_class"], part["seconds"], **style)
    accuracy_axis(acc_ax, _chance(results, chance))
    for ax, ylabel in ((acc_ax, "validation accuracy, last epoch"),
                       (time_ax, "training seconds")):
        ax.set_xlabel("training images per class")
        ax.set_ylabel(ylabel)
        ax.set_xticks(sorted(set(results["images_per_class"])))
        ax.grid(alpha=0.3)
    figure_legend(fig, (acc_ax, time_ax))
    acc_ax.set_title("accuracy")
    time_ax.set_title("training time")
    fig.suptitle(title)
    return fig


def plot_sweep(sweep, title: str = "Unfreeze depth and learning rate",
               chance: float | None = None):
    """Validation accuracy (last epoch) per depth, a bar per rate, and the start.

    Taught in `04_choosing_a_strategy.ipynb`. `chance`: 1 / classes, by
    default from `sweep.attrs["n_classes"]` when present. Returns the Figure.
    """
    depths = sorted(set(sweep["n_unfrozen"]))
    lrs = sorted(set(sweep["lr"]))
    fig, (ax, time_ax) = _figure(2, 11.0, 4.0)
    width = 0.8 / len(lrs)
    for j, lr in enumerate(lrs):
        part = sweep[sweep["lr"] == lr].set_index("n_unfrozen").reindex(depths)
        xs = np.arange(len(depths)) + (j - (len(lrs) - 1) / 2) * width
        style = dict(width=width, color=colour(j),
                     label=f"lr {lr:.0e}")
        bars = ax.bar(xs, part["final_val_accuracy"], **style)
        # On white, so the start line does not cross out a label at its height.
        ax.bar_label(bars, fmt="{:.0%}", fontsize=8, bbox=dict(
            facecolor="white", edgecolor="none", pad=0.5))
        time_ax.bar(xs, part["seconds"], **style)
    start = float(sweep["start_val_accuracy"].iloc[0])
    ax.axhline(start, color="grey", linestyle="--",
               label=f"start (head only) {start:.0%}")
    accuracy_axis(ax, _chance(sweep, chance), top=BAR_TOP)
    for a, ylabel in ((ax, "validation accuracy, last epoch"),
                      (time_ax, "seconds")):
        a.set_xticks(range(len(depths)), [str(d) for d in depths])
        a.set_xlabel("top layers unfrozen (4 = block5, 8 = block4 + block5)")
        a.set_ylabel(ylabel)
        a.grid(axis="y", alpha=0.3)
    figure_legend(fig, (ax, time_ax))
    ax.set_title("accuracy after fine-tuning")
    time_ax.set_title("training seconds")
    fig.suptitle(title)
    return fig
