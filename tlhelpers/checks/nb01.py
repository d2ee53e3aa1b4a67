"""Self-checks for the exercises of `01_train_from_scratch.ipynb`."""

from __future__ import annotations

import math

from .core import Verdict, hint, passed, your_turn


def _as_number(answer):
    if isinstance(answer, bool):
        return None
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def check_conv_params(answer, kernel: int = 3, channels_in: int = 32,
                      filters: int = 64) -> Verdict:
    """Exercise 1: parameters of a Conv2D layer (k x k kernels, c_in -> filters)."""
    weights = kernel * kernel * channels_in * filters
    expected = weights + filters
    if answer is None:
        return your_turn("Set `answer` to a whole number. Each filter looks at a "
                         f"{kernel}x{kernel} patch of every input channel.")
    value = _as_number(answer)
    if value is None:
        return hint("Give one number (an int), for example a product of the "
                    "layer's sizes.")
    if value == expected:
        return passed(f"{expected:,} = ({kernel}*{kernel}*{channels_in} + 1) * "
                      f"{filters}: one weight per kernel position and input "
                      "channel, plus one bias, for each filter.")
    if value == weights:
        return hint("Almost: every filter also has one bias.")
    if value in (kernel * kernel * filters + filters, kernel * kernel * filters):
        return hint("A filter spans all the input channels, not just one.")
    if value == kernel * kernel * channels_in + 1:
        return hint("That is one filter; the layer has several.")
    return hint("Count the weights of one filter (height x width x input "
                "channels, plus a bias), then multiply by the number of filters. "
                "You can compare with `keras.layers.Conv2D(...).count_params()` "
                "after building the layer.")


def _history_values(history) -> dict:
    return getattr(history, "history", history) or {}


def check_gap(answer, history) -> Verdict:
    """Exercise 2: training minus validation accuracy at the last epoch of `history`."""
    values = _history_values(history)
    if "accuracy" not in values or "val_accuracy" not in values:
        return hint("Pass the History returned by `model_aug.fit(...)` as the "
                    "second argument.")
    train, val = float(values["accuracy"][-1]), float(values["val_accuracy"][-1])
    expected = train - val
    if answer is None:
        return your_turn("Set `answer` to a number. `history_aug.history` is a dict "
                         "of lists, one value per epoch.")
    value = _as_number(answer)
    if value is None:
        return hint("Give one number (a float), not a list or a string.")
    if math.isclose(value, expected, abs_tol=1e-6):
        verdict = ("the model does better on images it trained on"
                   if expected > 0 else "no overfitting gap at this epoch yet")
        return passed(f"gap {expected:+.3f}: {verdict}.")
    if math.isclose(value, -expected, abs_tol=1e-6):
        return hint("Check the order: training accuracy minus validation "
                    "accuracy.")
    best_gap = float(max(values["accuracy"])) - float(max(values["val_accuracy"]))
    if math.isclose(value, best_gap, abs_tol=1e-6):
        return hint("Use the values of the last epoch, not the best ones.")
    if any(math.isclose(value, v, abs_tol=1e-6) for v in (train, val)):
        return hint("That is one of the two accuracies; subtract the other.")
    return hint("Take the last value of `history_aug.history['accuracy']` and "
                "of `history_aug.history['val_accuracy']`.")
