"""The TensorFlow behaviour behind `distribute.turn_off_onednn_rewrites`.

With oneDNN's graph rewrites on, TensorFlow 2.21's Conv2D hands back its input
for an empty batch instead of an empty output of the right shape. Under
several CPU replicas a replica with no images then fails in the next layer
("input depth must be evenly divisible by filter depth: 3 vs 64"). Each case
runs in a fresh interpreter because TensorFlow reads `TF_ENABLE_ONEDNN_OPTS`
once, when it is imported. The closest upstream report is the same bug in
Conv3D, fixed in tensorflow/tensorflow#30968; none was found for Conv2D.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

EMPTY_BATCH_CONV = textwrap.dedent("""
    import json
    import tensorflow as tf
    from tensorflow.python.util import _pywrap_util_port
    kernel = tf.zeros((3, 3, 3, 4))  # 3 channels in, 4 out
    images = tf.zeros((BATCH, 8, 8, 3))
    out = tf.nn.conv2d(images, kernel, strides=1, padding="VALID")
    print(json.dumps({"shape": list(out.shape),
                      "onednn": bool(_pywrap_util_port.IsMklEnabled())}))
""")


def conv_output(onednn: str, batch: int) -> dict:
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": onednn, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-c", EMPTY_BATCH_CONV.replace("BATCH", str(batch))],
        env=env, text=True, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("batch", [0, 1])
def test_without_onednn_rewrites_conv2d_shapes_are_right(batch):
    out = conv_output("0", batch)
    assert out["onednn"] is False
    assert out["shape"] == [batch, 6, 6, 4]


def test_with_onednn_rewrites_a_batch_of_one_is_right():
    out = conv_output("1", 1)
    if not out["onednn"]:
        pytest.skip("this TensorFlow build has no oneDNN rewrites to turn on")
    assert out["shape"] == [1, 6, 6, 4]


def test_with_onednn_rewrites_an_empty_batch_comes_back_as_the_input():
    out = conv_output("1", 0)
    if not out["onednn"]:
        pytest.skip("this TensorFlow build has no oneDNN rewrites to turn on")
    # The bug itself. When this fails with [0, 6, 6, 4], a release fixed it:
    # drop distribute.turn_off_onednn_rewrites and the note in docs/scaling_out.md.
    assert out["shape"] == [0, 8, 8, 3], (
        f"oneDNN's Conv2D now gives {out['shape']} for an empty batch")
