"""The Keras 3 freezing trap's guard: a model that remembers what `compile` was asked to train.

Taught in `03_fine_tuning.ipynb`: after changing `trainable`, `fit` without
a new `compile` silently trains the old set of weights.
"""

from __future__ import annotations

import dataclasses

import keras

from .. import compat
from .freezing import leaf_layers


class RecompileNeededError(RuntimeError):
    """Trainable flags changed since `compile`: Keras would train the old set."""


@keras.saving.register_keras_serializable(package="tlhelpers")
class CourseModel(keras.Model):
    """A functional model that remembers which weights `compile` was asked to train.

    Taught in `03_fine_tuning.ipynb`. `model.compile(...)` is Keras' own; this
    records the trainable variables at that moment, so `require_fresh_compile`
    compares against the course's record instead of Keras' private state.
    """

    def compile(self, *args, **kwargs):
        optimizer = kwargs.get("optimizer", args[0] if args else None)
        super().compile(*args, **kwargs)
        # Ids, not the variables: a list of variables set as an attribute
        # would make Keras track them as weights of this model.
        ids = frozenset(id(v) for v in self.trainable_variables)
        self.tlh_compiled_for = CompileRecord(ids, _built_for_others(optimizer, ids))

    def compile_from_config(self, config):
        # Keras skips compiling a loaded model whose compile() is overridden;
        # this does what Keras' own version does.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)


def _built_for_others(optimizer, ids: frozenset) -> bool:
    """True when `optimizer` was already built, for other variables than `ids`."""
    if not getattr(optimizer, "built", False):
        return False
    # Keras has no public list of the variables an optimizer was built for;
    # without its private one, assume the worst (a new optimizer is the rule).
    tracked = compat.optimizer_variables(optimizer)
    return tracked is None or {id(v) for v in tracked} != ids


@dataclasses.dataclass(frozen=True)
class CompileRecord:
    """What `CourseModel.compile` saw: the trainable variables and the optimizer."""

    trainable_ids: frozenset
    optimizer_built_for_others: bool


# The Keras releases the guard was checked with: `test_models.py` pins that
# `fit` without a new compile still trains the old set, and fails on others.
KERAS_CHECKED = ((3, 0), (3, 16))  # from 3.0 up to, not including, 3.16


def _no_record_message(model) -> str:
    if not getattr(model, "compiled", False):
        return ("the model is not compiled: call model.compile(optimizer=..., "
                "loss=..., metrics=...) before training")
    return (f"the model {model.name!r} is not one of the course's models "
            "(tlh.models.build_classifier, build_head, build_small_cnn), so "
            "nothing recorded which weights compile was asked to train; build "
            "it with those, or with tlh.models.CourseModel(inputs, outputs), "
            "then call model.compile(...)")


def stale_layers(model: keras.Model) -> list[str]:
    """Layers whose weights changed trainable state since `model.compile`.

    Empty when fresh; raises RecompileNeededError when there is no compile
    record to compare with (not compiled, or not a `CourseModel`).
    """
    record = getattr(model, "tlh_compiled_for", None)
    if record is None or not getattr(model, "compiled", False):
        raise RecompileNeededError(_no_record_message(model))
    now = {id(v) for v in model.trainable_variables}
    changed = now ^ record.trainable_ids
    return [layer.name for layer in leaf_layers(model)
            if any(id(v) in changed for v in layer.weights)]


def require_fresh_compile(model: keras.Model) -> None:
    """Raise when the model must be recompiled; taught in `03_fine_tuning.ipynb`.

    Keras 3 keeps training the variables it compiled for: after changing
    `trainable`, `fit` without a new `compile` silently trains the old set.
    Also refuses when there is no compile record (see `CourseModel`).
    """
    changed = stale_layers(model)
    if changed:
        shown = ", ".join(changed[:6]) + (" ..." if len(changed) > 6 else "")
        raise RecompileNeededError(
            f"`trainable` changed since compile for {len(changed)} "
            f"{'layer' if len(changed) == 1 else 'layers'} "
            f"({shown}); Keras would keep training the old set. Call "
            "model.compile(...) again, with a new optimizer, before fit.")
    if model.tlh_compiled_for.optimizer_built_for_others:
        raise RecompileNeededError(
            "the model was compiled with an optimizer already used for another "
            "set of trainable weights; fit would fail with 'Unknown variable'. "
            "Pass a new optimizer, e.g. model.compile(optimizer="
            "keras.optimizers.Adam(lr), ...).")
