"""Self-checks of 04_choosing_a_strategy.ipynb: right answers pass, wrong ones get a hint.

A hint never names the answer: not the strategy the rule picks, not the count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tlhelpers import models
from tlhelpers.checks import nb04


def _results():
    """Three sizes. At 5 a tie (fine-tuning 1 point ahead on validation,
    extraction faster); at 30 fine-tuning clearly ahead on validation but
    behind on test; at 80 fine-tuning clearly ahead on both."""
    frame = pd.DataFrame({
        "strategy": ["scratch", "feature-extraction", "fine-tuning"] * 3,
        "images_per_class": [5] * 3 + [30] * 3 + [80] * 3,
        "best_val_accuracy": [0.30, 0.52, 0.53, 0.40, 0.60, 0.80,
                              0.45, 0.78, 0.88],
        "test_accuracy": [0.28, 0.50, 0.49, 0.38, 0.75, 0.70,
                          0.44, 0.80, 0.86],
        "seconds": [9.0, 0.5, 6.0, 20.0, 1.0, 30.0, 40.0, 2.0, 60.0]})
    frame.attrs.update(n_val=150, n_test=150)
    return frame


RIGHT = {5: "feature-extraction", 30: "fine-tuning", 80: "fine-tuning"}


def test_choices_right_answer_passes_with_the_test_grades():
    verdict = nb04.check_choices(dict(RIGHT), _results())
    assert verdict and repr(verdict).startswith("Correct")
    assert "50.0%" in verdict.message and "86.0%" in verdict.message
    # Keys may be numpy integers or strings of digits (from a DataFrame).
    keyed = {np.int64(k): v for k, v in RIGHT.items()}
    assert nb04.check_choices(keyed, _results())
    assert nb04.check_choices({str(k): v for k, v in RIGHT.items()}, _results())


def test_choices_any_table_is_graded_from_its_own_numbers():
    flipped = _results()
    # Scratch clearly ahead on validation at 5: the rule now picks it.
    flipped.loc[0, "best_val_accuracy"] = 0.90
    assert nb04.check_choices({**RIGHT, 5: "scratch"}, flipped)
    assert not nb04.check_choices(dict(RIGHT), flipped)


def test_choices_placeholder_is_your_turn():
    verdict = nb04.check_choices(None, _results())
    assert not verdict and not verdict.answered
    assert repr(verdict).startswith("Your turn")


def test_choices_picked_on_the_test_photos_is_told_test_grades():
    by_test = {5: "feature-extraction", 30: "feature-extraction",
               80: "fine-tuning"}
    verdict = nb04.check_choices(by_test, _results())
    assert not verdict and verdict.answered
    assert "grade, they do not pick" in verdict.message


def test_choices_best_validation_without_the_tie_rule_is_told_about_ties():
    by_best = {5: "fine-tuning", 30: "fine-tuning", 80: "fine-tuning"}
    verdict = nb04.check_choices(by_best, _results())
    assert not verdict and "tie" in verdict.message
    assert "noise_margin" in verdict.message


def test_choices_one_wrong_size_names_the_size_and_why():
    verdict = nb04.check_choices({**RIGHT, 80: "scratch"}, _results())
    assert not verdict
    assert "2 of 3 right" in verdict.message and "At 80" in verdict.message
    assert "below the best" in verdict.message
    assert "fine-tuning" not in verdict.message


@pytest.mark.parametrize("answer, words", [
    ("fine-tuning", "dict"),
    (["fine-tuning"] * 3, "dict"),
    ({5: "fine-tuning"}, "No choice for 30, 80"),
    ({**RIGHT, 80: "boosting"}, "boosting"),
    ({"five": "scratch"}, "whole numbers"),
])
def test_choices_malformed_answers_get_a_hint(answer, words):
    verdict = nb04.check_choices(answer, _results())
    assert not verdict and verdict.answered and words in verdict.message


def test_choices_without_results_asks_for_them():
    assert "results" in nb04.check_choices(RIGHT, None).message


@pytest.fixture(scope="module")
def vgg():
    return models.load_base("vgg16", weights=None, input_shape=(32, 32, 3))


def _top(base, n):
    return int(sum(layer.count_params() for layer in base.layers[-n:]))


def test_unfrozen_params_right_answer_passes(vgg):
    expected = _top(vgg, 12)
    assert expected == 14_454_528            # block3, block4 and block5
    for answer in (expected, np.int64(expected), float(expected)):
        verdict = nb04.check_unfrozen_params(answer, vgg, 12)
        assert verdict and "block3_conv1 .. block5_pool" in verdict.message


def test_unfrozen_params_placeholder_is_your_turn(vgg):
    verdict = nb04.check_unfrozen_params(None, vgg, 12)
    assert not verdict and not verdict.answered


def _hint(vgg, answer):
    verdict = nb04.check_unfrozen_params(answer, vgg, 12)
    assert not verdict and verdict.answered
    assert f"{_top(vgg, 12):,}" not in verdict.message
    assert str(_top(vgg, 12)) not in verdict.message
    return verdict.message


def test_unfrozen_params_the_printed_depth_8_count_is_told_apart(vgg):
    assert "top 8 layers" in _hint(vgg, _top(vgg, 8))


def test_unfrozen_params_twelve_convolutions_are_told_pooling_counts(vgg):
    convs = [layer for layer in vgg.layers if layer.weights][-12:]
    answer = sum(layer.count_params() for layer in convs)
    assert "pooling" in _hint(vgg, answer) and "convolutions" in _hint(vgg, answer)


def test_unfrozen_params_other_wrong_answers(vgg):
    layers = vgg.layers[-12:]
    kernels = sum(int(np.prod(w.shape)) for layer in layers
                  for w in layer.weights if len(w.shape) > 1)
    assert "biases" in _hint(vgg, kernels)
    assert "whole base" in _hint(vgg, vgg.count_params())
    assert "one by one" in _hint(vgg, 123)
    assert "whole number" in _hint(vgg, "many")
    assert "whole number" in _hint(vgg, 1.5)
