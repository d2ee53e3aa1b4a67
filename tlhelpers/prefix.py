"""Fine-tuning the top of a base on stored activations of its frozen layers.

Used by notebook 03 (`top_model`), `strategies` (notebook 04's comparison and
sweep, `run`) and `python -m tlhelpers bench`. When only the top k layers
of the base train and augmentation is off, the frozen layers below them give
the same output for an image in every epoch. That output is computed once
(`features.extract(base, items, layer=<last frozen layer>)`, stored on disk) and
a small model (the top k layers and the head, the very same layer objects as
in `model`) trains on it. Training it updates `model` itself: afterwards the
full model evaluates, saves and predicts as if it had been trained end to end.
"""

from __future__ import annotations

import keras

from .models import BackbonePreprocess, CourseModel, backbone_of, check_n_unfrozen


class NotStackableError(ValueError):
    """The base cannot be split there; met in `04_choosing_a_strategy.ipynb`."""


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
