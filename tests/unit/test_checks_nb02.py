"""Notebook 02's self-checks: any right answer passes, each likely wrong one hears why."""

from __future__ import annotations

import types

import pytest

from tlhelpers.checks import nb02

# Exercise 1: the shape of block3_pool, which nothing above the exercise prints.

def test_pool_shapes_follow_vgg16():
    assert nb02.expected_feature_shape(150) == (4, 4, 512)
    assert nb02.pool_shape(150, 3) == (18, 18, 256)
    assert nb02.pool_shape(224, 4) == (14, 14, 512)


@pytest.mark.parametrize("size, layer, right", [
    (150, "block3_pool", (18, 18, 256)),
    (224, "block3_pool", (28, 28, 256)),
    (150, "block4_pool", (9, 9, 512)),
    (150, "block5_pool", (4, 4, 512)),
])
def test_feature_shape_accepts_the_right_shape_at_any_size(size, layer, right):
    verdict = nb02.check_feature_shape(right, image_size=size, layer=layer)
    assert verdict, verdict.message
    assert nb02.check_feature_shape(list(right), image_size=size, layer=layer)


def test_feature_shape_says_why_at_150_px_block3_pool():
    def says(answer, words):
        verdict = nb02.check_feature_shape(answer, image_size=150,
                                           layer="block3_pool")
        assert not verdict and verdict.answered
        assert words in verdict.message, verdict.message
        assert "(18, 18, 256)" not in verdict.message  # never the answer

    says((18, 18, 512), "filters of the block")        # 512 everywhere
    says((4, 4, 512), "whole base's output")           # the printed output
    says((9, 9, 512), "`block4_pool`")                  # one pooling too many
    says((37, 37, 128), "`block2_pool`")                # one pooling too few
    says((19, 19, 256), "rounds down")                  # rounded up
    says((18.75, 18.75, 256), "rounds down")            # not rounded
    says((1, 18, 18, 256), "batch dimension")
    says((18, 256), "three dimensions")
    says(7, "tuple of three numbers")
    says((20, 20, 256), "halves height and width")


def test_feature_shape_your_turn_and_correct_message():
    untouched = nb02.check_feature_shape(None, image_size=150, layer="block3_pool")
    assert not untouched and not untouched.answered
    assert repr(untouched).startswith("Your turn")
    right = nb02.check_feature_shape((18, 18, 256), 150, "block3_pool")
    assert "82,944" in right.message and "10 times" in right.message


def test_feature_shape_refuses_a_layer_that_is_not_a_pooling():
    with pytest.raises(ValueError, match="block3_pool"):
        nb02.check_feature_shape((18, 18, 256), 150, "block3_conv3")


# Exercise 2: the Flatten head, like with like.

def _head_result(**changes):
    fields = dict(head="flatten", dropout=0.5, epochs_done=5, lr=1e-3,
                  best_val_accuracy=0.7, trainable_params=2_098_693,
                  history={"accuracy": [0.6, 0.99]}, test_accuracy=0.785)
    fields.update(changes)
    return types.SimpleNamespace(**fields)


GAP = types.SimpleNamespace(head="gap", trainable_params=132_613,
                            history={"accuracy": [0.6, 0.92]},
                            test_accuracy=0.79)
SHAPE = dict(feature_shape=(4, 4, 512), n_classes=5)


def test_flatten_head_params_count_like_keras():
    assert nb02.flatten_head_params((4, 4, 512), 5) == 2_098_693


def test_flatten_head_check_reports_the_test_accuracy():
    verdict = nb02.check_flatten_head(_head_result(), epochs=5)
    assert verdict
    assert "test accuracy 78%" in verdict.message
    assert "99%" in verdict.message  # final training accuracy


def test_flatten_head_check_compares_with_the_gap_head():
    verdict = nb02.check_flatten_head(_head_result(), epochs=5, gap=GAP, **SHAPE)
    assert verdict, verdict.message
    assert "132,613" in verdict.message and "16 times fewer" in verdict.message
    assert "+20 points for Flatten, +13 for GAP" in verdict.message


def test_flatten_head_check_without_test_features_says_how_to_grade():
    verdict = nb02.check_flatten_head(_head_result(test_accuracy=None), epochs=5)
    assert verdict  # the exercise is right; the grade is one argument away
    assert "test=test_features" in verdict.message
    with_gap = nb02.check_flatten_head(_head_result(test_accuracy=None),
                                       epochs=5, gap=GAP)
    assert with_gap and "test=test_features" in with_gap.message


@pytest.mark.parametrize("answer, words", [
    (_head_result(head="gap"), "averages the feature map"),
    (_head_result(dropout=0.0), "two things differ"),
    (_head_result(epochs_done=10), "default is another number"),
    (_head_result(lr=1e-2), "learning rate"),
    (_head_result(trainable_params=4_197_381), "keep `dense`"),
    (0.7, "not a number"),
    ({"accuracy": [0.9]}, "not a number, a history"),
])
def test_flatten_head_check_says_why_a_wrong_answer_is_wrong(answer, words):
    verdict = nb02.check_flatten_head(answer, epochs=5, gap=GAP, **SHAPE)
    assert not verdict and verdict.answered
    assert words in verdict.message, verdict.message


def test_flatten_head_check_your_turn():
    untouched = nb02.check_flatten_head(None, epochs=5, gap=GAP, **SHAPE)
    assert not untouched and not untouched.answered
    assert "retrain_head" in untouched.message
