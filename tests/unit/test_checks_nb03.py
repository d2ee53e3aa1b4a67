"""Self-checks of 03_fine_tuning.ipynb: right answers pass, wrong ones get a hint.

A hint must never contain the answer itself.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tlhelpers import models  # noqa: E402
from tlhelpers.checks import nb03  # noqa: E402
from tlhelpers.training import LRRangeResult  # noqa: E402


@pytest.fixture(scope="module")
def vgg():
    base = models.load_base("vgg16", weights=None, input_shape=(32, 32, 3))
    return base, models.build_classifier(base, 2, dense=4)


def _digits(message: str, *allowed: str) -> str:
    for text in allowed:
        message = message.replace(text, "")
    return message


@pytest.mark.parametrize("answer", [None, "10", 10.0, 0, 4, 8, 9, 11, 12, 40])
def test_wrong_depths_get_hints_without_the_answer(vgg, answer):
    base, _ = vgg
    verdict = nb03.check_unfreeze_to(answer, base, "block3_conv3")
    assert not verdict
    assert verdict.answered == (answer is not None)
    assert "10" not in _digits(verdict.message, f"N={answer}")


def test_right_depth_passes_and_each_slip_hears_why(vgg):
    base, _ = vgg
    assert nb03.check_unfreeze_to(10, base, "block3_conv3")
    assert nb03.check_unfreeze_to(np.int64(10), base, "block3_conv3")
    # Any layer: the answer is computed from the base, not stored.
    assert nb03.check_unfreeze_to(8, base, "block4_conv1")
    assert not nb03.check_unfreeze_to(10, base, "block4_conv1")
    pool = nb03.check_unfreeze_to(9, base, "block3_conv3")
    assert "block3_pool" in pool.message and "no weights" in pool.message
    short = nb03.check_unfreeze_to(8, base, "block3_conv3")
    assert "block4_conv1" in short.message and "stays frozen" in short.message
    deep = nb03.check_unfreeze_to(11, base, "block3_conv3")
    assert "block3_conv2" in deep.message and "below" in deep.message
    assert "between 1 and" in nb03.check_unfreeze_to(40, base).message


def _conv_params(base, names):
    return sum(int(np.prod(w.shape)) for n in names
               for w in base.get_layer(n).weights)


BLOCK3 = ["block3_conv1", "block3_conv2", "block3_conv3"]
BLOCK4 = ["block4_conv1", "block4_conv2", "block4_conv3"]
BLOCK5 = ["block5_conv1", "block5_conv2", "block5_conv3"]


def test_block_params_pass_with_the_count_for_that_n(vgg):
    base, _ = vgg
    full = _conv_params(base, BLOCK3 + BLOCK4 + BLOCK5)
    assert full == 14_454_528  # VGG16's blocks 3 to 5, at any input size
    assert nb03.check_block_params(full, base, n_unfrozen=12)
    assert nb03.check_block_params(float(full), base, n_unfrozen=12)
    five = _conv_params(base, BLOCK5)
    assert nb03.check_block_params(five, base, n_unfrozen=4)
    untouched = nb03.check_block_params(None, base, n_unfrozen=12)
    assert not untouched and not untouched.answered


def test_block_params_slips_get_their_own_hint_never_the_count(vgg):
    base, _ = vgg
    full = _conv_params(base, BLOCK3 + BLOCK4 + BLOCK5)
    kernels = sum(int(np.prod(base.get_layer(n).kernel.shape))
                  for n in BLOCK3 + BLOCK4 + BLOCK5)
    cases = {
        kernels: "bias",
        _conv_params(base, BLOCK5): "block5 alone",       # the printed count
        _conv_params(base, BLOCK3): "block3 alone",
        _conv_params(base, BLOCK4 + BLOCK5): "block5 and block4 only",
        full + 1: "Too many",
        full - 1: "Too few",
        "14454528": "integer",
    }
    for value, words in cases.items():
        verdict = nb03.check_block_params(value, base, n_unfrozen=12)
        assert not verdict and verdict.answered, value
        assert words in verdict.message, (value, verdict.message)
        assert str(full) not in verdict.message
        assert f"{full:,}" not in verdict.message


def test_ready_to_fine_tune_untouched_is_your_turn_not_a_wrong_answer(vgg):
    base, model = vgg
    models.set_trainable(base, 4)  # where section 4 leaves the base
    untouched = nb03.check_ready_to_fine_tune(model, base, n_unfrozen=8)
    assert not untouched and not untouched.answered
    models.set_trainable(base, 12)
    wrong = nb03.check_ready_to_fine_tune(model, base, n_unfrozen=8)
    assert not wrong and wrong.answered


def test_ready_to_fine_tune_needs_flags_compile_and_a_low_rate(vgg):
    base, model = vgg
    base.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy")
    # The recipe's lines repeated with a larger N: block4 stays frozen.
    for n in (4, 8):
        base.trainable = True
        for layer in base.layers[:-n]:
            layer.trainable = False
    verdict = nb03.check_ready_to_fine_tune(model, base, n_unfrozen=8)
    assert not verdict and "block4_conv1" in verdict.message

    models.set_trainable(base, 8)
    stale = nb03.check_ready_to_fine_tune(model, base, n_unfrozen=8)
    assert not stale and "old set" in stale.message

    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss="sparse_categorical_crossentropy")
    high = nb03.check_ready_to_fine_tune(model, base, n_unfrozen=8)
    assert not high and "rate" in high.message

    model.compile(optimizer=keras.optimizers.Adam(1e-5),
                  loss="sparse_categorical_crossentropy")
    assert nb03.check_ready_to_fine_tune(model, base, n_unfrozen=8)


def test_lr_choice_reads_the_curve():
    lrs = np.geomspace(1e-6, 1e-1, 11)
    losses = np.array([2.0, 2.0, 1.9, 1.6, 1.2, 1.0, 0.95, 1.1, 1.8, 3.0, 6.0])
    result = LRRangeResult(lrs, losses, suggestion=float(lrs[5]))
    assert result.edge == pytest.approx(lrs[7])  # 1.1 is within 25% of 0.95
    assert nb03.check_lr_choice(result.suggestion, result)
    assert nb03.check_lr_choice(float(lrs[4]), result)
    too_high = nb03.check_lr_choice(1e-2, result)
    assert not too_high and "climbing" in too_high.message
    at_edge = nb03.check_lr_choice(float(lrs[7]), result)
    assert not at_edge and "edge" in at_edge.message
    too_low = nb03.check_lr_choice(1e-7, result)
    assert not too_low and "crawl" in too_low.message
    for bad in (None, -1.0, float("nan"), True):
        assert not nb03.check_lr_choice(bad, result)


def _curve():
    lrs = np.geomspace(1e-6, 1e-1, 11)
    # Lowest at lrs[3] (1e-4.5); the floor's edge at lrs[7].
    losses = np.array([1.0, 0.9, 0.85, 0.80, 0.86, 0.9, 0.95, 0.99, 1.8, 3.0,
                       6.0])
    return LRRangeResult(lrs, losses, suggestion=float(lrs[7] / 10))


def test_fastai_minimum_is_a_tenth_of_the_lowest_point():
    result = _curve()
    want = float(result.lrs[3] / 10)
    verdict = nb03.check_fastai_minimum(want, result)
    assert verdict and f"{result.suggestion:.1e}" in verdict.message
    assert nb03.check_fastai_minimum(float(f"{want:.1e}"), result)  # printed
    assert nb03.check_fastai_minimum(np.float32(want), result)
    untouched = nb03.check_fastai_minimum(None, result)
    assert not untouched and not untouched.answered


def test_fastai_minimum_slips_hear_why_without_the_rate():
    result = _curve()
    want = float(result.lrs[3] / 10)
    cases = {
        float(result.lrs[3]): "step back",          # forgot the tenth
        result.suggestion: "course's suggestion",   # the printed one
        float(result.edge): "course's edge",
        0.80: "lowest loss itself",                 # the loss, not the rate
        3: "position",                              # the index
        want * 37: "Not yet",
        -1e-4: "positive",
    }
    for value, words in cases.items():
        verdict = nb03.check_fastai_minimum(value, result)
        assert not verdict and verdict.answered, value
        assert words in verdict.message, (value, verdict.message)
        assert f"{want:.1e}" not in verdict.message
    for bad in (float("nan"), True, "1e-5"):
        verdict = nb03.check_fastai_minimum(bad, result)
        assert not verdict and verdict.answered


def test_fastai_minimum_stops_at_a_diverged_curve():
    lrs = np.geomspace(1e-6, 1e-1, 6)
    losses = np.array([1.0, 0.7, 0.9, 2.0, np.inf, np.nan])
    result = LRRangeResult(lrs, losses, suggestion=float(lrs[0]))
    assert nb03.check_fastai_minimum(float(lrs[1] / 10), result)


def test_disagreements_pass_only_with_both_counts_right():
    head = np.array([1, 1, 0, 0, 1, 0, 1, 1, 0, 1], dtype=bool)
    tuned = np.array([1, 0, 1, 1, 1, 0, 1, 1, 1, 1], dtype=bool)
    # only tuned right: 3 (photos 2, 3, 8); only head right: 1 (photo 1)
    assert nb03.check_disagreements(3, 1, head, tuned)
    assert nb03.check_disagreements(np.int64(3), np.int64(1), head, tuned)
    named = nb03.check_disagreements(3, 1, head, tuned,
                                     names=("head phase", "1e-2 run"))
    assert named and "only the 1e-2 run" in named.message
    untouched = nb03.check_disagreements(None, None, head, tuned)
    assert not untouched and not untouched.answered
    cases = {(1, 3): "swapped", (8, 1): "also the photos", (2, 2): "split is off",
             (3, 0): "Not yet", (3.0, 1): "whole numbers", (3, None): "whole numbers"}
    for (a, b), words in cases.items():
        verdict = nb03.check_disagreements(a, b, head, tuned)
        assert not verdict and verdict.answered and words in verdict.message, (a, b)
        # A hint never gives the counts away.
        assert not {"3", "1"} & set(verdict.message.replace(str(a), "")
                                    .replace(str(b), "")), verdict.message
