"""Figures for every plot of the course: one palette, one way to draw accuracy
and loss axes, PNG only, closed at once.

Taught implicitly everywhere a curve or chart appears. Figures are made with
pyplot (so Jupyter's inline backend shows a returned Figure as a PNG) and closed
at once, so a notebook that draws many plots does not keep them all in memory.
Sits at the bottom of the package: training's live plot and viz both use it.
"""

from __future__ import annotations

import base64
import io

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

# Colour-blind-safe palette (Okabe-Ito), one colour per class or run.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
           "#F0E442", "#000000")


def new_figure(nrows: int = 1, ncols: int = 1, width: float = 6.0,
               height: float = 4.0, **kwargs):
    """A closed pyplot Figure and a 2-D array of its axes (sizes in inches)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False,
                             layout="constrained", **kwargs)
    plt.close(fig)
    return fig, axes


def colour(i: int) -> str:
    """The i-th palette colour (wraps around)."""
    return PALETTE[i % len(PALETTE)]


def accuracy_axis(ax, chance: float | None = None, top: float = 1.02) -> None:
    """Accuracy from 0% to 100% (on values 0..1), with a dotted line at chance.

    Always the whole range: an axis clipped to the data (say 58% to 68%) makes
    noise look large. `chance`: 1 / classes, or None when unknown; its line is
    labelled for the legend, so call `legend` after this. `top`: room above
    100% (bar charts need some for their labels).
    """
    ax.set_ylim(0, top)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle=":", linewidth=1.2, zorder=1,
                   label=f"chance ({chance:.0%})")


# Losses spanning more than this factor (a run that diverged) get a log axis,
# or the worst run flattens all the others into a line at the bottom.
LOG_LOSS_RATIO = 50


def loss_axis(ax, *series) -> None:
    """A log scale on `ax` when the losses in `series` span more than LOG_LOSS_RATIO.

    Call it after `set_ylabel`: the label then says "(log scale)".
    """
    values = np.concatenate([np.asarray(s, dtype=float).ravel() for s in series]
                            or [np.array([])])
    values = values[np.isfinite(values) & (values > 0)]
    if values.size and values.max() / values.min() > LOG_LOSS_RATIO:
        ax.set_yscale("log")
        ax.set_ylabel(f"{ax.get_ylabel()} (log scale)")


def figure_legend(fig, axes) -> None:
    """One legend under the panels, each label once: inside, it hides a line."""
    entries = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    fig.legend(entries.values(), entries.keys(), loc="outside lower center",
               ncols=min(len(entries), 5), fontsize=8, frameon=False)


def figure_png(fig: Figure) -> bytes:
    """The figure as PNG bytes (PNG only: SVG outputs differ on every run)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def png_output(fig: Figure) -> dict:
    """A display_data output holding the figure as PNG, for an `ipywidgets.Output`.

    Setting `output.outputs` directly works in a kernel and headless alike;
    `with output: display(fig)` needs a kernel and an image formatter.
    """
    text = f"<Figure size {fig.bbox.width:.0f}x{fig.bbox.height:.0f} with " \
        f"{len(fig.axes)} Axes>"
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(figure_png(fig)).decode("ascii"),
                     "text/plain": text}}
