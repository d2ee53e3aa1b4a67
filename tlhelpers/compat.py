"""Every use of a Keras or TensorFlow internal, in one place, each naming what it relies on.

Not taught: used by `config`, `distribute`, `models`, `weights`, `offline_weights`
and `training`. Each function below reaches past the public API because none
does the job; a new release can move what it reads without a warning, so
`tests/unit/test_compat.py` runs every one against the installed versions and,
when one breaks, names the function to change here. `CHECKED` says which
versions they were written against; `untested_versions` tells `doctor`.
"""

from __future__ import annotations

import contextlib
import os

# Major.minor of the releases every function here was checked against.
CHECKED = {"keras": "3.15", "tensorflow": "2.21"}


def untested_versions() -> list[str]:
    """'keras 3.16 (checked: 3.15)' for each installed release newer or older than CHECKED."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for package, checked in CHECKED.items():
        try:
            installed = version(package)
        except PackageNotFoundError:
            continue
        if ".".join(installed.split(".")[:2]) != checked:
            found.append(f"{package} {installed} (checked: {checked})")
    return found


# --- Keras' global seed (config.random_state_kept) --------------------------------

_GLOBAL_SEED = "global_seed_generator"


def keras_seed_generator():
    """The SeedGenerator `keras.utils.set_random_seed` feeds, or None before any draw.

    Relies on `keras.src.backend.common.global_state`, where Keras 3 keeps it
    under "global_seed_generator"; there is no public getter.
    """
    from keras.src.backend.common import global_state

    return global_state.get_global_attribute(_GLOBAL_SEED)


def set_keras_seed_generator(generator) -> None:
    """Put back a generator `keras_seed_generator` returned (None included)."""
    from keras.src.backend.common import global_state

    global_state.set_global_attribute(_GLOBAL_SEED, generator)


def seed_generator_states(model) -> list:
    """The state variables of a model's SeedGenerators (Dropout's, augmentation's).

    Keras 3 names each one `.../seed_generator_state` and offers no public list.
    """
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


# --- optimizers and compile (models.require_fresh_compile, lr_range_test) ---------

def optimizer_variables(optimizer) -> list | None:
    """The variables a built optimizer was built for, or None when Keras hides them.

    Keras 3 keeps them in the private `_trainable_variables`.
    """
    return getattr(optimizer, "_trainable_variables", None)


def mark_uncompiled(model) -> None:
    """Make `fit` ask for a new `compile`, as before any compile.

    Keras 3's `fit` checks the public-looking but undocumented `compiled` flag.
    """
    model.compiled = False


def forget_traced_functions(model) -> None:
    """Make the next `fit`, `evaluate` or `predict` trace its step again.

    Keras 3 keeps each traced step in `train_function`, `test_function` and
    `predict_function` (set to None by `compile`); a traced step keeps the
    dtypes its layers computed in when it was traced.
    """
    for name in ("train_function", "test_function", "predict_function"):
        if hasattr(model, name):
            setattr(model, name, None)


@contextlib.contextmanager
def compile_left_out(model):
    """Within the block, `model.save` writes no optimizer and no compile settings.

    Keras 3's save writes both while the model's `compiled` flag is set, and
    has no public option to leave them out; the flag is put back after.
    """
    was = getattr(model, "compiled", False)
    model.compiled = False
    try:
        yield model
    finally:
        model.compiled = was


# --- TensorFlow ---------------------------------------------------------------------

def onednn_enabled() -> bool:
    """Whether this TensorFlow runs oneDNN's graph rewrites (trusts the variable without the probe).

    Relies on `tensorflow.python.util._pywrap_util_port.IsMklEnabled`.
    """
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS") == "1"
    return bool(_pywrap_util_port.IsMklEnabled())


def reduce_each_tensor(strategy):
    """Let Keras 3's `fit` run under MultiWorkerMirroredStrategy; returns the strategy.

    Keras 3.15 hands `strategy.reduce` a whole (x, y) batch before training,
    and the scalar losses with `axis=0` after each step (keras-team/keras#20585);
    this strategy's `reduce` takes neither and `fit` fails on its first batch.
    Reducing each tensor alone, a scalar without an axis, is what Keras means.
    The patch replaces the instance's `reduce`.
    """
    import tensorflow as tf

    reduce = strategy.reduce

    def reduce_each(reduce_op, value, axis=None):
        def one(tensor):
            local = strategy.experimental_local_results(tensor)[0]
            rank = getattr(getattr(local, "shape", None), "rank", None)
            return reduce(reduce_op, tensor, axis=None if rank == 0 else axis)

        return tf.nest.map_structure(one, value)

    strategy.reduce = reduce_each
    return strategy


# --- weights files (weights.origin, offline_weights.read_file) ----------------------

def keras_weight_origin(backbone: str, name: str) -> tuple[str, str | None]:
    """(url, hash as Keras checks it) of a no-top ImageNet file named `name`.

    Keras 3 keeps the addresses and hashes as constants of the modules under
    `keras.src.applications`; the public functions only use them.
    """
    from keras.src.applications import efficientnet, mobilenet_v2, resnet, vgg16

    if backbone == "vgg16":
        return vgg16.WEIGHTS_PATH_NO_TOP, "6d6bbae143d832006294945121d1f1fc"
    if backbone == "resnet50":
        return resnet.BASE_WEIGHTS_PATH + name, resnet.WEIGHTS_HASHES["resnet50"][1]
    if backbone == "mobilenet_v2":
        return mobilenet_v2.BASE_WEIGHT_PATH + name, None
    if backbone == "efficientnet_b0":
        return efficientnet.BASE_WEIGHTS_PATH + name, efficientnet.WEIGHTS_HASHES["b0"][1]
    raise ValueError(f"backbone={backbone!r} has no known weights origin")


def weights_h5_layers(path) -> dict:
    """{layer name: [arrays in order]} of a `.weights.h5` file that `save_weights` wrote.

    Keras 3.15 writes `layers/<group>/vars/<i>`, keys a group by class
    (`conv2d_3`) and keeps the layer's name in the `vars` group's attribute
    `name`. Reading them with h5py avoids building the model to check a file.
    """
    import h5py

    layers = {}
    with h5py.File(path, "r") as f:
        for key, group in f["layers"].items():
            variables = group.get("vars")
            if variables is None:
                continue
            name = variables.attrs.get("name", key)
            layers[str(name)] = [variables[str(i)][()] for i in range(len(variables))]
    return layers
