"""The exercise checks of notebook 05: right answers pass, likely slips get their hint."""

from __future__ import annotations

import keras
import pandas as pd
import pytest

from tlhelpers.checks import nb05

PROBE = {
    "VGG16, imagenet weights": {"block1_pool": 0.62, "block2_pool": 0.70,
                                "block3_pool": 0.80, "block4_pool": 0.86,
                                "block5_pool": 0.78},
    "VGG16, random weights (control)": {"block1_pool": 0.58, "block2_pool": 0.66,
                                        "block3_pool": 0.55, "block4_pool": 0.60,
                                        "block5_pool": 0.50},
}


@pytest.fixture(scope="module")
def vgg16():
    """VGG16's layers at 150 px, random weights: shapes and names are what count."""
    return keras.applications.VGG16(weights=None, include_top=False,
                                    input_shape=(150, 150, 3))


@pytest.fixture(scope="module")
def changes(vgg16):
    """block5 and a two-layer head moved, everything below stayed."""
    rows = [{"layer": layer.name, "relative_change":
             0.01 if layer.name.startswith("block5") else 0.0}
            for layer in vgg16.layers if layer.weights]
    rows += [{"layer": "dense", "relative_change": 0.2},
             {"layer": "predictions", "relative_change": 0.3}]
    return pd.DataFrame(rows)


def test_widest_gap_reads_the_difference_at_one_block():
    # Gaps: 4, 4, 25, 26, 28 points: block5 has the widest, block4 the peak.
    check = nb05.check_widest_gap
    assert not check(None, PROBE).answered
    for right in (28, 28.0, 0.28, "28", 27.6):
        assert check(right, PROBE), right
    assert "block5_pool" in check(28, PROBE).message
    assert "order" in check(-28, PROBE).message
    assert "best accuracy" in check(86, PROBE).message
    # The printed sentence invites peak minus the control's best: 86 - 66.
    different = check(20, PROBE)
    assert not different and "two different blocks" in different.message
    assert "gap at block4_pool" in check(0.26, PROBE).message
    assert "largest difference" in check(15, PROBE).message
    for junk in ("many", [28], True, float("nan")):
        assert "one number" in check(junk, PROBE).message


def test_widest_gap_when_both_lines_peak_at_one_block():
    probe = {"learned": {"a": 0.9, "b": 0.6}, "control": {"a": 0.5, "b": 0.4}}
    assert nb05.check_widest_gap(40, probe)
    # Peak minus the control's best is the right gap here: no false hint.
    assert "largest difference" in nb05.check_widest_gap(10, probe).message


def test_moved_layers_counts_weights_not_layers(vgg16, changes):
    # The top 8 of VGG16 notop: block4_conv1..3, block4_pool, block5_conv1..3,
    # block5_pool: 6 with weights, plus the head's 2.
    assert nb05.moved_if_unfrozen(changes, vgg16, 8) == 8
    assert nb05.moved_if_unfrozen(changes, vgg16, 4) == 5
    assert not nb05.check_moved_layers(None, changes, vgg16).answered
    assert nb05.check_moved_layers(8, changes, vgg16)
    assert nb05.check_moved_layers(9, changes, vgg16, n_unfrozen=10)
    hints = {given: nb05.check_moved_layers(given, changes, vgg16).message
             for given in (5, 10, 6, 12, "eight", True)}
    assert "top 4 layers" in hints[5]  # what moved in this run
    assert "pooling layers" in hints[10]  # counted the pools
    assert "head trains too" in hints[6]  # forgot the head
    assert "List `base_model.layers[-8:]`" in hints[12]
    assert "whole number" in hints["eight"] and "whole number" in hints[True]
    # With the top 8, pools and head are two each: counting every layer and
    # no head gives the right number. With the top 10 it does not.
    assert "every unfrozen layer" in nb05.check_moved_layers(
        10, changes, vgg16, n_unfrozen=10).message


def test_map_shape_at_another_size(vgg16):
    assert nb05.map_shape(vgg16, "block4_pool", 224) == (14, 14, 512)
    assert nb05.map_shape(vgg16, "block4_pool", 150) == (9, 9, 512)
    assert nb05.map_shape(vgg16, "block3_pool", 100) == (12, 12, 256)
    with pytest.raises(ValueError, match="not in"):
        nb05.map_shape(vgg16, "nope", 224)
    check = nb05.check_map_shape
    assert not check(None, vgg16, "block4_pool", 224).answered
    right = check((14, 14, 512), vgg16, "block4_pool", 224)
    assert right and "(9, 9, 512)" in right.message and "150-pixel" in right.message
    assert check([14, 14, 512], vgg16, "block4_pool", 224)
    assert "this course's photos" in check((9, 9, 512), vgg16, "block4_pool",
                                           224).message
    assert "channels" in check((14, 14, 256), vgg16, "block4_pool", 224).message
    assert "its own pooling" in check((28, 28, 512), vgg16, "block4_pool",
                                      224).message
    assert "its own pooling" in check((7, 7, 512), vgg16, "block4_pool",
                                      224).message
    assert "halves" in check((224, 224, 512), vgg16, "block4_pool", 224).message
    assert "rounding down" in check((15, 15, 512), vgg16, "block4_pool",
                                    224).message
    assert "three integers" in check("14x14", vgg16, "block4_pool", 224).message
    assert "Three numbers" in check((1, 14, 14, 512), vgg16, "block4_pool",
                                    224).message


def test_changed_blocks_follow_the_lowest_moved_layer(vgg16, changes):
    blocks = [f"block{i}_pool" for i in range(1, 6)]
    assert nb05.blocks_changed(blocks, changes, vgg16) == ["block5_pool"]
    check = nb05.check_changed_blocks
    assert not check(None, blocks, changes, vgg16).answered
    assert check(["block5_pool"], blocks, changes, vgg16)
    assert check("block5_pool", blocks, changes, vgg16)
    every = check(blocks, blocks, changes, vgg16)
    assert not every and "frozen" in every.message
    assert "lowest layer" in check([], blocks, changes, vgg16).message
    assert "not a probed block" in check(["block6_pool"], blocks, changes,
                                         vgg16).message
    assert "list of block names" in check(5, blocks, changes, vgg16).message
    # Had block4_conv3 moved as well, block4's output would change too.
    deeper = changes.copy()
    deeper.loc[deeper["layer"] == "block4_conv3", "relative_change"] = 0.02
    assert check(["block4_pool", "block5_pool"], blocks, deeper, vgg16)
    assert not check(["block5_pool"], blocks, deeper, vgg16)
