"""The first convolution's filters drawn as small colour tiles.

Taught in `05_visualizing_features.ipynb`.
"""

from __future__ import annotations

import numpy as np

from ._common import check_positive_int, grid_shape, hide_unused, new_figure, show_tile
from .layers import CONV_TYPES, resolve_base

# Backbones whose preprocessing swaps RGB to BGR ("caffe" mode): their first
# kernels see blue first, so the tiles flip the channels back to show true colours.
BGR_BACKBONES = ("vgg16", "resnet50")


def first_conv(model):
    """The first convolution layer of the base."""
    base, _ = resolve_base(model)
    for layer in base.layers:
        if isinstance(layer, CONV_TYPES):
            return layer
    raise ValueError(f"{base.name} has no convolution layer")


def filter_tiles(model, n: int | None = None) -> np.ndarray:
    """The first conv's kernels as images in 0..1: (n, kh, kw, 3), or (n, kh, kw)
    when the input is not 3-channel (then the mean over input channels, grey).

    Each filter is stretched to its own min..max, so the pattern, not the scale,
    shows; colours are in RGB order whatever the backbone's preprocessing.
    """
    layer = first_conv(model)
    _, backbone = resolve_base(model)
    kernel = np.asarray(layer.get_weights()[0], dtype=np.float32)  # kh, kw, in, out
    if kernel.ndim != 4:
        raise ValueError(f"{layer.name} has a kernel of shape {kernel.shape}; "
                         "expected (height, width, in, out)")
    total = kernel.shape[-1]
    n = total if n is None else min(check_positive_int("n", n), total)
    tiles = np.moveaxis(kernel[..., :n], -1, 0)  # n, kh, kw, in
    if tiles.shape[-1] == 3:
        if backbone in BGR_BACKBONES:
            tiles = tiles[..., ::-1]
    else:
        tiles = tiles.mean(axis=-1)
    axes = tuple(range(1, tiles.ndim))
    low = tiles.min(axis=axes, keepdims=True)
    span = tiles.max(axis=axes, keepdims=True) - low
    return np.divide(tiles - low, span, out=np.full_like(tiles, 0.5),
                     where=span > 0)


def plot_first_filters(model, n: int = 32, cols: int = 8,
                       title: str | None = None):
    """A grid of the first conv layer's filters as colour tiles.

    Taught in `05_visualizing_features.ipynb`: with ImageNet weights they are
    edge detectors at several angles and colour blobs; with random weights,
    noise. Returns the Figure.
    """
    tiles = filter_tiles(model, n)
    layer = first_conv(model)
    rows, columns = grid_shape(len(tiles), check_positive_int("cols", cols))
    fig, axes = new_figure(rows, columns, width=1.1 * columns + 0.6,
                           height=1.1 * rows + 0.8)
    for i, tile in enumerate(tiles):
        show_tile(axes.flat[i], tile, interpolation="nearest")
        axes.flat[i].set_title(str(i), fontsize=7)
    hide_unused(axes, len(tiles))
    kh, kw = tiles.shape[1:3]
    fig.supxlabel(f"filter number ({kh}x{kw} pixels each, stretched to its own "
                  "range)", fontsize=9)
    fig.supylabel("filters, row by row", fontsize=9)
    fig.suptitle(title or f"First {len(tiles)} filters of {layer.name}")
    return fig
