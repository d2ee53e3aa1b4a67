"""Helpers for the transfer-learning course: notebooks `import tlhelpers as tlh`.

Submodules load on first use (`tlh.data`, `tlh.models`, ...), so the command
line's quick commands do not pay for importing TensorFlow, and importing the
package seeds nothing.
"""

from __future__ import annotations

import importlib

from . import distribute as _distribute

__version__ = "0.1.0"

# TensorFlow reads some settings only when it is imported, and writes its
# start-up logs then: set them and quiet those first (`TLH_TF_LOGS=1` keeps them).
_distribute.prepare_environment()

SUBMODULES = ("config", "figures", "data", "weights", "session", "models", "features",
              "prefix", "distribute", "tflogs", "training", "predict", "strategies",
              "viz", "widgets", "checks", "cli", "bench")


def setup(seed: int = 42, verbose: bool = True, mixed_precision: bool = True):
    """Seed, check versions, pick devices, print the Setup line; taught in every notebook."""
    from .session import setup as _setup

    return _setup(seed=seed, verbose=verbose, mixed_precision=mixed_precision)


def __getattr__(name: str):
    if name in SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tlhelpers' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(SUBMODULES))
