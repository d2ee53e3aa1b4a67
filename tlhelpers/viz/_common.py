"""Shared plumbing for the plots: figures that display once, image arrays, checks.

Figures are made with pyplot (so Jupyter's inline backend is active and a returned
Figure shows as a PNG) and closed at once, so a notebook that draws many plots does
not keep them all in memory and nothing is drawn twice.
"""

from __future__ import annotations

import math

import numpy as np

# Re-exported: the plot modules take all their plumbing from here.
from ..figures import PALETTE, accuracy_axis, colour, new_figure  # noqa: F401


def grid_shape(n: int, cols: int | None = None, max_cols: int = 8) -> tuple[int, int]:
    """(rows, cols) for n tiles: close to square, at most `max_cols` wide."""
    if cols is None:
        cols = min(max_cols, max(1, math.ceil(math.sqrt(n))))
    cols = max(1, min(cols, n))
    return math.ceil(n / cols), cols


def check_positive_int(name: str, value, minimum: int = 1) -> int:
    """`value` as an int >= minimum, or a ValueError naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or value < minimum:
        raise ValueError(f"{name}={value!r} is not valid; expected an integer "
                         f">= {minimum}")
    return int(value)


def to_numpy(value) -> np.ndarray:
    """A NumPy array from a NumPy array, a tensor, or a list."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value)


def as_image_batch(images, name: str = "images") -> np.ndarray:
    """(N, H, W, 3) or (N, H, W) float images in 0..1 for `imshow`.

    Accepts one image or a batch; uint8 or float. Floats above 1 are read as
    0..255 (the course's pipelines), others as 0..1. One channel becomes (N, H, W).
    """
    array = to_numpy(images)
    scaled_255 = array.dtype == np.uint8
    if array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (1, 3)):
        array = array[None]
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3) or 0 in array.shape:
        raise ValueError(f"{name} has shape {array.shape}; expected (N, H, W, 3), "
                         "(N, H, W, 1), (N, H, W) or one image (H, W, 3)")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    if scaled_255 or array.max() > 1.0:
        array = array / 255.0
    array = np.clip(array, 0.0, 1.0)
    return array[..., 0] if array.shape[-1] == 1 else array


def show_tile(ax, image: np.ndarray, title: str | None = None, **kwargs) -> None:
    """One image in an axis without ticks; 2-D arrays use a grey colour map."""
    if image.ndim == 2:
        kwargs.setdefault("cmap", "gray")
        kwargs.setdefault("vmin", 0.0)
        kwargs.setdefault("vmax", 1.0)
    ax.imshow(image, **kwargs)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def hide_unused(axes, used: int) -> None:
    """Turn off the axes after the first `used` ones (a grid is rarely full)."""
    for ax in axes.flat[used:]:
        ax.set_axis_off()
