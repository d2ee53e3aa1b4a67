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


@pytest.mark.parametrize("answer", [None, "8", 8.0, 0, 3, 4, 5, 7, 9, 12, 40])
def test_wrong_depths_get_hints_without_the_answer(vgg, answer):
    base, _ = vgg
    verdict = nb03.check_unfreeze_depth(answer, base)
    assert not verdict
    assert "8" not in verdict.message.replace(f"N={answer}", "")


def test_right_depth_passes(vgg):
    base, _ = vgg
    assert nb03.check_unfreeze_depth(8, base)
    assert nb03.check_unfreeze_depth(np.int64(8), base)


def test_block_params(vgg):
    base, _ = vgg
    names = ["block5_conv1", "block5_conv2", "block5_conv3"]
    full = sum(int(np.prod(w.shape)) for n in names
               for w in base.get_layer(n).weights)
    kernels = sum(int(np.prod(base.get_layer(n).kernel.shape)) for n in names)
    assert nb03.check_block_params(full, base, n_unfrozen=4)
    close = nb03.check_block_params(kernels, base, n_unfrozen=4)
    assert not close and "bias" in close.message
    assert not nb03.check_block_params(full + 1, base, n_unfrozen=4)
    assert not nb03.check_block_params(None, base, n_unfrozen=4)
    assert str(full) not in nb03.check_block_params(1, base).message


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


def test_disagreements_pass_only_with_both_counts_right():
    head = np.array([1, 1, 0, 0, 1, 0, 1, 1, 0, 1], dtype=bool)
    tuned = np.array([1, 0, 1, 1, 1, 0, 1, 1, 1, 1], dtype=bool)
    # only tuned right: 3 (photos 2, 3, 8); only head right: 1 (photo 1)
    assert nb03.check_disagreements(3, 1, head, tuned)
    assert nb03.check_disagreements(np.int64(3), np.int64(1), head, tuned)
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
