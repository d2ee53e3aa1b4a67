"""training.computing_in: mixed bfloat16 for a block, everything put back after."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tlhelpers.training import computing_in


def shared_models():
    """A small base and a classifier around it sharing its layers, as the course's top model."""
    keras.utils.set_random_seed(0)
    base = keras.Sequential([keras.Input((6, 6, 3)),
                             keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
                             keras.layers.GlobalAveragePooling2D(name="pool")],
                            name="base")
    inputs = keras.Input((6, 6, 3))
    x = base(inputs)
    x = keras.layers.Dense(8, activation="relu", name="hidden")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    return base, keras.Model(inputs, outputs)


def data(n=16):
    rng = np.random.default_rng(0)
    return rng.random((n, 6, 6, 3), dtype=np.float32), rng.integers(0, 3, n)


def test_inside_the_block_layers_compute_in_bfloat16_and_keep_float32_weights():
    base, model = shared_models()
    with computing_in("bfloat16", model) as used:
        assert used == "bfloat16"
        assert base.get_layer("conv").compute_dtype == "bfloat16"
        assert model.get_layer("hidden").compute_dtype == "bfloat16"
        # The softmax stays float32: the loss reads float32 probabilities.
        assert model.get_layer("predictions").compute_dtype == "float32"
        assert all(w.dtype == "float32" for w in model.weights)
        x, y = data()
        model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
        before = base.get_layer("conv").get_weights()[0].copy()
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
        assert not np.array_equal(before, base.get_layer("conv").get_weights()[0])
        assert model.predict(x, verbose=0).dtype == np.float32


def test_after_the_block_every_policy_is_back_and_predict_is_float32_again():
    base, model = shared_models()
    x, _ = data()
    first = model.predict(x, verbose=0)  # traced in float32
    with computing_in("bfloat16", model):
        inside = model.predict(x, verbose=0)
    # bfloat16 keeps about 3 significant digits: close, not equal.
    assert not np.array_equal(first, inside)
    assert np.allclose(first, inside, atol=0.05)
    assert all(layer.dtype_policy.name == "float32" for layer in base.layers)
    assert all(layer.dtype_policy.name == "float32" for layer in model.layers)
    # The step traced in bfloat16 is dropped: the same numbers as before the block.
    assert np.array_equal(model.predict(x, verbose=0), first)


def test_float32_changes_nothing():
    base, model = shared_models()
    model.predict(data()[0], verbose=0)
    traced = model.predict_function
    with computing_in("float32", model) as used:
        assert used == "float32"
        assert base.get_layer("conv").compute_dtype == "float32"
        assert model.predict_function is traced


def test_auto_keeps_float32_on_a_cpu_capped_below_bfloat16(monkeypatch):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    base, model = shared_models()
    with computing_in("auto", model) as used:
        assert used == "float32"
        assert base.get_layer("conv").compute_dtype == "float32"


def test_policies_come_back_when_the_block_raises():
    base, model = shared_models()
    with pytest.raises(RuntimeError, match="stop"):
        with computing_in("bfloat16", model):
            raise RuntimeError("stop")
    assert base.get_layer("conv").compute_dtype == "float32"
    assert model.get_layer("hidden").compute_dtype == "float32"


def test_an_unknown_precision_is_refused_with_the_choices():
    _, model = shared_models()
    with pytest.raises(ValueError, match="'float32', 'bfloat16' or 'auto'"):
        with computing_in("float16", model):
            pass
