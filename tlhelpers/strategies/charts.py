"""Charts of the strategy comparison and the unfreeze sweep.

Taught in `04_choosing_a_strategy.ipynb` (and `plot_bars` in
`02_feature_extraction.ipynb`); they draw the tables that `run` returns.
Validation picks, test grades: the accuracies drawn are on the test photos,
each run at the epoch validation picked, and the axes say so.
"""

from __future__ import annotations

import numpy as np

from ..figures import accuracy_axis, colour, figure_legend, new_figure
from .guide import AHEAD, BEHIND, GRADED_ON, leads
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


def _size_axis(ax, sizes) -> None:
    """Images per class on a log axis (5, 30, 160 about evenly apart), ticks at `sizes`."""
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training images per class (log scale)")


def plot_by_size(results, title: str = "Strategies against training-set size",
                 chance: float | None = None):
    """Test accuracy, fine-tuning's lead and seconds against images per class.

    Taught in `04_choosing_a_strategy.ipynb`. Each run is at its best epoch
    by validation accuracy and graded on the test photos. The middle panel
    (when the table has both) is fine-tuning minus feature extraction on the
    test photos, with the noise margin (two standard errors on
    `attrs["n_test"]` photos) as a band around zero: a lead outside the band
    is beyond noise. The time panel has a bar per strategy and size: its
    training seconds, with the one pass of the base (`pass_seconds`, when
    the table has it) stacked on top, hatched. `chance`: 1 / classes, by
    default from `results.attrs["n_classes"]`. Returns the Figure.
    """
    present = [s for s in STRATEGIES if s in set(results["strategy"])]
    with_lead = {AHEAD, BEHIND} <= set(present)
    fig, axes = _figure(3 if with_lead else 2, 15.0 if with_lead else 11.0, 4.0)
    acc_ax, time_ax = axes[0], axes[-1]
    sizes = sorted(set(results["images_per_class"]))
    for strategy in present:
        part = results[results["strategy"] == strategy].sort_values(
            "images_per_class")
        i = STRATEGIES.index(strategy)  # one colour per strategy, in every chart
        style = dict(color=colour(i), marker="os^"[i % 3], label=strategy)
        acc_ax.plot(part["images_per_class"], part[GRADED_ON], **style)
    accuracy_axis(acc_ax, _chance(results, chance))
    acc_ax.set_ylabel("test accuracy (best epoch by validation)")
    acc_ax.set_title("accuracy on the test photos")
    if with_lead:
        _lead_panel(axes[1], leads(results), sizes)
    for ax in axes[:-1]:
        _size_axis(ax, sizes)
        ax.grid(alpha=0.3)
    _time_panel(time_ax, results, present, sizes)
    figure_legend(fig, axes)
    fig.suptitle(title)
    return fig


PASS_LABEL = ("one-time pass of the base (stored once, used by both "
              "transfer strategies)")


def _time_panel(ax, results, present, sizes) -> None:
    """Per size, a bar per strategy: training seconds, the one-time pass stacked on top."""
    width = 0.8 / len(present)
    with_pass = "pass_seconds" in results.columns
    top = 0.0
    for j, strategy in enumerate(present):
        part = results[results["strategy"] == strategy].set_index(
            "images_per_class").reindex(sizes)
        xs = np.arange(len(sizes)) + (j - (len(present) - 1) / 2) * width
        train = part["seconds"].astype(float).fillna(0).to_numpy()
        once = (part["pass_seconds"].astype(float).fillna(0).to_numpy()
                if with_pass else np.zeros(len(sizes)))
        i = STRATEGIES.index(strategy)
        ax.bar(xs, train, width, color=colour(i))
        if once.any():
            ax.bar(xs, once, width, bottom=train, color="white",
                   edgecolor=colour(i), hatch="///", linewidth=0.8,
                   label=PASS_LABEL)
        for x, total in zip(xs, train + once):
            ax.annotate(f"{total:.0f}" if total >= 10 else f"{total:.1f}",
                        (x, total), textcoords="offset points", xytext=(0, 2),
                        ha="center", fontsize=7)
        top = max(top, float(np.max(train + once)))
    ax.set_ylim(0, 1.12 * top if top > 0 else 1)
    ax.set_xticks(range(len(sizes)), [str(s) for s in sizes])
    ax.set_xlabel("training images per class")
    ax.set_ylabel("seconds")
    ax.set_title("training time, + the one pass of the base" if with_pass
                 else "training time")
    ax.grid(axis="y", alpha=0.3)


def _lead_panel(ax, table, sizes) -> None:
    """Fine-tuning minus feature extraction (points) and the noise band around 0."""
    xs = list(table.index)
    noise = 100 * table["noise"].to_numpy()
    ax.fill_between(xs, -noise, noise, color="grey", alpha=0.2, linewidth=0,
                    label="noise margin (2 s.e., test photos)")
    ax.axhline(0, color="grey", linewidth=1)
    lead = 100 * table["lead"].to_numpy()
    ax.plot(xs, lead, color=colour(STRATEGIES.index(AHEAD)), marker="^",
            linestyle="--", label="fine-tuning minus feature extraction (test)")
    for x, y in zip(xs, lead):
        ax.annotate(f"{y:+.1f}", (x, y), textcoords="offset points",
                    xytext=(0, 6), ha="center", fontsize=8)
    top = max(float(np.max(np.abs(lead))), float(np.max(noise))) + 3
    ax.set_ylim(-top, top)
    ax.set_ylabel("lead on the test photos (points)")
    ax.set_title("fine-tuning's lead over feature extraction")


def plot_sweep(sweep, title: str = "Unfreeze depth and learning rate",
               chance: float | None = None):
    """Test accuracy per depth, a bar per rate, and the head it started from.

    Taught in `04_choosing_a_strategy.ipynb`. Each run is at its best epoch
    by validation accuracy and graded on the test photos. `chance`:
    1 / classes, by default from `sweep.attrs["n_classes"]` when present.
    Returns the Figure.
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
        bars = ax.bar(xs, part[GRADED_ON], **style)
        # On white, so the start line does not cross out a label at its height.
        ax.bar_label(bars, fmt="{:.0%}", fontsize=8, bbox=dict(
            facecolor="white", edgecolor="none", pad=0.5))
        time_ax.bar(xs, part["seconds"], **style)
    start = float(sweep["start_test_accuracy"].iloc[0])
    ax.axhline(start, color="grey", linestyle="--",
               label=f"start: the head alone, {start:.0%} on test")
    accuracy_axis(ax, _chance(sweep, chance), top=BAR_TOP)
    for a, ylabel in ((ax, "test accuracy (best epoch by validation)"),
                      (time_ax, "seconds")):
        a.set_xticks(range(len(depths)), [str(d) for d in depths])
        a.set_xlabel("top layers unfrozen (4 = block5, 8 = block4 + block5)")
        a.set_ylabel(ylabel)
        a.grid(axis="y", alpha=0.3)
    figure_legend(fig, (ax, time_ax))
    ax.set_title("accuracy on the test photos after fine-tuning")
    time_ax.set_title("training seconds")
    fig.suptitle(title)
    return fig
