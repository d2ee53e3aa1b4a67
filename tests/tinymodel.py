"""A tiny VGG-shaped base and tiny in-memory datasets for training tests.

The base has VGG16's layer names (block1_conv1, block1_pool, block2_conv1, ...)
so the freezing helpers, block labels and layer tables behave as on VGG16,
but it trains in milliseconds on 32x32 images.
"""

from __future__ import annotations

import numpy as np

SIZE = 32
TOP_BLOCK = ["block2_conv1", "block2_conv2"]  # layers with weights in the top block


def tiny_base(size: int = SIZE):
    """input, block1 (1 conv + pool), block2 (2 conv + pool): 6 layers."""
    import keras

    inputs = keras.Input(shape=(size, size, 3), name="input_layer")
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu",
                            name="block1_conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="block1_pool")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu",
                            name="block2_conv1")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu",
                            name="block2_conv2")(x)
    x = keras.layers.MaxPooling2D(name="block2_pool")(x)
    base = keras.Model(inputs, x, name="tiny_vgg")
    base.tlh_backbone = "vgg16"  # VGG16's preprocessing inside the classifier
    base.tlh_weights = "random"
    return base


def images(per_class: int = 10, size: int = SIZE, seed: int = 0):
    """Two classes told apart by colour: reddish (0) and bluish (1), 0..255."""
    rng = np.random.default_rng(seed)
    x, y = [], []
    for label, colour in enumerate(([200, 60, 60], [60, 60, 200])):
        noise = rng.normal(0, 30, size=(per_class, size, size, 3))
        x.append(np.clip(np.array(colour) + noise, 0, 255))
        y += [label] * per_class
    return np.concatenate(x).astype("float32"), np.array(y, dtype="int32")


def datasets(per_class: int = 10, batch_size: int = 8, size: int = SIZE):
    """(train_ds, val_ds): unshuffled, so two runs see the same batches."""
    import tensorflow as tf

    train = tf.data.Dataset.from_tensor_slices(images(per_class, size, seed=0))
    val = tf.data.Dataset.from_tensor_slices(images(max(2, per_class // 2), size,
                                                    seed=1))
    return train.batch(batch_size), val.batch(batch_size)


def head_trained(epochs: int = 1, dropout: float = 0.0):
    """(model, base_model, train_ds, val_ds, start_weights) after a short head phase.

    Without dropout by default: tests that compare losses batch by batch need
    a model that computes the same thing in training and in evaluation.
    """
    import keras

    from tlhelpers import models, training

    keras.utils.set_random_seed(0)
    base_model = tiny_base()
    model = models.build_classifier(base_model, 2, head="flatten", dense=8,
                                    dropout=dropout)
    train_ds, val_ds = datasets()
    training.train_head(model, base_model, train_ds, val_ds, epochs=epochs,
                        live_plot=False)
    return model, base_model, train_ds, val_ds, model.get_weights()
