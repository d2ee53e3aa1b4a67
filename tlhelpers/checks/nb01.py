"""Self-checks for the exercises of `01_train_from_scratch.ipynb`."""

from __future__ import annotations

import math

from .core import Verdict, as_number, hint, passed, your_turn


def check_conv_params(answer, kernel: int = 3, channels_in: int = 128,
                      filters: int = 256) -> Verdict:
    """Exercise 1: parameters of a Conv2D layer (k x k kernels, c_in -> filters)."""
    weights = kernel * kernel * channels_in * filters
    expected = weights + filters
    if answer is None:
        return your_turn("Set `answer` to a whole number, worked out with the "
                         "formula before you let Keras count.")
    value = as_number(answer)
    if value is None:
        return hint("Give one number (an int), for example a product of the "
                    "layer's sizes.")
    if value == expected:
        return passed(f"{expected:,} = ({kernel}*{kernel}*{channels_in} + 1) * "
                      f"{filters}: one weight per kernel position and input "
                      "channel, plus one bias, for each filter.")
    if value == weights:
        return hint("Almost: every filter also has one bias.")
    if value == kernel * kernel * (channels_in + 1) * filters:
        return hint("One bias per filter, not one per kernel position.")
    if value in (kernel * kernel * filters + filters, kernel * kernel * filters):
        return hint("A filter spans all the input channels, not just one.")
    if value in (kernel * kernel * channels_in + 1, kernel * kernel * channels_in):
        return hint("That is one filter; the layer has several.")
    if value == (channels_in + 1) * filters:
        return hint("That counts a 1x1 kernel: each filter looks at a "
                    f"{kernel}x{kernel} patch of every input channel.")
    per_filter = value / filters - 1
    if value % filters == 0 and per_filter % (kernel * kernel) == 0:
        return hint("The formula is right but the input channels are not: "
                    "the layer reads the output of the block before it. How "
                    "many filters does that block's convolution have?")
    return hint("Count the weights of one filter (height x width x input "
                "channels, plus a bias), then multiply by the number of "
                "filters. Then compare with Keras: build the layer on an "
                "input and call `count_params()`.")


def _history_values(history) -> dict:
    return getattr(history, "history", history) or {}


def check_best_epoch_gap(answer, history) -> Verdict:
    """Exercise 2: training minus validation accuracy at the epoch of best validation accuracy."""
    values = _history_values(history)
    if "accuracy" not in values or "val_accuracy" not in values:
        return hint("Pass the History returned by `model.fit(...)` as the "
                    "second argument.")
    train = [float(v) for v in values["accuracy"]]
    val = [float(v) for v in values["val_accuracy"]]
    best = max(val)
    # Several epochs can share the best validation accuracy: any of them counts.
    epochs = [i for i, v in enumerate(val) if v == best]
    gaps = [train[i] - val[i] for i in epochs]
    if answer is None:
        return your_turn("Set `answer` to a number: find the epoch first, then "
                         "subtract at that epoch. `history.history` is a dict "
                         "of lists, one value per epoch.")
    value = as_number(answer)
    if value is None:
        return hint("Give one number (a float), not a list or a string.")

    def near(target, tol=5e-4):  # a value rounded to 3 decimals still counts
        return math.isclose(value, target, abs_tol=tol)

    if any(near(g) for g in gaps):
        i = epochs[0]
        last_gap = train[-1] - val[-1]
        return passed(f"epoch {i + 1} of {len(val)} (Keras counts from 1): "
                      f"validation {val[i]:.1%}, training {train[i]:.1%}, gap "
                      f"{gaps[0]:+.3f}, against {last_gap:+.3f} at the last "
                      "epoch. Keeping the best epoch instead of the last one "
                      "is how validation picks, from notebook 03 on.")
    if any(near(-g) for g in gaps):
        return hint("Check the order: training accuracy minus validation "
                    "accuracy.")
    if near(train[-1] - val[-1]):
        return hint("That is the gap at the last epoch. Find the epoch where "
                    "validation accuracy is highest (`np.argmax`) and take "
                    "both accuracies there.")
    if near(max(train) - best):
        return hint("Both accuracies must come from the same epoch: the one "
                    "with the best validation accuracy, where training "
                    "accuracy need not be at its best.")
    shifted = [train[i + d] - val[i + d] for i in epochs for d in (-1, 1)
               if 0 <= i + d < len(val)]
    if any(near(g) for g in shifted):
        return hint("One epoch off: `np.argmax` gives a position in the list "
                    "(from 0), which is also the position to read both lists "
                    "at.")
    if any(near(v) for v in (best, train[epochs[0]])):
        return hint("That is one of the two accuracies; subtract the other.")
    return hint("Find the position of the highest value in "
                "`history.history['val_accuracy']`, then subtract the "
                "validation accuracy from the training accuracy at that "
                "position.")
