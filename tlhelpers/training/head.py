"""Retrain the classifier head on stored features in seconds.

Taught in `02_feature_extraction.ipynb`, where the head widget wraps it. The
frozen base ran once (`tlhelpers.features.extract`); every retrain here only
trains the small head on the stored arrays.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from ..models import HEADS, build_head
from .recipes import (
    FitResult,
    check_epochs,
    check_lr,
    compile_for_training,
    fit,
    test_accuracy,
)


@dataclasses.dataclass
class HeadResult(FitResult):
    """A FitResult with the head's settings and the trained head model."""

    head: str = "gap"
    dropout: float = 0.5
    lr: float = 1e-3
    trainable_params: int = 0
    model: keras.Model | None = dataclasses.field(default=None, repr=False)
    # On the test photos, when `retrain_head(..., test=...)` was given them.
    test_accuracy: float | None = None

    def row(self) -> dict:
        """One line of a results table (with `test_accuracy` when it was graded)."""
        last = lambda key: (self.history.get(key) or [None])[-1]  # noqa: E731
        row = {"head": self.head, "dropout": self.dropout, "epochs": self.epochs_done,
               "lr": self.lr, "params": self.trainable_params,
               "final_train_accuracy": last("accuracy"),
               "best_val_accuracy": self.best_val_accuracy}
        if self.test_accuracy is not None:
            row["test_accuracy"] = self.test_accuracy
        row["seconds"] = round(self.seconds, 2)
        return row


def as_arrays(features, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) from a FeatureSet or an (x, y) pair, checked."""
    if hasattr(features, "features") and hasattr(features, "labels"):
        x, y = features.features, features.labels
    elif isinstance(features, (tuple, list)) and len(features) == 2:
        x, y = features
    else:
        raise ValueError(f"{name}={type(features).__name__} is not valid; expected "
                         "a FeatureSet (from tlhelpers.features.extract) or an "
                         "(x, y) pair of arrays")
    x, y = np.asarray(x, dtype=np.float32), np.asarray(y)
    if x.ndim < 2 or len(x) == 0 or len(x) != len(y):
        raise ValueError(f"{name} has features of shape {x.shape} and "
                         f"{len(y)} labels; expected (N, ...) features and N labels "
                         "with N >= 1")
    return x, y.astype(np.int32)


def retrain_head(train_features, val_features, n_classes: int, head: str = "gap",
                 dropout: float = 0.5, epochs: int = 10, lr: float = 1e-3,
                 seed: int = 42, dense: int = 256, test=None,
                 **fit_kwargs) -> HeadResult:
    """A new head (Flatten or GAP, Dense, optional Dropout) trained on stored features.

    Taught in `02_feature_extraction.ipynb`. `train_features`/`val_features`: a
    FeatureSet or an (x, y) pair. The same `seed` gives the same starting
    weights and batch order, so two runs differ only by the settings changed.
    Validation picks the best epoch (its weights are kept); `test`, stored
    features of the test photos (a FeatureSet or an (x, y) pair), grades that
    head once, in `.test_accuracy`.
    `fit_kwargs` go to `tlhelpers.training.fit` (live_plot, output, run_log...);
    curves are off unless asked for.
    """
    if head not in HEADS:
        raise ValueError(f"head={head!r} is unknown; valid heads: {', '.join(HEADS)}")
    epochs = check_epochs(epochs)
    lr = check_lr(lr)
    x_train, y_train = as_arrays(train_features, "train_features")
    x_val, y_val = as_arrays(val_features, "val_features")
    if x_train.shape[1:] != x_val.shape[1:]:
        raise ValueError(f"val_features have shape {x_val.shape[1:]} per image but "
                         f"train_features have {x_train.shape[1:]}; extract both "
                         "with the same base and image size")
    graded = None
    if test is not None:
        graded = as_arrays(test, "test")
        if graded[0].shape[1:] != x_train.shape[1:]:
            raise ValueError(f"test has shape {graded[0].shape[1:]} per image but "
                             f"train_features have {x_train.shape[1:]}; extract "
                             "both with the same base and image size")
    if head == "gap" and x_train.ndim != 4:
        raise ValueError(f"head='gap' needs feature maps (N, h, w, c); got shape "
                         f"{x_train.shape}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed={seed!r} is not valid; expected an integer")
    top = int(max(y.max() for y in (y_train, y_val,
                                     *(() if graded is None else (graded[1],)))))
    if isinstance(n_classes, int) and not isinstance(n_classes, bool) \
            and top >= n_classes >= 2:
        raise ValueError(f"n_classes={n_classes} is too small for label {top}; "
                         f"expected n_classes > {top}")
    keras.utils.set_random_seed(seed)
    model = build_head(x_train.shape[1:], n_classes, head=head, dense=dense,
                       dropout=float(dropout))
    compile_for_training(model, lr)
    fit_kwargs.setdefault("live_plot", False)
    fit_kwargs.setdefault("rerun_note", "Running the same cell again trains a new "
                                        "head from the start.")
    result = fit(model, (x_train, y_train), (x_val, y_val), epochs, **fit_kwargs)
    params = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    graded_accuracy = None if graded is None else test_accuracy(model, graded)
    return HeadResult(**dataclasses.asdict(result), head=head, dropout=float(dropout),
                      lr=lr, trainable_params=params, model=model,
                      test_accuracy=graded_accuracy)
