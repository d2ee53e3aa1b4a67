"""Figures for every plot of the course: one palette, PNG only, closed at once.

Taught implicitly everywhere a curve or chart appears. Figures are made with
pyplot (so Jupyter's inline backend shows a returned Figure as a PNG) and closed
at once, so a notebook that draws many plots does not keep them all in memory.
Sits at the bottom of the package: training's live plot and viz both use it.
"""

from __future__ import annotations

import base64
import io

from matplotlib.figure import Figure

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
