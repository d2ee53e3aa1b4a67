"""Activation maps: what each channel of a layer lights up on for one image.

Taught in `05_visualizing_features.ipynb`: early layers keep the picture
(edges, colours), late layers are small, sparse and abstract.
"""

from __future__ import annotations

import numpy as np

from ._common import (
    as_image_batch,
    check_positive_int,
    grid_shape,
    hide_unused,
    new_figure,
    show_tile,
)
from .layers import block_outputs, conv_layers, image_batch, layer_model, spread

ORDERS = ("strongest", "index")


def activations(model, image, layers) -> dict[str, np.ndarray]:
    """layer name -> (height, width, channels) activations for one raw image."""
    batch = image_batch(model, image)
    if len(batch) != 1:
        raise ValueError(f"image holds {len(batch)} images; expected one")
    names = [layers] if isinstance(layers, str) else list(layers)
    outputs = layer_model(model, names)(batch, training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return {name: np.asarray(out)[0] for name, out in zip(names, outputs)}


def pick_channels(maps: np.ndarray, n: int, order: str = "strongest") -> np.ndarray:
    """The indices of `n` channels: the most active first, or the first `n`."""
    if order not in ORDERS:
        raise ValueError(f"order={order!r} is unknown; valid: {', '.join(ORDERS)}")
    n = min(check_positive_int("n", n), maps.shape[-1])
    if order == "index":
        return np.arange(n)
    return np.argsort(-maps.reshape(-1, maps.shape[-1]).mean(axis=0),
                      kind="stable")[:n]


def _normalise(channel: np.ndarray) -> np.ndarray:
    top = float(channel.max())
    low = float(channel.min())
    if top - low <= 0:
        return np.zeros_like(channel)
    return (channel - low) / (top - low)


def readable(value: float) -> str:
    """A number as a learner reads it: 540, 1,234, 5.4 or 0.03 (no 5.4e+02)."""
    if abs(value) >= 10:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 1 else f"{value:.2f}"


def activation_maps(model, image, layer: str, n: int = 16,
                    order: str = "strongest", title: str | None = None):
    """A grid of `n` channels of one layer for one raw image (0..255 RGB).

    Taught in `05_visualizing_features.ipynb`. `order`: "strongest" shows the
    channels with the highest mean activation (many channels are silent for
    any one image), "index" the first `n`. Each tile is stretched to its own
    range, so its title gives the channel's mean activation: how strong it is
    against the others. Returns the Figure.
    """
    maps = activations(model, image, layer)[layer]
    if maps.ndim != 3:
        raise ValueError(f"layer={layer!r} outputs shape {maps.shape}; expected "
                         "a feature map (height, width, channels)")
    channels = pick_channels(maps, n, order)
    rows, columns = grid_shape(len(channels) + 1, max_cols=6)
    fig, axes = new_figure(rows, columns, width=1.7 * columns + 0.4,
                           height=1.75 * rows + 0.8)
    show_tile(axes.flat[0], as_image_batch(image)[0], "input image")
    for i, c in enumerate(channels, start=1):
        mean = readable(float(maps[..., c].mean()))
        show_tile(axes.flat[i], _normalise(maps[..., c]),
                  f"ch {c}\nmean activation {mean}", cmap="viridis")
    hide_unused(axes, len(channels) + 1)
    h, w, depth = maps.shape
    fig.supxlabel(f"{len(channels)} of {depth} channels, each {h}x{w} and "
                  "scaled to its own range: bright = strong for that channel",
                  fontsize=9)
    fig.supylabel("channels, row by row", fontsize=9)
    fig.suptitle(title or f"Activations of {layer}")
    return fig


def depth_layers(model, k: int = 3, kind: str = "conv") -> list[str]:
    """Early, middle and late layers: `k` conv layers (or block outputs) spread out."""
    if kind not in ("conv", "block"):
        raise ValueError(f"kind={kind!r} is unknown; valid: conv, block")
    names = conv_layers(model) if kind == "conv" else block_outputs(model)
    return spread(names, k)


def compare_depths(model, image, layers=None, n: int = 6, title: str | None = None):
    """The same image through early, middle and late layers: one row per layer.

    Taught in `05_visualizing_features.ipynb`. Each row shows the input, then
    the layer's `n` strongest channels; the row label gives the map's size.
    Returns the Figure.
    """
    names = depth_layers(model) if layers is None else list(layers)
    n = check_positive_int("n", n)
    maps = activations(model, image, names)
    fig, axes = new_figure(len(names), n + 1, width=1.55 * (n + 1) + 0.6,
                           height=1.65 * len(names) + 0.8)
    picture = as_image_batch(image)[0]
    for row, name in enumerate(names):
        layer_maps = maps[name]
        show_tile(axes[row, 0], picture)
        h, w, depth = layer_maps.shape
        axes[row, 0].set_ylabel(f"{name}\n{h}x{w}x{depth}", fontsize=8)
        channels = pick_channels(layer_maps, n)
        for col in range(1, n + 1):
            ax = axes[row, col]
            if col - 1 < len(channels):
                c = channels[col - 1]
                show_tile(ax, _normalise(layer_maps[..., c]), f"ch {c}",
                          cmap="viridis")
            else:
                ax.set_axis_off()
    fig.supxlabel("input, then the strongest channels of each layer", fontsize=9)
    fig.supylabel("depth (top: early, bottom: late)", fontsize=9)
    fig.suptitle(title or "One image through early, middle and late layers")
    return fig
