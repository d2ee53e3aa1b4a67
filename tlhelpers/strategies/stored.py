"""Activations of a base's frozen layers, stored once for every unfreeze depth.

Taught in `04_choosing_a_strategy.ipynb`. Fine-tuning trains the unfrozen top
of the base on stored activations of the frozen layers below it
(`tlhelpers.prefix`): without augmentation the frozen layers give the same
output every epoch, so this is the same training as running the whole base,
only much faster. Subsets of the training set are slices of the stored arrays.
"""

from __future__ import annotations

import dataclasses
import time

import keras
import numpy as np

from .. import features, models, prefix


def stored_layer(base: keras.Model, n_unfrozen: int) -> str | None:
    """The layer stored for depth `n_unfrozen` (None: the base's own output)."""
    n_unfrozen = models.check_n_unfrozen(base, n_unfrozen)
    return None if n_unfrozen == 0 else prefix.frozen_layer(base, n_unfrozen)


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

    The layers are those of `model` (see `prefix.top_model`), so training this
    trains `model`; depth 0 is the head alone on the stored features. `prefix`
    checks the model (no augmentation before the base, its preprocessing once).
    """
    if n_unfrozen:
        return prefix.top_model(model, base, n_unfrozen)
    inputs = keras.Input(shape=tuple(base.output.shape[1:]), name="stored_features")
    x = inputs
    for layer in prefix.head_layers(model, base):
        x = layer(x)
    return models.CourseModel(inputs, x, name=f"{model.name}_head_on_stored")


def copy_head(head_model: keras.Model, model: keras.Model, base: keras.Model) -> None:
    """Put a head trained on stored features (`models.build_head`) into `model`."""
    for layer in prefix.head_layers(model, base):
        layer.set_weights(head_model.get_layer(layer.name).get_weights())
