"""Parts shared by the panels: a log-scale rate slider, figures and messages.

Taught in `03_fine_tuning.ipynb` (the fine-tuning panel is built from them).
Figures go into an `Output` as PNG by replacing its outputs, which works in a
kernel, inside a button's callback and headless in the unit tests alike.
"""

from __future__ import annotations

import html
import math

import ipywidgets as widgets

from ..figures import png_output
from ..training.recipes import check_lr

# Long descriptions ("Layers to unfreeze") are not cut off at this width.
WIDE = {"description_width": "initial"}
SLIDER_WIDTH = "460px"

_COLOURS = {"info": "#1565c0", "ok": "#2e7d32", "warning": "#ef6c00",
            "error": "#c62828"}


def lr_slider(value: float = 1e-5, min_lr: float = 1e-6, max_lr: float = 1e-1,
              description: str = "Learning rate") -> widgets.FloatLogSlider:
    """A log-scale learning-rate slider from `min_lr` to `max_lr` (powers of ten).

    Taught in `03_fine_tuning.ipynb`. The slider clamps to its range, so a
    rate outside it cannot be chosen.
    """
    min_lr, max_lr = check_lr(min_lr), check_lr(max_lr)
    if min_lr >= max_lr:
        raise ValueError(f"min_lr={min_lr} is not valid; expected a rate below "
                         f"max_lr={max_lr}")
    value = check_lr(value)
    if not min_lr <= value <= max_lr:
        raise ValueError(f"lr={value} is not valid; expected a rate in "
                         f"{min_lr:g}..{max_lr:g}")
    return widgets.FloatLogSlider(
        value=value, base=10, min=math.log10(min_lr), max=math.log10(max_lr),
        step=0.1, description=description, readout_format=".1e", style=WIDE,
        layout=widgets.Layout(width=SLIDER_WIDTH), continuous_update=False)


def show_figure(output: widgets.Output, fig) -> None:
    """Replace what `output` shows with `fig` as a PNG image."""
    output.outputs = (png_output(fig),)


def has_image(output: widgets.Output) -> bool:
    """True when `output` shows a PNG image (what the tests and the panel check)."""
    return any("image/png" in out.get("data", {}) for out in output.outputs)


def message(text: str, kind: str = "info") -> str:
    """A one-line coloured message as HTML (`kind`: info, ok, warning, error)."""
    if kind not in _COLOURS:
        raise ValueError(f"kind={kind!r} is not valid; expected one of "
                         f"{', '.join(_COLOURS)}")
    return (f'<div class="tlh-message tlh-message-{kind}" style="border-left:4px '
            f'solid {_COLOURS[kind]};padding:2px 8px;margin:4px 0">'
            f"{html.escape(text)}</div>")


def scroll_box(inner_html: str, max_height: int = 300) -> str:
    """Wrap HTML in a box that scrolls when taller than `max_height` pixels."""
    return (f'<div style="max-height:{int(max_height)}px;overflow-y:auto;'
            f'border:1px solid #ddd;padding:2px">{inner_html}</div>')
