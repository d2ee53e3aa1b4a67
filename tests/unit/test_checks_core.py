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


def test_every_placeholder_gets_your_turn_and_a_wrong_answer_not_yet():
    splits = types.SimpleNamespace(files=types.SimpleNamespace(
        counts=lambda: {"train": {"daisy": 40, "roses": 40}}))
    probe = {"VGG16, imagenet weights": {"block1_pool": 0.6, "block4_pool": 0.8}}
    changes = pd.DataFrame({"relative_change": [0.0, 0.1, 0.2]})
    result = types.SimpleNamespace(lrs=np.geomspace(1e-6, 1e-1, 6),
                                   losses=np.array([2, 1.9, 1.5, 1, 0.9, 3.0]),
                                   suggestion=1e-4)
    cases = [
        (nb00.check_train_images_per_class, (splits,), {"daisy": 3}),
        (nb02.check_feature_shape, (), (1, 2, 3)),
        (nb03.check_lr_choice, (result,), 10.0),
        (nb05.check_best_block, (probe,), "block1_pool"),
        (nb05.check_moved_layers, (changes,), 1),
    ]
    for check, args, wrong in cases:
        untouched = check(None, *args)
        assert not untouched and not untouched.answered, check.__name__
        assert repr(untouched).startswith("Your turn"), check.__name__
        attempt = check(wrong, *args)
        assert not attempt and attempt.answered, check.__name__
        assert repr(attempt).startswith("Not yet"), check.__name__
