"""Fine-tuning the top of a base on stored activations of its frozen layers.

Used by `strategies` (notebook 04's comparison and sweep) and measured by
`python -m tlhelpers bench` (`prefix_cache_speedup`). When only the top k layers
of the base train and augmentation is off, the frozen layers below them give
the same output for an image in every epoch. That output is computed once
(`features.extract(base, items, layer=<last frozen layer>)`, stored on disk) and
a small model (the top k layers and the head, the very same layer objects as
in `model`) trains on it. Training it updates `model` itself: afterwards the
full model evaluates, saves and predicts as if it had been trained end to end.
"""

from __future__ import annotations

import dataclasses
import time

import keras
import numpy as np

from . import features
from .data.pipeline import batch_size_for_replicas
from .models import BackbonePreprocess, CourseModel, backbone_of, check_n_unfrozen


class NotStackableError(ValueError):
    """The base cannot be split there; met in `04_choosing_a_strategy.ipynb`."""


@dataclasses.dataclass
class StoredFit:
    """What `fit_on_stored` did (`python -m tlhelpers bench` reports it)."""

    history: keras.callbacks.History
    top: keras.Model           # top layers + head, sharing weights with `model`
    train: features.FeatureSet
    val: features.FeatureSet | None
    layer: str                 # the last frozen layer, whose output was stored
    seconds: float             # whole call: storing (or loading) plus training

    def describe(self) -> str:
        how = "reused" if self.train.from_cache else "computed and stored"
        return (f"trained {len(self.top.trainable_weights)} tensors on stored "
                f"activations of '{self.layer}' {tuple(self.train.features.shape[1:])}"
                f" ({how}) in {self.seconds:.1f} s")


def head_layers(model: keras.Model, base: keras.Model) -> list[keras.layers.Layer]:
    """The layers of `model` after `base` (its head), checked for training on stored arrays.

    Used in `04_choosing_a_strategy.ipynb` (through `strategies`). Refuses
    layers before the base other than the input and the preprocessing
    (augmentation changes every epoch).
    """
    layers = model.layers
    if base not in layers:
        raise ValueError(f"base {base.name!r} is not a layer of model "
                         f"{model.name!r}; pass the base the model was built on")
    at = layers.index(base)
    before = [layer for layer in layers[:at]
              if not isinstance(layer, (keras.layers.InputLayer, BackbonePreprocess))]
    if before:
        names = ", ".join(layer.name for layer in before)
        raise ValueError(
            f"model {model.name!r} has layers before the base ({names}): with "
            "data augmentation the frozen layers' output changes every epoch, so "
            "it cannot be stored. Build the model without augmentation "
            "(models.build_classifier(..., augmentation=None)), or train the "
            "full model with model.fit.")
    backbone = backbone_of(base)
    preprocess = [layer for layer in layers[:at]
                  if isinstance(layer, BackbonePreprocess)]
    if len(preprocess) != 1 or preprocess[0].backbone != backbone:
        raise ValueError(
            f"model {model.name!r} does not apply {backbone}'s preprocessing once "
            "before the base, as models.build_classifier does; the stored "
            "activations are computed from raw 0..255 images through it")
    head = layers[at + 1:]
    if not head:
        raise ValueError(f"model {model.name!r} has no layers after the base")
    return head


def frozen_layer(base: keras.Model, n_unfrozen: int) -> str:
    """The last frozen layer's name when the top `n_unfrozen` train.

    Used in `04_choosing_a_strategy.ipynb` (through `strategies`): its output
    is what gets stored.
    """
    n_unfrozen = check_n_unfrozen(base, n_unfrozen)
    if n_unfrozen >= len(base.layers):
        raise ValueError(
            f"n_unfrozen={n_unfrozen} unfreezes every layer of {base.name!r} "
            f"(valid range for stored activations: 0..{len(base.layers) - 1}); "
            "nothing is frozen to store, train the full model with model.fit")
    return base.layers[-n_unfrozen - 1].name


def top_of_base(base: keras.Model, n_unfrozen: int) -> keras.Model:
    """The top `n_unfrozen` layers of `base` as a model sharing their weights.

    Used in `04_choosing_a_strategy.ipynb` (through `strategies`).
    Raises NotStackableError (a ValueError) when a connection skips over the
    cut, as in ResNet or MobileNetV2 blocks: the top then needs more than the
    last frozen layer's output.
    """
    name = frozen_layer(base, n_unfrozen)
    cut = len(base.layers) - n_unfrozen
    advice = (" Train the full model with model.fit instead (stored activations "
              "work for a chain of layers such as VGG16")
    try:
        top = keras.Model(base.get_layer(name).output, base.output,
                          name=f"{base.name}_top{n_unfrozen}")
    except ValueError as err:
        raise NotStackableError(
            f"{base.name!r} cannot be split after layer {name!r} "
            f"(n_unfrozen={n_unfrozen}): a connection skips over it ({err})."
            + advice + ", or a cut at a block's output).") from None
    wanted = {id(layer) for layer in base.layers[cut:]}
    got = {id(layer) for layer in top.layers
           if not isinstance(layer, keras.layers.InputLayer)}
    if wanted != got:
        raise NotStackableError(
            f"{base.name!r} cannot be split after layer {name!r} "
            f"(n_unfrozen={n_unfrozen}): the top {n_unfrozen} layers do not form "
            "one chain fed by that layer alone." + advice + ").")
    return top


def top_model(model: keras.Model, base: keras.Model, n_unfrozen: int) -> keras.Model:
    """Stored activations -> the top `n_unfrozen` base layers -> the head.

    Used in `04_choosing_a_strategy.ipynb` (through `strategies`). Every
    layer is the same object as in `model`, so training this small model
    trains `model`. The top runs as the unfrozen base does in `model`
    (BatchNormalization stays in inference mode: `set_trainable` keeps it
    frozen); the head runs as in `model`.
    """
    head = head_layers(model, base)
    top = top_of_base(base, n_unfrozen)
    inputs = keras.Input(shape=tuple(top.input_shape[1:]), name="stored_activations")
    x = top(inputs, training=False)
    for layer in head:
        x = layer(x)
    return CourseModel(inputs, x, name=f"{model.name}_on_stored")


def _dataset(x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool, seed: int):
    import tensorflow as tf

    batch_size = batch_size_for_replicas(batch_size, len(y))
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        # The same call as data.pipeline.make_dataset, so a seeded run over
        # stored activations sees the images in the same order as the full model.
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _optimizer(optimizer, lr: float):
    if optimizer is None:
        return keras.optimizers.Adam(learning_rate=lr)
    if isinstance(optimizer, str):
        return keras.optimizers.get({"class_name": optimizer,
                                     "config": {"learning_rate": lr}})
    return optimizer


def fit_on_stored(model: keras.Model, base: keras.Model, n_unfrozen: int,
                  train_items, val_items=None, lr: float = 1e-5, epochs: int = 2,
                  batch_size: int | None = None, seed: int = 42,
                  shuffle: bool = True, optimizer=None, callbacks=None,
                  image_size: int | None = None, verbose: int | str = "auto",
                  progress: bool = True) -> StoredFit:
    """Fine-tune the top `n_unfrozen` base layers and the head on stored activations.

    Used by `python -m tlhelpers bench`; notebook 04 trains the same
    `top_model` through `strategies`. The same training as `model.fit` with
    those layers unfrozen and no augmentation, in a fraction of the time.
    Sets the trainable flags (`models.set_trainable`), stores the last frozen
    layer's output for `train_items` and `val_items` (lists of (path, label);
    reused from disk on the next call), compiles a new optimizer (Adam at `lr`
    unless `optimizer` is given: a name or an optimizer instance) and trains.
    Recompile `model` itself before calling its `fit` again.
    """
    from .config import get_profile
    from .models import set_trainable

    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr > 0:
        raise ValueError(f"lr={lr!r} is not valid; expected a number > 0")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs={epochs!r} is not valid; expected an integer >= 1")
    batch_size = batch_size or get_profile().batch_size
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) \
            or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} is not valid; expected an "
                         "integer >= 1")
    started = time.perf_counter()
    top = top_model(model, base, n_unfrozen)
    layer = frozen_layer(base, n_unfrozen)
    set_trainable(base, n_unfrozen)
    # The stored activations depend only on the frozen layers' weights (see
    # features.cache_key), so they stay valid while the top trains.
    train = features.extract(base, train_items, image_size=image_size,
                             batch_size=batch_size, layer=layer, progress=progress)
    val = None
    validation = None
    if val_items:
        val = features.extract(base, val_items, image_size=image_size,
                               batch_size=batch_size, layer=layer, progress=progress)
        validation = _dataset(val.features, val.labels, batch_size, False, seed)
    top.compile(optimizer=_optimizer(optimizer, float(lr)),
                loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = top.fit(_dataset(train.features, train.labels, batch_size, shuffle,
                               seed),
                      validation_data=validation, epochs=epochs, shuffle=False,
                      callbacks=callbacks, verbose=verbose)
    return StoredFit(history, top, train, val, layer, time.perf_counter() - started)
