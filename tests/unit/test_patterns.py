"""Gradient ascent climbs filters that are silent on the start image.

With ImageNet weights every filter of VGG16's `block5_conv3` is silent on a
noise canvas: after the ReLU the response and its gradient are exactly 0.
`filter_patterns` climbs the response before the ReLU, so it still gains.
"""

from __future__ import annotations

import numpy as np
import tinymodel

from tlhelpers import viz


def silenced_base():
    """The tiny base with block2_conv2's biases so low that every filter is off."""
    base = tinymodel.tiny_base()
    conv = base.get_layer("block2_conv2")
    kernel, bias = conv.get_weights()
    conv.set_weights([kernel, bias - 1e4])
    return base


def test_the_silent_layer_really_is_silent_after_its_relu():
    base = silenced_base()
    maps = viz.layer_model(base, ["block2_conv2"])(
        np.full((1, 32, 32, 3), 128.0, dtype="float32"))
    assert float(np.max(maps)) == 0.0


def test_silent_filters_still_climb_before_their_relu():
    base = silenced_base()
    patterns = viz.filter_patterns(base, "block2_conv2", filters=3, steps=5)
    assert (patterns.start < 0).all()  # below the ReLU's threshold
    assert (patterns.gain > 0).all(), patterns.gain


def test_the_learners_model_keeps_its_relu():
    base = silenced_base()
    viz.filter_patterns(base, "block2_conv2", filters=1, steps=1)
    assert base.get_layer("block2_conv2").activation.__name__ == "relu"
