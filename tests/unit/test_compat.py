"""Every Keras/TensorFlow internal the package uses still works on the installed release.

When one of these fails after an upgrade, the message names the function of
`tlhelpers/compat.py` to change; nothing else in the package reaches past the
public API.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tlhelpers import compat


def fix(function: str) -> str:
    return f"the installed Keras/TensorFlow moved this: update compat.{function}"


def small_model():
    inputs = keras.Input(shape=(4,))
    x = keras.layers.Dropout(0.5, seed=1)(keras.layers.Dense(3, name="dense")(inputs))
    return keras.Model(inputs, keras.layers.Dense(2, name="out")(x))


def test_keras_seed_generator_is_read_and_put_back():
    keras.utils.set_random_seed(3)
    keras.random.uniform((1,))  # a draw with no seed makes the global generator
    generator = compat.keras_seed_generator()
    assert generator is not None and hasattr(generator, "state"), fix("keras_seed_generator")
    compat.set_keras_seed_generator(None)
    assert compat.keras_seed_generator() is None, fix("set_keras_seed_generator")
    compat.set_keras_seed_generator(generator)
    assert compat.keras_seed_generator() is generator


def test_seed_generator_states_finds_dropouts_state():
    states = compat.seed_generator_states(small_model())
    assert len(states) == 1, fix("seed_generator_states")


def test_optimizer_variables_are_the_ones_it_was_built_for():
    model = small_model()
    optimizer = keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    tracked = compat.optimizer_variables(optimizer)
    assert tracked is not None, fix("optimizer_variables")
    assert {id(v) for v in tracked} == {id(v) for v in model.trainable_variables}


def test_mark_uncompiled_makes_fit_ask_for_compile():
    model = small_model()
    model.compile(optimizer="adam", loss="mse")
    compat.mark_uncompiled(model)
    with pytest.raises(ValueError, match="compile"):
        model.fit(np.zeros((2, 4)), np.zeros((2, 2)), verbose=0)


def test_the_onednn_probe_exists():
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        pytest.fail(fix("onednn_enabled"))
    assert hasattr(_pywrap_util_port, "IsMklEnabled"), fix("onednn_enabled")
    assert isinstance(compat.onednn_enabled(), bool)


def test_reduce_each_tensor_reduces_a_batch_and_a_scalar():
    import tensorflow as tf

    strategy = compat.reduce_each_tensor(tf.distribute.get_strategy())
    batch = (tf.ones((2, 3)), tf.zeros((2,)))
    summed = strategy.reduce(tf.distribute.ReduceOp.SUM, batch, axis=0)
    assert summed[0].shape == (3,), fix("reduce_each_tensor")
    assert float(strategy.reduce(tf.distribute.ReduceOp.SUM, tf.constant(2.0), axis=0)) == 2.0


@pytest.mark.parametrize("backbone, name", [
    ("vgg16", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    ("resnet50", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    ("mobilenet_v2", "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"),
    ("efficientnet_b0", "efficientnetb0_notop.h5"),
])
def test_keras_weight_origins_are_addresses_of_the_named_files(backbone, name):
    url, _ = compat.keras_weight_origin(backbone, name)
    assert url.startswith("https://") and url.endswith(name), fix("keras_weight_origin")


def test_weights_h5_layers_reads_what_save_weights_wrote(tmp_path):
    model = small_model()
    path = tmp_path / "small.weights.h5"
    model.save_weights(path)
    layers = compat.weights_h5_layers(path)
    assert set(layers) >= {"dense", "out"}, fix("weights_h5_layers")
    for name in ("dense", "out"):
        for read, kept in zip(layers[name], model.get_layer(name).get_weights()):
            np.testing.assert_array_equal(read, kept)


def test_untested_versions_names_the_package_and_the_checked_release(monkeypatch):
    monkeypatch.setitem(compat.CHECKED, "keras", "0.0")
    found = compat.untested_versions()
    assert any(line.startswith("keras ") and "(checked: 0.0)" in line for line in found)
