"""Notebook 02's Flatten-head exercise: graded on the test photos when asked."""

from __future__ import annotations

import types

from tlhelpers.checks import nb02


def _head_result(**changes):
    fields = dict(head="flatten", dropout=0.5, epochs_done=5,
                  best_val_accuracy=0.7, trainable_params=2_100_000,
                  history={"accuracy": [0.6, 0.99]}, test_accuracy=0.785)
    fields.update(changes)
    return types.SimpleNamespace(**fields)


def test_flatten_head_check_reports_the_test_accuracy():
    verdict = nb02.check_flatten_head(_head_result(), epochs=5)
    assert verdict
    assert "test accuracy 78%" in verdict.message
    assert "99%" in verdict.message  # final training accuracy


def test_flatten_head_check_without_test_features_says_how_to_grade():
    verdict = nb02.check_flatten_head(_head_result(test_accuracy=None), epochs=5)
    assert verdict  # the exercise is right; the grade is one argument away
    assert "test=test_features" in verdict.message
