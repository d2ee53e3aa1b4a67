"""A labelled grid of images, with predictions when given.

Taught in `00_setup_and_data.ipynb`.
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
    to_numpy,
)

RIGHT, WRONG = "#1b7837", "#b2182b"


def take_images(dataset, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to `n` (images, labels) from a batched tf.data pipeline, in order."""
    images, labels = [], []
    count = 0
    for batch_images, batch_labels in dataset:
        images.append(to_numpy(batch_images))
        labels.append(to_numpy(batch_labels))
        count += len(images[-1])
        if count >= n:
            break
    if not images:
        raise ValueError("the dataset is empty; expected at least one batch")
    return np.concatenate(images)[:n], np.concatenate(labels)[:n]


def _class_ids(values, name: str) -> np.ndarray:
    array = to_numpy(values)
    if array.ndim == 2:  # probabilities or one-hot rows
        array = array.argmax(axis=1)
    if array.ndim != 1:
        raise ValueError(f"{name} has shape {array.shape}; expected (N,) class ids "
                         "or (N, n_classes) probabilities")
    return array.astype(int)


def _name(class_names, index: int) -> str:
    if class_names is not None and 0 <= index < len(class_names):
        return str(class_names[index])
    return str(index)


def show_images(images, labels=None, class_names=None, n: int = 16,
                predictions=None, title: str = "Images", cols: int | None = None):
    """A grid of the first `n` images titled with their class (and prediction).

    Taught in `00_setup_and_data.ipynb`. `images`: a batch (N, H, W, 3) in 0..255
    or 0..1, one image, or a batched tf.data pipeline (then `labels` come from
    it). `predictions`: class ids or probabilities; tiles then read
    "true / pred" in green when right and red when wrong. Returns the Figure.
    """
    n = check_positive_int("n", n)
    if hasattr(images, "element_spec"):  # a tf.data pipeline
        images, labels = take_images(images, n)
    batch = as_image_batch(images)
    count = min(n, len(batch))
    if labels is not None:
        labels = _class_ids(labels, "labels")
        if len(labels) < count:
            raise ValueError(f"labels has {len(labels)} entries for {count} images")
    if predictions is not None:
        predictions = _class_ids(predictions, "predictions")
        if len(predictions) < count:
            raise ValueError(f"predictions has {len(predictions)} entries for "
                             f"{count} images")
    rows, columns = grid_shape(count, cols)
    fig, axes = new_figure(rows, columns, width=1.9 * columns,
                           height=2.0 * rows + 0.5)
    for i in range(count):
        ax = axes.flat[i]
        text, colour = None, "black"
        if labels is not None:
            text = _name(class_names, labels[i])
        if predictions is not None:
            guess = _name(class_names, predictions[i])
            text = f"true: {text}\npred: {guess}" if text else f"pred: {guess}"
            if labels is not None:
                colour = RIGHT if predictions[i] == labels[i] else WRONG
        show_tile(ax, batch[i])
        if text:
            ax.set_title(text, fontsize=9, color=colour)
    hide_unused(axes, count)
    caption = "title: class" if predictions is None else \
        "title: true and predicted class (green right, red wrong)"
    fig.supxlabel(f"{count} image(s); {caption}", fontsize=9)
    fig.suptitle(title)
    return fig
