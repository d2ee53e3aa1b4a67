"""Activations of a base's frozen layers, stored once, and the models that train on them.

Taught in `03_fine_tuning.ipynb` (`top_model`) and `04_choosing_a_strategy.ipynb`.
When only the top k layers of the base train and augmentation is off, the
frozen layers below them give the same output for an image in every epoch.
That output is computed once (`features.extract(base, items, layer=<last
frozen layer>)`, stored on disk) for every unfreeze depth at once
(`store_activations`), and a small model (the top k layers and the head, the
very same layer objects as in `model`) trains on it. Training it updates
`model` itself: afterwards the full model evaluates, saves and predicts as if
it had been trained end to end. Subsets of the training set are slices of the
stored arrays.
"""

from __future__ import annotations

import dataclasses
import time

import keras
import numpy as np

from .. import features, models
from ..models import BackbonePreprocess, CourseModel, backbone_of, check_n_unfrozen

# --- cutting a classifier at a frozen layer ---------------------------------------


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


# --- the stored activations of every depth ---------------------------------------


def stored_layer(base: keras.Model, n_unfrozen: int) -> str | None:
    """The layer stored for depth `n_unfrozen` (None: the base's own output)."""
    n_unfrozen = models.check_n_unfrozen(base, n_unfrozen)
    return None if n_unfrozen == 0 else frozen_layer(base, n_unfrozen)


@dataclasses.dataclass
class StoredActivations:
    """Activations of the frozen part of a base for each unfreeze depth, with labels."""

    train: dict[int, np.ndarray]   # depth -> (N, ...) activations
    val: dict[int, np.ndarray]
    train_labels: np.ndarray
    val_labels: np.ndarray
    seconds: float                 # computing (or loading) them all
    from_cache: bool               # every array was loaded from disk
    test: dict[int, np.ndarray] = dataclasses.field(default_factory=dict)
    test_labels: np.ndarray | None = None

    def split(self, name: str, depth: int) -> tuple[np.ndarray, np.ndarray]:
        """`(x, y)` of "train", "val" or "test" at an unfreeze depth."""
        if name not in ("train", "val", "test"):
            raise ValueError(f"split={name!r}: expected 'train', 'val' or 'test'")
        arrays = getattr(self, name)
        if depth not in arrays:
            raise KeyError(f"depth {depth} was not stored; stored: {sorted(arrays)}")
        return arrays[depth], getattr(self, f"{name}_labels")


def _store_cuts(base, items, layers, progress, view, precision):
    """layer -> FeatureSet for each layer, from one pass of the base or from disk.

    `features.extract(..., also=...)` stores every layer under the key a pass
    straight to it has, as notebook 02's pass does: whichever stored them
    first, the other loads them.
    """
    first, *others = sorted(layers, key=lambda layer: layer is not None)
    sets = {first: features.extract(base, items, layer=first, also=others,
                                    progress=progress, view=view, precision=precision)}
    for layer in others:  # stored by the call above: loaded from disk
        sets[layer] = features.extract(base, items, layer=layer, progress=False,
                                       view=view, precision=precision)
    return sets


def store_activations(base: keras.Model, files, depths=(0,),
                      progress: bool = False, flip_train: bool = False,
                      precision: str = "float32") -> StoredActivations:
    """The output of the last frozen layer for every image, for each depth.

    Stored on disk under `features.extract`'s keys, so a rerun, or notebook
    03 and 04 after notebook 02's pass, loads them. One pass of the base over
    the images computes every cut. Depth 0 is the base's output, as in
    notebook 02.
    `flip_train`: the training rows are the photos, then the same photos
    mirrored left to right (augmentation stored once; labels repeated).
    `precision`: of the pass over the images (`features.pass_precision`).
    """
    started = time.perf_counter()
    precision = features.pass_precision(precision)
    depth_of = {stored_layer(base, depth): depth for depth in set(depths)}
    layers = sorted(depth_of, key=lambda layer: -depth_of[layer])  # deepest first
    views = [None, "flip"] if flip_train else [None]
    train_views = [_store_cuts(base, files.train, layers, progress, view, precision)
                   for view in views]
    val_sets = _store_cuts(base, files.val, layers, progress, None, precision)
    # A FileSplit always has test photos (`split_files` falls back to the
    # validation ones); a hand-made one may not.
    test_items = getattr(files, "test", None) or files.val
    test_sets = _store_cuts(base, test_items, layers, progress, None, precision)
    # One view: its arrays themselves, no copy (`stack` returns the set).
    train_sets = {layer: features.stack(*[sets[layer] for sets in train_views])
                  for layer in layers}
    train = {depth_of[layer]: train_sets[layer].features for layer in layers}
    val = {depth_of[layer]: val_sets[layer].features for layer in layers}
    test = {depth_of[layer]: test_sets[layer].features for layer in layers}
    every = [s for sets in train_views + [val_sets, test_sets] for s in sets.values()]
    return StoredActivations(train, val, train_sets[layers[0]].labels,
                             val_sets[layers[0]].labels,
                             time.perf_counter() - started,
                             all(s.from_cache for s in every),
                             test, test_sets[layers[0]].labels)


def stored_model(model: keras.Model, base: keras.Model, n_unfrozen: int) -> keras.Model:
    """Stored activations -> the top `n_unfrozen` base layers -> the head.

    The layers are those of `model` (see `top_model`), so training this
    trains `model`; depth 0 is the head alone on the stored features. `head_layers`
    checks the model (no augmentation before the base, its preprocessing once).
    """
    if n_unfrozen:
        return top_model(model, base, n_unfrozen)
    inputs = keras.Input(shape=tuple(base.output.shape[1:]), name="stored_features")
    x = inputs
    for layer in head_layers(model, base):
        x = layer(x)
    return models.CourseModel(inputs, x, name=f"{model.name}_head_on_stored")


def copy_head(head_model: keras.Model, model: keras.Model, base: keras.Model) -> None:
    """Put a head trained on stored features (`models.build_head`) into `model`."""
    for layer in head_layers(model, base):
        layer.set_weights(head_model.get_layer(layer.name).get_weights())
