"""Notebook 01's exercises: a convolution's parameters, the gap at the best epoch."""

from __future__ import annotations

import types

import pytest

from tlhelpers.checks import nb01


def _conv(answer):
    return nb01.check_conv_params(answer, kernel=3, channels_in=128, filters=256)


def test_conv_params_right_answer_passes():
    verdict = _conv((3 * 3 * 128 + 1) * 256)
    assert verdict and "295,168" in verdict.message
    assert _conv(295168.0)
    # Any layer: the count comes from the sizes given, not one number.
    assert nb01.check_conv_params((5 * 5 * 3 + 1) * 8, kernel=5,
                                  channels_in=3, filters=8)
    assert not nb01.check_conv_params(295168, kernel=5, channels_in=3,
                                      filters=8)


def test_conv_params_placeholder_is_your_turn():
    verdict = _conv(None)
    assert not verdict and not verdict.answered


@pytest.mark.parametrize("answer, words", [
    (3 * 3 * 128 * 256, "one bias"),
    (3 * 3 * 129 * 256, "not one per kernel position"),
    (3 * 3 * 256 + 256, "all the input channels"),
    (3 * 3 * 128 + 1, "one filter"),
    ((128 + 1) * 256, "1x1 kernel"),
    ((3 * 3 * 64 + 1) * 256, "input channels are not"),
    (12345, "Count the weights of one filter"),
    ("many", "one number"),
    (True, "one number"),
])
def test_conv_params_wrong_answers_get_their_hint(answer, words):
    verdict = _conv(answer)
    assert not verdict and verdict.answered
    assert words in verdict.message, verdict.message


HISTORY = types.SimpleNamespace(history={
    "accuracy": [0.30, 0.45, 0.60, 0.72, 0.85],
    "val_accuracy": [0.32, 0.50, 0.58, 0.61, 0.57],
})
# Best validation at the 4th epoch (position 3): gap 0.72 - 0.61 = 0.11;
# at the last epoch 0.85 - 0.57 = 0.28.


def test_best_epoch_gap_right_answer_passes_also_rounded():
    verdict = nb01.check_best_epoch_gap(0.72 - 0.61, HISTORY)
    assert verdict and "epoch 4 of 5" in verdict.message
    assert nb01.check_best_epoch_gap(0.11, HISTORY)
    assert nb01.check_best_epoch_gap(0.110, HISTORY.history)  # a dict works


def test_best_epoch_gap_accepts_any_epoch_that_ties_for_best():
    tied = {"accuracy": [0.5, 0.7, 0.9], "val_accuracy": [0.6, 0.6, 0.4]}
    assert nb01.check_best_epoch_gap(-0.1, tied)
    assert nb01.check_best_epoch_gap(0.1, tied)


def test_best_epoch_gap_placeholder_is_your_turn():
    verdict = nb01.check_best_epoch_gap(None, HISTORY)
    assert not verdict and not verdict.answered


@pytest.mark.parametrize("answer, words", [
    (0.85 - 0.57, "last epoch"),
    (0.61 - 0.72, "Check the order"),
    (0.85 - 0.61, "same epoch"),
    (0.60 - 0.58, "One epoch off"),
    (0.61, "one of the two accuracies"),
    (0.5, "position of the highest value"),
    ([0.11], "one number"),
])
def test_best_epoch_gap_wrong_answers_get_their_hint(answer, words):
    verdict = nb01.check_best_epoch_gap(answer, HISTORY)
    assert not verdict and verdict.answered
    assert words in verdict.message, verdict.message


def test_best_epoch_gap_needs_a_history():
    verdict = nb01.check_best_epoch_gap(0.1, {"loss": [1.0]})
    assert not verdict and "History" in verdict.message
