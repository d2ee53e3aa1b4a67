"""Images per class in each split, as grouped bars.

Taught in `00_setup_and_data.ipynb`.
"""

from __future__ import annotations

import numpy as np

from ._common import colour, new_figure


def class_balance(counts: dict, title: str = "Images per class"):
    """Grouped bars: one group per class, one bar per split, counts on top.

    Taught in `00_setup_and_data.ipynb`. `counts`: split -> class -> number of
    images (as `FileSplit.counts()` returns). Returns the Figure.
    """
    if not isinstance(counts, dict) or not counts:
        raise ValueError("counts must be a non-empty dict: split -> class -> n")
    classes: list[str] = []
    for split, per_class in counts.items():
        if not isinstance(per_class, dict):
            raise ValueError(f"counts[{split!r}] must be a dict: class -> n")
        classes += [c for c in per_class if c not in classes]
    if not classes:
        raise ValueError("counts has no classes")
    splits = list(counts)
    x = np.arange(len(classes))
    width = 0.8 / len(splits)
    fig, axes = new_figure(1, 1, width=max(5.0, 1.1 * len(classes) + 2), height=3.8)
    ax = axes[0, 0]
    for i, split in enumerate(splits):
        values = [int(counts[split].get(c, 0)) for c in classes]
        bars = ax.bar(x + (i - (len(splits) - 1) / 2) * width, values, width,
                      label=str(split), color=colour(i))
        ax.bar_label(bars, fontsize=8, padding=1)
    ax.set_xticks(x, [str(c) for c in classes], rotation=20 if len(classes) > 6 else 0)
    ax.set_xlabel("class")
    ax.set_ylabel("number of images")
    ax.margins(y=0.15)
    ax.legend(title="split", fontsize=8)
    ax.set_title(title)
    return fig
