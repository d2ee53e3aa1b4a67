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

from .. import config, features, models, prefix


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


def _between(base: keras.Model, low: str, high: str | None) -> keras.Model:
    """The layers of a chain-shaped base after `low` up to `high` (None: the top)."""
    top = base.output if high is None else base.get_layer(high).output
    return keras.Model(base.get_layer(low).output, top,
                       name=f"{base.name}_{low}_to_{high or 'output'}")


def _derive(base, items, low: str, low_x: np.ndarray, high: str | None,
            batch_size: int, view: str | None = None,
            precision: str = "float32") -> features.FeatureSet:
    """Activations of `high` computed from the stored ones of `low`, then stored."""
    started = time.perf_counter()
    image_size = int(base.input_shape[1])
    # The layers above `low` run in float32 here: under a bfloat16 pass the
    # result is not what a pass straight to `high` gives, so it has its own key.
    made = precision if precision == "float32" else f"{precision} to {low}, float32 above"
    key = features.cache_key(base, items, image_size, high, view, made)
    path = config.cache_dir("features") / f"{key}.npz"
    labels = np.array([label for _, label in items], dtype=np.int32)
    out = features.stored_features(path, labels)
    if out is not None:
        return features.FeatureSet(out, labels, key, path, True,
                                   time.perf_counter() - started, (), view, precision)
    part = _between(base, low, high)
    out = np.concatenate([np.asarray(part(low_x[i:i + batch_size], training=False))
                          for i in range(0, len(low_x), batch_size)])
    features.store(path, out, labels, items,
                   features.cache_group(base, image_size, high, view, made))
    return features.FeatureSet(out, labels, key, path, False,
                               time.perf_counter() - started, (), view, precision)


def _store_cuts(base, items, layers, batch_size, progress, view, precision):
    """layer -> FeatureSet for each layer (deepest first), one pass of the base.

    The deepest cut runs the base's lower layers over the images; the higher
    cuts are computed from it by running only the layers in between.
    """
    sets, lower = {}, None  # lower: (layer, its activations) of the last cut
    for layer in layers:
        if lower is None or cannot_cut(base, lower[0]):
            sets[layer] = features.extract(base, items, layer=layer,
                                           progress=progress, view=view,
                                           precision=precision)
        else:
            sets[layer] = _derive(base, items, lower[0], lower[1], layer,
                                  batch_size, view, precision)
        if layer is not None:
            lower = (layer, sets[layer].features)
    return sets


def store_activations(base: keras.Model, files, depths=(0,),
                      progress: bool = False, flip_train: bool = False,
                      precision: str = "float32") -> StoredActivations:
    """The output of the last frozen layer for every image, for each depth.

    Stored on disk under `features.extract`'s keys, so a rerun (or notebook
    03's fine-tuning) loads them. The deepest cut runs the base's lower layers
    over the images once; the higher cuts are computed from it by running only
    the layers in between. Depth 0 is the base's output, as in notebook 02.
    `flip_train`: the training rows are the photos, then the same photos
    mirrored left to right (augmentation stored once; labels repeated).
    `precision`: of the pass over the images (`features.pass_precision`).
    """
    started = time.perf_counter()
    batch_size = config.get_profile().batch_size
    precision = features.pass_precision(precision)
    depth_of = {stored_layer(base, depth): depth for depth in set(depths)}
    layers = sorted(depth_of, key=lambda layer: -depth_of[layer])
    views = [None, "flip"] if flip_train else [None]
    train_views = [_store_cuts(base, files.train, layers, batch_size, progress,
                               view, precision) for view in views]
    val_sets = _store_cuts(base, files.val, layers, batch_size, progress, None,
                           precision)
    # A FileSplit always has test photos (`split_files` falls back to the
    # validation ones); a hand-made one may not.
    test_items = getattr(files, "test", None) or files.val
    test_sets = _store_cuts(base, test_items, layers, batch_size, progress, None,
                            precision)
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


def cannot_cut(base: keras.Model, layer: str) -> bool:
    """True when the base cannot be cut at `layer` (a connection skips over it)."""
    try:
        prefix.top_of_base(base, len(base.layers) - 1
                           - [x.name for x in base.layers].index(layer))
    except ValueError:
        return True
    return False


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
