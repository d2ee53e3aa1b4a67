"""Charts of the strategy comparison and the unfreeze sweep.

Taught in `04_choosing_a_strategy.ipynb` (and `plot_bars` in
`02_feature_extraction.ipynb`); they draw the tables that `run` returns.
"""

from __future__ import annotations

import numpy as np

from ..figures import colour, new_figure
from .run import STRATEGIES


def _figure(ncols: int, width: float, height: float = 3.8):
    fig, axes = new_figure(1, ncols, width=width, height=height)
    return fig, axes[0]


def plot_bars(frame, columns, title: str = ""):
    """One bar panel per column of a results table, one bar per row.

    Taught in `02_feature_extraction.ipynb` (fast vs end to end). Returns the Figure.
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
        ax.bar_label(bars, fmt="%.3g", fontsize=8)
        ax.set_xticks(range(len(values)), labels, fontsize=8)
        ax.set_xlabel("run")
        ax.set_ylabel(column)
        ax.set_title(column)
        ax.grid(axis="y", alpha=0.3)
        if "accuracy" in column:
            ax.set_ylim(0, 1.05)
    if title:
        fig.suptitle(title)
    return fig


def plot_by_size(results, title: str = "Strategies against training-set size"):
    """Accuracy and training seconds against images per class, one line per strategy.

    Taught in `04_choosing_a_strategy.ipynb`. Returns the Figure.
    """
    fig, (acc_ax, time_ax) = _figure(2, 11.0, 4.0)
    for i, strategy in enumerate(s for s in STRATEGIES
                                 if s in set(results["strategy"])):
        part = results[results["strategy"] == strategy].sort_values(
            "images_per_class")
        style = dict(color=colour(i), marker="os^"[i % 3], label=strategy)
        acc_ax.plot(part["images_per_class"], part["final_val_accuracy"], **style)
        time_ax.plot(part["images_per_class"], part["seconds"], **style)
    n_classes = results.attrs.get("n_classes")
    if n_classes:
        acc_ax.axhline(1 / n_classes, color="grey", linestyle=":",
                       label="guessing")
    for ax, ylabel in ((acc_ax, "validation accuracy, last epoch"),
                       (time_ax, "training seconds")):
        ax.set_xlabel("training images per class")
        ax.set_ylabel(ylabel)
        ax.set_xticks(sorted(set(results["images_per_class"])))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    acc_ax.set_ylim(0, 1.05)
    acc_ax.set_title("accuracy")
    time_ax.set_title("training time")
    fig.suptitle(title)
    return fig


def plot_sweep(sweep, title: str = "Unfreeze depth and learning rate"):
    """Validation accuracy (last epoch) per depth, a bar per rate, and the start.

    Taught in `04_choosing_a_strategy.ipynb`. Returns the Figure.
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
        ax.bar_label(bars, fmt="%.2f", fontsize=8)
        time_ax.bar(xs, part["seconds"], **style)
    start = float(sweep["start_val_accuracy"].iloc[0])
    ax.axhline(start, color="grey", linestyle="--",
               label=f"start (head only) {start:.2f}")
    for a, ylabel in ((ax, "validation accuracy, last epoch"),
                      (time_ax, "seconds")):
        a.set_xticks(range(len(depths)), [str(d) for d in depths])
        a.set_xlabel("top layers unfrozen (4 = block5, 8 = block4 + block5)")
        a.set_ylabel(ylabel)
        a.grid(axis="y", alpha=0.3)
        a.legend(fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title("accuracy after fine-tuning")
    time_ax.set_title("training seconds")
    fig.suptitle(title)
    return fig
