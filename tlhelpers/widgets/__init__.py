"""ipywidgets UIs of the course; each wraps a plain function the notebook also calls.

Taught in `02_feature_extraction.ipynb` (head), `03_fine_tuning.ipynb` (unfreeze,
learning rate, range test), `05_visualizing_features.ipynb` (activations),
`06_use_your_model.ipynb` (your own photos) and `07_looking_inside.ipynb` (a
channel's dataset examples).
Modules load on first use so that importing the package needs no widget front end.
"""

from __future__ import annotations

import importlib

# public name -> module that defines it
EXPORTS = {
    "head_panel": "head",
    "fine_tuning_panel": "fine_tuning",
    "lr_finder_panel": "fine_tuning",
    "activation_explorer": "activations",
    "predict_panel": "predict",
    "feature_explorer": "features",
}


def __getattr__(name: str):
    if name in EXPORTS:
        module = importlib.import_module(f".{EXPORTS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'tlhelpers.widgets' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(EXPORTS))
