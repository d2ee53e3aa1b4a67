"""The confusion matrix of a classifier; taught in `02_feature_extraction.ipynb`."""

from __future__ import annotations

import numpy as np

from ._common import new_figure, to_numpy


def confusion_counts(y_true, y_pred, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts: row = true class, column = predicted class.

    `y_pred` may be class ids or probabilities (the argmax is taken).
    """
    true = to_numpy(y_true).astype(int).reshape(-1)
    pred = to_numpy(y_pred)
    if pred.ndim == 2:
        pred = pred.argmax(axis=1)
    pred = pred.astype(int).reshape(-1)
    if len(true) != len(pred):
        raise ValueError(f"y_true has {len(true)} entries and y_pred {len(pred)}; "
                         "expected the same number")
    for name, values in (("y_true", true), ("y_pred", pred)):
        if len(values) and (values.min() < 0 or values.max() >= n_classes):
            raise ValueError(f"{name} has class ids outside 0..{n_classes - 1}")
    matrix = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(matrix, (true, pred), 1)
    return matrix


def confusion_matrix(y_true, y_pred, class_names, title: str = "Confusion matrix",
                     normalize: bool = False):
    """Counts (or row fractions) of true against predicted class, written in each cell.

    Taught in `02_feature_extraction.ipynb`: the diagonal is what the model gets
    right; a bright off-diagonal cell is a pair of classes it mixes up. The
    counts are on the Figure as `fig.tlh_matrix`. Returns the Figure.
    """
    names = [str(c) for c in class_names]
    if len(names) < 1:
        raise ValueError("class_names is empty; expected one name per class")
    matrix = confusion_counts(y_true, y_pred, len(names))
    shown = matrix.astype(float)
    if normalize:
        totals = shown.sum(axis=1, keepdims=True)
        shown = np.divide(shown, totals, out=np.zeros_like(shown), where=totals > 0)
    size = 1.0 + 0.75 * len(names)
    fig, axes = new_figure(1, 1, width=size + 1.6, height=size + 0.6)
    ax = axes[0, 0]
    image = ax.imshow(shown, cmap="Blues", vmin=0,
                      vmax=1.0 if normalize else max(1, shown.max()))
    fig.colorbar(image, ax=ax, shrink=0.8,
                 label="fraction of the true class" if normalize else "images")
    top = shown.max() if shown.size else 0
    for i in range(len(names)):
        for j in range(len(names)):
            text = f"{shown[i, j]:.2f}" if normalize else str(matrix[i, j])
            ax.text(j, i, text, ha="center", va="center", fontsize=9,
                    color="white" if top and shown[i, j] > 0.6 * top else "black")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(matrix) / max(1, matrix.sum())
    ax.set_title(f"{title} (accuracy {accuracy:.0%}, {matrix.sum()} images)")
    fig.tlh_matrix = matrix
    return fig
