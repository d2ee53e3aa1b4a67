"""Fine-tuning on stored activations trains the same model as the full model does."""

from __future__ import annotations

import imagefactory
import keras
import numpy as np
import pytest

from tlhelpers import features, models, strategies
from tlhelpers.data.pipeline import make_dataset

SIZE = 32
N_UNFROZEN = 4  # VGG16's block5: three convolutions and the pool
BATCH = 8

# Tolerance of the parity test. Both runs do the same float32 arithmetic, but
# the frozen layers run in a different graph (the extractor vs the full
# model), where the convolution library may pick other kernels or summation
# orders: activations then differ in the last bits (~1e-7 relative), and two
# epochs of Adam carry that along. 1e-4 is far above that noise and far below
# any real difference (a wrong layer, a missing preprocessing step or other
# batches change the loss in the second or third digit).
RTOL = 1e-4


@pytest.fixture
def items(tmp_path):
    root = imagefactory.make_folder(tmp_path / "imgs", ("cats", "dogs"), per_class=8)
    out = []
    for label, name in enumerate(("cats", "dogs")):
        out += [(p, label) for p in sorted((root / name).iterdir())]
    return out


def classifier(seed: int = 0, augmentation=None):
    keras.utils.set_random_seed(seed)
    base = models.load_base("vgg16", weights=None, input_shape=(SIZE, SIZE, 3))
    model = models.build_classifier(base, 2, dense=16, dropout=0.0,
                                    augmentation=augmentation)
    return model, base


def train_stored(model, base, items, lr, epochs, shuffle=True, seed=0, val_items=None,
                 n_unfrozen=N_UNFROZEN):
    """The course's way (notebooks 03-04, `run`): store the last frozen layer's
    output once, then fit the top layers and the head on it."""
    import tensorflow as tf

    layer = strategies.frozen_layer(base, n_unfrozen)
    models.set_trainable(base, n_unfrozen)
    top = strategies.top_model(model, base, n_unfrozen)
    stored = [features.extract(base, part, batch_size=BATCH, layer=layer, progress=False)
              for part in (items, val_items) if part]

    def batches(feature_set, shuffled):
        ds = tf.data.Dataset.from_tensor_slices((feature_set.features, feature_set.labels))
        if shuffled:  # the same call as data.pipeline.make_dataset: the same order
            ds = ds.shuffle(len(feature_set.labels), seed=seed, reshuffle_each_iteration=True)
        return ds.batch(BATCH)

    top.compile(optimizer=keras.optimizers.Adam(lr),
                loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = top.fit(batches(stored[0], shuffle), epochs=epochs, verbose=0,
                      validation_data=batches(stored[1], False) if val_items else None)
    return top, stored[0], history.history


def train_full(model, base, items, lr, epochs, shuffle, seed=0):
    """The plain way: unfreeze the top block, recompile, fit the whole model."""
    models.set_trainable(base, N_UNFROZEN)
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ds = make_dataset(items, SIZE, BATCH, shuffle=shuffle, seed=seed)
    return model.fit(ds, epochs=epochs, verbose=0, shuffle=False).history


@pytest.mark.parametrize("shuffle", [False, True], ids=["in_order", "seeded_shuffle"])
def test_stored_activations_match_full_training(items, shuffle):
    lr, epochs = 1e-4, 2
    model, base = classifier()
    start = model.get_weights()
    full = train_full(model, base, items, lr, epochs, shuffle)
    full_weights = model.get_weights()

    model.set_weights(start)
    keras.utils.set_random_seed(0)
    _, train, stored = train_stored(model, base, items, lr, epochs, shuffle)
    assert train.features.shape == (16, 2, 2, 512)  # block4_pool at 32x32

    np.testing.assert_allclose(stored["loss"], full["loss"], rtol=RTOL)
    np.testing.assert_allclose(stored["accuracy"], full["accuracy"], rtol=RTOL)
    # The training moved the weights, and both ways moved them the same.
    moved = [i for i, (a, b) in enumerate(zip(start, full_weights))
             if not np.array_equal(a, b)]
    assert len(moved) == 3 * 2 + 2 * 2  # block5's 3 convs and 2 head Dense layers
    for i, (got, want) in enumerate(zip(model.get_weights(), full_weights)):
        step = np.abs(want - start[i]).max()
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * max(step, 1e-12),
                                   err_msg=f"weight tensor {i}")


def test_training_the_top_updates_the_full_model(items):
    model, base = classifier(seed=1)
    frozen_before = base.get_layer("block4_conv3").get_weights()[0].copy()
    top_before = base.get_layer("block5_conv3").get_weights()[0].copy()
    top, train, history = train_stored(model, base, items[:-2], 1e-3, 1,
                                       val_items=items[-2:])
    assert "val_loss" in history
    np.testing.assert_array_equal(base.get_layer("block4_conv3").get_weights()[0],
                                  frozen_before)
    assert not np.array_equal(base.get_layer("block5_conv3").get_weights()[0],
                              top_before)
    # The small model and the full model now give the same predictions.
    x = np.stack([np.asarray(img) for img, _ in
                  make_dataset(items[:4], SIZE, 4).unbatch().as_numpy_iterator()])
    np.testing.assert_allclose(top.predict(train.features[:4], verbose=0),
                               model.predict(x, verbose=0), rtol=1e-4, atol=1e-6)


def test_stored_activations_are_reused_after_training(items):
    # The frozen layers did not change, so their stored output is still good.
    model, base = classifier(seed=2)
    _, first, _ = train_stored(model, base, items, 1e-3, 1)
    _, second, _ = train_stored(model, base, items, 1e-3, 1)
    assert not first.from_cache
    assert second.from_cache and second.key == first.key
    _, deeper, _ = train_stored(model, base, items, 1e-3, 1, n_unfrozen=8)
    assert deeper.features.shape[1:] == (4, 4, 256)  # block3_pool's output
    assert not deeper.from_cache


def test_top_model_shares_layers_with_the_model():
    model, base = classifier()
    top = strategies.top_model(model, base, N_UNFROZEN)
    assert top.input_shape == (None, 2, 2, 512)  # block4_pool at 32x32
    shared = {id(w) for w in top.weights}
    assert {id(w) for w in base.get_layer("block5_conv1").weights} <= shared
    assert {id(w) for w in model.get_layer("predictions").weights} <= shared
    assert not {id(w) for w in base.get_layer("block4_conv3").weights} & shared
    assert strategies.frozen_layer(base, 0) == "block5_pool"
    assert strategies.frozen_layer(base, N_UNFROZEN) == "block4_pool"


def test_augmentation_is_refused():
    model, base = classifier(augmentation=keras.layers.RandomFlip(name="flip"))
    with pytest.raises(ValueError, match="augmentation.*flip|flip.*augmentation"):
        strategies.top_model(model, base, N_UNFROZEN)


def test_every_layer_unfrozen_is_refused():
    model, base = classifier()
    with pytest.raises(ValueError, match="n_unfrozen=19.*full model"):
        strategies.top_model(model, base, len(base.layers))
    with pytest.raises(ValueError, match="n_unfrozen=-1"):
        strategies.top_model(model, base, -1)


def skip_base():
    """A tiny residual base: an Add joins a layer's input to its output."""
    inputs = keras.Input(shape=(SIZE, SIZE, 3), name="input_layer")
    a = keras.layers.Conv2D(4, 3, padding="same", name="conv_a")(inputs)
    b = keras.layers.Conv2D(4, 3, padding="same", name="conv_b")(a)
    c = keras.layers.Conv2D(4, 3, padding="same", name="conv_c")(b)
    x = keras.layers.Add(name="add")([a, c])
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv_d")(x)
    base = keras.Model(inputs, x, name="resnetish")
    base.tlh_backbone = "resnet50"
    return base


def test_a_cut_across_a_skip_connection_is_refused():
    base = skip_base()
    model = models.build_classifier(base, 2, dense=4)
    with pytest.raises(ValueError, match="skips over it.*full model"):
        strategies.top_model(model, base, 3)  # cut after conv_b: `a` jumps over it
    # A cut above the join needs only one tensor: that works.
    top = strategies.top_model(model, base, 1)
    assert top.input_shape[1:] == (SIZE, SIZE, 4)


def test_the_top_model_is_guarded_and_needs_a_known_backbone():
    base = skip_base()
    model = models.build_classifier(base, 2, dense=4)
    top = strategies.top_model(model, base, 1)
    assert isinstance(top, models.CourseModel)  # require_fresh_compile can check it
    top.compile(optimizer=keras.optimizers.Adam(1e-3),
                loss="sparse_categorical_crossentropy")
    models.require_fresh_compile(top)
    del base.tlh_backbone  # "resnetish" is no Keras application name
    with pytest.raises(ValueError, match="cannot tell which backbone.*'resnetish'"):
        strategies.top_model(model, base, 1)


def test_mobilenet_inside_a_block_is_refused():
    base = models.load_base("mobilenet_v2", weights=None, input_shape=(SIZE, SIZE, 3))
    model = models.build_classifier(base, 2, dense=4)
    names = [layer.name for layer in base.layers]
    # Cut after block_15's expansion: block_14's output still has to reach
    # block_15_add above the cut.
    inside = len(names) - names.index("block_15_expand") - 1
    with pytest.raises(ValueError, match="full model"):
        strategies.top_model(model, base, inside)
    # At a block's output, the cut is clean.
    clean = len(names) - names.index("block_15_add") - 1
    assert strategies.top_model(model, base, clean).input_shape[1:] == \
        tuple(base.get_layer("block_15_add").output.shape[1:])


def test_a_model_without_the_base_is_refused():
    model, base = classifier()
    other, _ = classifier()
    with pytest.raises(ValueError, match="not a layer of model"):
        strategies.top_model(other, base, 4)
