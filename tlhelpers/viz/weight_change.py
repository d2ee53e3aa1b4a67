"""How far each layer's weights moved between two copies of a model.

Taught in `05_visualizing_features.ipynb`: after fine-tuning, frozen layers have
not moved at all, and the unfrozen top block has moved a little (a low learning
rate keeps what ImageNet taught it).
"""

from __future__ import annotations

import keras
import numpy as np
from matplotlib.ticker import PercentFormatter

from ._common import colour, new_figure


def weighted_layers(model) -> list:
    """Layers that hold weights, nested models opened, bottom to top."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += weighted_layers(layer)
        elif layer.weights:
            found.append(layer)
    return found


def weight_change(before, after):
    """One row per layer: ||W_after - W_before|| / ||W_before|| over all its weights.

    Taught in `05_visualizing_features.ipynb`. `before` and `after` are two
    copies of the same architecture (e.g. head-trained and fine-tuned). Returns
    a pandas DataFrame with columns layer, params, relative_change.
    """
    import pandas as pd

    if not isinstance(before, keras.Model) or not isinstance(after, keras.Model):
        raise ValueError("before and after must be keras Models")
    old, new = weighted_layers(before), weighted_layers(after)
    if [layer.name for layer in old] != [layer.name for layer in new]:
        raise ValueError("before and after have different layers; expected two "
                         "copies of the same model")
    rows = []
    for a, b in zip(old, new):
        wa = [np.asarray(w, dtype=np.float64) for w in a.get_weights()]
        wb = [np.asarray(w, dtype=np.float64) for w in b.get_weights()]
        if [w.shape for w in wa] != [w.shape for w in wb]:
            raise ValueError(f"layer {a.name!r} has different weight shapes")
        base_norm = np.sqrt(sum(float(np.sum(w ** 2)) for w in wa))
        moved = np.sqrt(sum(float(np.sum((y - x) ** 2)) for x, y in zip(wa, wb)))
        change = moved / base_norm if base_norm > 0 else (0.0 if moved == 0 else
                                                          np.inf)
        rows.append({"layer": a.name, "params": int(sum(w.size for w in wa)),
                     "relative_change": float(change)})
    return pd.DataFrame(rows)


def plot_weight_change(changes, title: str = "How far each layer's weights moved"):
    """Bars of relative weight change per layer; unmoved layers are marked 0.

    Taught in `05_visualizing_features.ipynb`. `changes`: the DataFrame from
    `weight_change` (or a dict layer -> change). Returns the Figure.
    """
    if isinstance(changes, dict):
        names, values = list(changes), [float(v) for v in changes.values()]
    else:
        names = [str(n) for n in changes["layer"]]
        values = [float(v) for v in changes["relative_change"]]
    if not names:
        raise ValueError("changes is empty; expected one value per layer")
    fig, axes = new_figure(1, 1, width=max(6.0, 0.42 * len(names) + 2.0), height=4.0)
    ax = axes[0, 0]
    bar_colours = [colour(1) if v > 0 else "#bbbbbb" for v in values]
    x = np.arange(len(names))
    ax.bar(x, values, color=bar_colours)
    for i, v in enumerate(values):
        if v == 0:
            ax.annotate("0", (i, 0), ha="center", va="bottom", fontsize=7,
                        color="grey")
    ax.set_xticks(x, names, rotation=60, ha="right", fontsize=8)
    ax.set_xlabel("layer (bottom of the network on the left)")
    ax.set_ylabel("||W_after - W_before|| / ||W_before||")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    ax.grid(alpha=0.3, axis="y")
    ax.set_title(title)
    return fig
