"""Self-check verdicts: correct, a wrong answer, or not answered yet.

Run All leaves every exercise at its placeholder (`None`): that is the
learner's turn, shown in grey, not the orange "Not yet" of a wrong answer.
"""

from __future__ import annotations

import types

import numpy as np
import pandas as pd

from tlhelpers import checks
from tlhelpers.checks import nb00, nb02, nb03, nb05


def test_the_three_verdicts_read_and_colour_differently():
    right, wrong, untouched = (checks.passed("ok"), checks.hint("look again"),
                               checks.your_turn("set `answer`"))
    assert [bool(v) for v in (right, wrong, untouched)] == [True, False, False]
    assert [repr(v).split(":")[0] for v in (right, wrong, untouched)] == [
        "Correct", "Not yet", "Your turn"]
    colours = [v._repr_html_().split("solid ")[1][:7] for v in (right, wrong, untouched)]
    assert len(set(colours)) == 3
    assert "Your turn" in untouched._repr_html_()
    assert "Not yet" not in untouched._repr_html_()


def _head_result(**changes):
    fields = dict(head="flatten", dropout=0.5, epochs_done=5,
                  best_val_accuracy=0.7, trainable_params=2_100_000,
                  history={"accuracy": [0.6, 0.99]})
    fields.update(changes)
    return types.SimpleNamespace(**fields)


def test_flatten_head_check_asks_for_like_with_like():
    assert nb02.check_flatten_head(_head_result(), epochs=5)
    assert "99%" in repr(nb02.check_flatten_head(_head_result(), epochs=5))
    assert not nb02.check_flatten_head(_head_result(dropout=0.0), epochs=5)
    assert not nb02.check_flatten_head(_head_result(epochs_done=10), epochs=5)
    assert not nb02.check_flatten_head(0.7, epochs=5)


def test_every_placeholder_gets_your_turn_and_a_wrong_answer_not_yet():
    items = [("photo.jpg", 0)] * 40
    probe = {"VGG16, imagenet weights": {"block1_pool": 0.6, "block4_pool": 0.8},
             "VGG16, random weights (control)": {"block1_pool": 0.55,
                                                 "block4_pool": 0.5}}
    changes = pd.DataFrame({"layer": ["block1_conv1", "block2_conv1", "dense"],
                            "relative_change": [0.0, 0.1, 0.2]})
    base = types.SimpleNamespace(layers=[
        types.SimpleNamespace(name=name, weights=[0])
        for name in ("block1_conv1", "block2_conv1")])
    result = types.SimpleNamespace(lrs=np.geomspace(1e-6, 1e-1, 6),
                                   losses=np.array([2, 1.9, 1.5, 1, 0.9, 3.0]),
                                   suggestion=1e-4)
    cases = [
        (nb00.check_last_batch_shape, (items, 96, 32), (32, 96, 96, 3)),
        (nb02.check_feature_shape, (), (1, 2, 3)),
        (nb02.check_flatten_head, (5,), _head_result(head="gap")),
        (nb03.check_lr_choice, (result,), 10.0),
        (nb05.check_widest_gap, (probe,), 10.0),
        (nb05.check_moved_layers, (changes, base, 1), 1),
    ]
    for check, args, wrong in cases:
        untouched = check(None, *args)
        assert not untouched and not untouched.answered, check.__name__
        assert repr(untouched).startswith("Your turn"), check.__name__
        attempt = check(wrong, *args)
        assert not attempt and attempt.answered, check.__name__
        assert repr(attempt).startswith("Not yet"), check.__name__


def test_strategy_choice_goes_to_the_faster_of_a_tie():
    from tlhelpers.checks import nb04

    results = pd.DataFrame({
        "strategy": ["scratch", "feature-extraction", "fine-tuning"] * 2,
        "images_per_class": [5, 5, 5, 80, 80, 80],
        "best_val_accuracy": [0.30, 0.52, 0.53, 0.45, 0.78, 0.88],
        "test_accuracy": [0.28, 0.50, 0.55, 0.44, 0.80, 0.86],
        "seconds": [9.0, 0.5, 6.0, 40.0, 2.0, 60.0]})
    results.attrs.update(n_val=150, n_test=150)
    assert not nb04.check_choice(None, results).answered
    # At 5 per class fine-tuning leads by 1 point: a tie, extraction is faster.
    right = nb04.check_choice("feature-extraction", results)
    assert right and "50.0%" in right.message    # graded on the test photos
    tie = nb04.check_choice("fine-tuning", results)
    assert not tie and "faster" in tie.message
    assert not nb04.check_choice("scratch", results)
    # At 80 per class fine-tuning leads by 10 points, beyond the noise (~5).
    assert nb04.check_choice("fine-tuning", results, size=80)
    assert not nb04.check_choice("feature-extraction", results, size=80)
    assert not nb04.check_choice("boosting", results)


def test_strategy_choice_is_picked_on_validation_not_test():
    from tlhelpers.checks import nb04

    results = pd.DataFrame({
        "strategy": ["scratch", "feature-extraction", "fine-tuning"],
        "images_per_class": [80, 80, 80],
        "best_val_accuracy": [0.45, 0.70, 0.88],
        "test_accuracy": [0.44, 0.86, 0.80],
        "seconds": [40.0, 2.0, 60.0]})
    results.attrs.update(n_val=400, n_test=400)
    assert nb04.check_choice("fine-tuning", results)
    wrong = nb04.check_choice("feature-extraction", results)
    assert not wrong and "grade, they do not pick" in wrong.message
