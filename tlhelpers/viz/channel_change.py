"""What fine-tuning changed inside the top block: its output, channel by channel.

Taught in `07_looking_inside.ipynb`. Fine-tuning the top `n_unfrozen` layers
leaves every layer below them exactly as it was, so the activations stored
below the cut (notebook 03 trains on them) are the input of both the
pretrained and the fine-tuned top block: running each top block on them gives
its output for every photo in seconds, with no pass through the frozen layers.
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd

from ..strategies.stored import top_of_base
from ._common import check_positive_int, new_figure, show_tile, to_numpy
from .layers import resolve_base


def top_block_pooled(model, activations, n_unfrozen: int = 4,
                     batch_size: int = 64) -> np.ndarray:
    """(N, channels): the base's top `n_unfrozen` layers on stored activations, averaged.

    Taught in `07_looking_inside.ipynb`. `model`: a base or a classifier (its
    base is used); `activations`: what the layer below the top stored for N
    photos (`strategies.store_activations(..., depths=(n_unfrozen,))`). The
    average over height and width is what a linear probe reads.
    """
    base, _ = resolve_base(model)
    top = top_of_base(base, n_unfrozen)
    x = to_numpy(activations)
    expected = tuple(int(d) for d in top.input_shape[1:])
    if x.ndim != 4 or tuple(x.shape[1:]) != expected:
        raise ValueError(f"activations have shape {x.shape}; the top {n_unfrozen} "
                         f"layers of {base.name} take (N, {', '.join(map(str, expected))})"
                         f" (store them at depth {n_unfrozen})")
    batch_size = check_positive_int("batch_size", batch_size)
    parts = []
    for start in range(0, len(x), batch_size):
        out = top(x[start:start + batch_size], training=False)
        parts.append(np.asarray(keras.ops.mean(keras.ops.cast(out, "float32"),
                                               axis=(1, 2))))
    return np.concatenate(parts) if parts else np.zeros((0, int(top.output.shape[-1])))


def channel_changes(before, after, k: int = 5) -> pd.DataFrame:
    """One row per channel, the channels whose response changed most first.

    Taught in `07_looking_inside.ipynb`. `before`, `after`: (N, channels)
    pooled responses of the same N photos (the pretrained and the fine-tuned
    block). `change`: the mean absolute change over the photos, in units of
    the block's typical response (the mean over all channels and photos
    before), so that near-silent channels do not top the list through a
    division by almost nothing. `same_top`: how many of the k photos that
    excite the channel most are still among its top k afterwards.
    """
    before, after = to_numpy(before).astype(np.float64), to_numpy(after).astype(np.float64)
    if before.ndim != 2 or before.shape != after.shape or len(before) == 0:
        raise ValueError(f"before {before.shape} and after {after.shape} must be the "
                         "same (N, channels) responses of the same photos, N >= 1")
    k = min(check_positive_int("k", k), len(before))
    typical = float(before.mean()) or 1.0
    change = np.abs(after - before).mean(axis=0) / typical
    top_before = np.argsort(-before, axis=0, kind="stable")[:k].T
    top_after = np.argsort(-after, axis=0, kind="stable")[:k].T
    table = pd.DataFrame({
        "channel": np.arange(before.shape[1]),
        "mean_before": before.mean(axis=0),
        "mean_after": after.mean(axis=0),
        "change": change,
        "same_top": [len(set(b) & set(a)) for b, a in zip(top_before, top_after)],
        "top_before": list(top_before),
        "top_after": list(top_after),
    })
    table = table.sort_values("change", ascending=False, kind="stable")
    table.attrs["k"] = k
    return table.reset_index(drop=True)


def plot_channel_changes(changes: pd.DataFrame, photos, labels, class_names,
                         before, after, n_channels: int = 3, split: str = "validation",
                         title: str = "The channels fine-tuning changed most"):
    """For each of the first channels of `changes`: its top photos before, then after.

    Taught in `07_looking_inside.ipynb`. `photos`: a function index -> the
    photo (0..255 or 0..1, H x W x 3), so only the photos shown are loaded;
    `labels`: the class id of every photo; `before`, `after`: the responses
    `channel_changes` ranked (each tile is titled with its response).
    """
    n_channels = min(check_positive_int("n_channels", n_channels), len(changes))
    k = int(changes.attrs.get("k", len(changes["top_before"].iloc[0])))
    rows = changes.head(n_channels)
    fig, axes = new_figure(2 * n_channels, k, width=1.6 * k + 1.6,
                           height=1.75 * 2 * n_channels + 0.8)
    for i, row in enumerate(rows.itertuples()):
        for j, (when, top, values) in enumerate((("before", row.top_before, before),
                                                 ("after", row.top_after, after))):
            for col, index in enumerate(top):
                picture = np.asarray(photos(int(index)), dtype=np.float32)
                picture = picture / 255.0 if picture.max() > 1.0 else picture
                show_tile(axes[2 * i + j, col], np.clip(picture, 0, 1),
                          f"{class_names[int(labels[index])]} "
                          f"{float(values[index, row.channel]):.1f}")
            label = (f"channel {row.channel}\n{when}" if j == 0
                     else f"{when}\n({row.same_top} of {k} same)")
            axes[2 * i + j, 0].set_ylabel(label, fontsize=8)
    fig.supxlabel(f"the {k} {split} photos that excite the channel most "
                  "(class, average response)", fontsize=9)
    fig.suptitle(title)
    return fig
