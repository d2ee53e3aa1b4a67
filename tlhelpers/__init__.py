"""Helpers for the transfer-learning course: notebooks `import tlhelpers as tlh`.

Submodules load on first use (`tlh.data`, `tlh.models`, ...), so the command
line's quick commands do not pay for importing TensorFlow. Importing the
package changes nothing global (environment, import hooks, stderr, seeds):
a program can import it for `tlhelpers.predict` alone. What the course needs
before TensorFlow loads happens in `setup()`, which the Setup cells call first.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

SUBMODULES = ("config", "figures", "data", "weights", "session", "models", "features",
              "distribute", "tflogs", "training", "predict", "strategies",
              "viz", "widgets", "checks", "cli", "bench")


def setup(seed: int = 42, verbose: bool = True, mixed_precision: bool = True):
    """Seed, check versions, pick devices, print the Setup line; taught in every notebook.

    Called before TensorFlow is imported, it also quiets TensorFlow's start-up
    logs (`TLH_TF_LOGS=1` keeps them) and turns oneDNN's rewrites on, or off
    for `TLH_CPU_REPLICAS`: TensorFlow reads both only when it loads.
    """
    from . import distribute

    distribute.prepare_environment()
    from .session import setup as _setup

    return _setup(seed=seed, verbose=verbose, mixed_precision=mixed_precision)


def __getattr__(name: str):
    if name in SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tlhelpers' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(SUBMODULES))
