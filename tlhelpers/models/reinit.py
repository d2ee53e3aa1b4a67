"""Drawing layers' weights again from their own initializers, from a seed.

Used by `load_base(weights=None, seed=...)` (the random-weights control of
`05_visualizing_features.ipynb` and `07_looking_inside.ipynb`: the same
random base in every notebook, so its stored features are found again) and
by `viz.randomized_copy` (the saliency sanity check of 07).
"""

from __future__ import annotations

import keras
import numpy as np

from .freezing import leaf_layers

# Weights whose initializer attribute is not named after them.
_INITIALIZER_OF = {"depthwise_kernel": "depthwise_initializer",
                   "pointwise_kernel": "pointwise_initializer"}


def _initializer(layer, variable):
    """The layer's own initializer for `variable` (e.g. kernel_initializer)."""
    name = variable.name.split("/")[-1].split(":")[0]
    for attribute in (_INITIALIZER_OF.get(name), f"{name}_initializer",
                      "depthwise_initializer" if name == "kernel" else None):
        found = getattr(layer, attribute, None) if attribute else None
        if found is not None:
            return found
    raise ValueError(f"cannot re-initialise {layer.name}/{name}: the layer has no "
                     f"{name}_initializer")


def reinitialise(layers, seed: int) -> None:
    """Every weight of `layers` (nested models included) drawn again, seeded.

    Each weight gets a fresh copy of its own initializer with a seed drawn
    from `seed`, so two calls with the same seed give the same values,
    whatever Keras' global random state is.
    """
    rng = np.random.default_rng(seed)
    for layer in layers:
        for leaf in leaf_layers(layer) if isinstance(layer, keras.Model) else [layer]:
            for variable in leaf.weights:
                initializer = _initializer(leaf, variable)
                config = initializer.get_config()
                if "seed" in config:  # constant initializers (zeros, ones) have none
                    config["seed"] = int(rng.integers(2**31 - 1))
                fresh = initializer.__class__.from_config(config)
                variable.assign(fresh(tuple(variable.shape), dtype=variable.dtype))
