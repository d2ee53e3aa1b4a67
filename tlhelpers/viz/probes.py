"""Layer-wise linear probes: how well a plain linear classifier reads each block.

Taught in `05_visualizing_features.ipynb`, Yosinski et al. (2014) in miniature:
average-pool each block's output, fit a logistic regression on the training
images, score it on held-out images (the notebook's test photos), and draw
accuracy against depth, with a randomly initialised base as the control line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time

import keras
import numpy as np

from .. import config
from .. import features as features_mod
from ..progress import progress_bar
from ._common import accuracy_axis, colour, new_figure, to_numpy
from .layers import block_outputs, check_layers, layer_model, resolve_base


@dataclasses.dataclass
class PooledFeatures:
    """Per layer, (N, channels) average-pooled features of the same images."""

    features: dict[str, np.ndarray]
    labels: np.ndarray
    from_cache: bool
    seconds: float


def pooled_key(model, items, image_size: int, names: list[str],
               precision: str = "float32") -> str:
    """The stored file's key: the deepest layer's feature key, the layers, the backbone.

    A home-made model gets no preprocessing, so its backbone is part of the key.
    """
    base, backbone = resolve_base(model)
    order = [layer.name for layer in base.layers]
    deepest = max(names, key=order.index)
    inner = features_mod.cache_key(base, items, image_size, deepest,
                                   precision=precision)
    blob = f"{inner}|pooled|{','.join(names)}|{backbone}".encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def pooled_features(model, items, layers=None, batch_size: int | None = None,
                    cache: bool = True, progress: bool = False,
                    precision: str = "float32") -> PooledFeatures:
    """Average-pooled outputs of several layers for (path, label) items, in one pass.

    Taught in `05_visualizing_features.ipynb`. `layers` default: every block's
    output. Stored under `TLH_HOME/features` like `features.extract`, keyed by
    the base's weights, the layers and the files. `precision`: of the pass
    (`features.pass_precision`); bfloat16 is stored under its own key.
    """
    from ..data.pipeline import make_dataset

    base, _ = resolve_base(model)
    precision = features_mod.pass_precision(precision)
    names = check_layers(model, block_outputs(model) if layers is None else layers)
    items = list(items)
    if not items:
        raise ValueError("items is empty; expected a list of (path, label)")
    labels = np.array([label for _, label in items], dtype=np.int32)
    size = int(base.input_shape[1])
    started = time.perf_counter()
    key = pooled_key(model, items, size, names, precision)
    path = config.cache_dir("features") / f"{key}.npz"
    if cache and path.exists():
        stored = features_mod.load_npz(path)
        if stored is not None and np.array_equal(stored["labels"], labels):
            return PooledFeatures({n: stored[f"f{i}"] for i, n in enumerate(names)},
                                  labels, True, time.perf_counter() - started)
    pooled = (_pooled_from_stored(model, items, size, names, labels, precision)
              if cache else {})
    rest = [name for name in names if name not in pooled]
    if rest:  # the pass runs only as deep as the deepest layer not stored
        source = (features_mod.bfloat16_copy(base) if precision == "bfloat16"
                  else model)
        extractor = layer_model(source, rest, pooled=True)
        batch_size = batch_size or config.get_profile().batch_size
        parts: list[list[np.ndarray]] = [[] for _ in rest]
        ds = make_dataset(items, size, batch_size, shuffle=False, cache=False)
        if progress:
            ds = progress_bar(ds, desc="pooled features", unit="batch")
        with features_mod.bfloat16_errors_explained():
            for images, _ in ds:
                outputs = extractor(images, training=False)
                outputs = (outputs if isinstance(outputs, (list, tuple))
                           else [outputs])
                for part, out in zip(parts, outputs):
                    part.append(np.asarray(keras.ops.cast(out, "float32")))
        pooled.update({n: np.concatenate(p) for n, p in zip(rest, parts)})
    pooled = {name: pooled[name] for name in names}  # bottom to top, as asked
    if cache:
        features_mod.save_npz_atomic(
            path, labels=labels, **{f"f{i}": pooled[n] for i, n in enumerate(names)})
    return PooledFeatures(pooled, labels, False, time.perf_counter() - started)


def _pooled_from_stored(model, items, size: int, names: list[str],
                        labels: np.ndarray,
                        precision: str = "float32") -> dict[str, np.ndarray]:
    """Average-pooled maps of the layers whose full maps `features.extract` stored.

    Notebook 02 stores `block3_pool`, `block4_pool` and the base's output of
    the same images; pooling them here spares the pass those layers would cost.
    """
    base, backbone = resolve_base(model)
    if backbone is None:  # stored maps went through a backbone's preprocessing
        return {}
    found = {}
    for name in names:
        output = base.get_layer(name).output
        layer = None if output is base.outputs[0] else name
        if len(output.shape) != 4:
            continue
        key = features_mod.cache_key(base, items, size, layer,
                                     precision=precision)
        stored = features_mod.stored_features(
            config.cache_dir("features") / f"{key}.npz", labels,
            tuple(output.shape[1:]))
        if stored is not None:
            found[name] = stored.mean(axis=(1, 2), dtype=np.float32)
    return found


def linear_probe(train_features: dict, y_train, val_features: dict, y_val,
                 c: float = 1.0, seed: int = 0) -> dict[str, float]:
    """layer -> held-out accuracy of a logistic regression on that layer's features.

    Taught in `05_visualizing_features.ipynb`, which scores on the test photos.
    `val_features`, `y_val`: the held-out images the probe is scored on (test
    photos to grade; validation photos only to pick `c`). Features are
    standardised on the training images only; `c` is scikit-learn's inverse
    regularisation strength.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if not float(c) > 0:
        raise ValueError(f"c={c!r} is not valid; expected a number > 0")
    y_train = to_numpy(y_train).astype(int).reshape(-1)
    y_val = to_numpy(y_val).astype(int).reshape(-1)
    if len(np.unique(y_train)) < 2:
        raise ValueError("y_train holds one class; a probe needs at least two")
    missing = [n for n in train_features if n not in val_features]
    if missing:
        raise ValueError(f"val_features lacks {', '.join(missing)}")
    scores = {}
    for name, train in train_features.items():
        x_train = to_numpy(train).reshape(len(y_train), -1)
        x_val = to_numpy(val_features[name]).reshape(len(y_val), -1)
        probe = make_pipeline(StandardScaler(), LogisticRegression(
            C=float(c), max_iter=2000, random_state=seed))
        probe.fit(x_train, y_train)
        scores[name] = float(probe.score(x_val, y_val))
    return scores


def plot_probes(results: dict, chance: float | None = None,
                title: str = "Linear probe accuracy by depth", split: str = "test",
                references: dict | None = None):
    """Accuracy against depth, one line per base (e.g. pretrained and random).

    Taught in `05_visualizing_features.ipynb`. `results`: line label -> {layer
    -> accuracy}, layers bottom to top; `chance`: a dotted line at 1 / classes;
    `split`: the photos the accuracies were measured on, named on the y axis;
    `references`: label -> accuracy of whole models on the same photos, drawn
    as horizontal lines (`07_looking_inside.ipynb`: the trained classifiers).
    Returns the Figure.
    """
    if not isinstance(results, dict) or not results:
        raise ValueError("results must be a non-empty dict: label -> {layer: acc}")
    layers: list[str] = []
    for scores in results.values():
        layers += [name for name in scores if name not in layers]
    fig, axes = new_figure(1, 1, width=max(5.5, 1.1 * len(layers) + 2.0), height=3.8)
    ax = axes[0, 0]
    x = np.arange(len(layers))
    markers = "os^Dv"
    for i, (label, scores) in enumerate(results.items()):
        ys = [scores.get(name, np.nan) for name in layers]
        ax.plot(x, ys, marker=markers[i % len(markers)], color=colour(i),
                label=str(label), linestyle="-" if i == 0 else "--")
    for j, (label, accuracy) in enumerate((references or {}).items()):
        ax.axhline(float(accuracy), color=colour(len(results) + j), linewidth=1.2,
                   linestyle=(0, (4, 2 + j)), label=f"{label}: {float(accuracy):.1%}")
    accuracy_axis(ax, chance)
    ax.set_xticks(x, layers, rotation=20 if len(layers) > 5 else 0, fontsize=8)
    ax.set_xlabel("layer (deeper to the right)")
    ax.set_ylabel(f"{split} accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    return fig
