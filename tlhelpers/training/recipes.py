"""The course's recipes: a guarded `fit`, train the head, fine-tune the top N layers.

Taught in `02_feature_extraction.ipynb` and `03_fine_tuning.ipynb` (where the
same steps are also written out by hand). Used by the widgets and `tlh run`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import keras
import numpy as np

from .. import atomic, compat, config
from ..data.pipeline import batch_size_for_replicas
from ..models import check_model_archive, check_n_unfrozen, require_fresh_compile, set_trainable
from . import manifest
from .callbacks import BestWeights, LivePlot, RunLogger
from .runlog import RunLog


@dataclasses.dataclass
class FitResult:
    """What a training run produced."""

    history: dict[str, list[float]]
    best_val_accuracy: float | None
    seconds: float
    epochs_done: int
    interrupted: bool = False
    run: int | None = None


def check_epochs(epochs) -> int:
    """Epochs must be an integer >= 1."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs={epochs!r} is not valid; expected an integer >= 1")
    return epochs


def check_lr(lr) -> float:
    """A learning rate must be a number in (0, 1]."""
    try:
        value = float(lr)
    except (TypeError, ValueError):
        raise ValueError(f"lr={lr!r} is not valid; expected a number in (0, 1]") \
            from None
    if isinstance(lr, bool) or not math.isfinite(value) or not 0 < value <= 1:
        raise ValueError(f"lr={lr!r} is not valid; expected a number in (0, 1]")
    return value


def compile_for_training(model: keras.Model, lr: float) -> None:
    """Compile with a NEW Adam optimizer: Keras 3 refuses to reuse a built one."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=check_lr(lr)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def array_batch_sizes(train, val) -> dict:
    """Batch sizes for arrays, as `data.make_dataset` picks them for datasets."""
    if not isinstance(train, tuple):
        return {}  # a dataset is already batched
    batch = config.get_profile().batch_size
    sizes = {"batch_size": batch_size_for_replicas(batch, len(train[1]))}
    if isinstance(val, tuple):
        sizes["validation_batch_size"] = batch_size_for_replicas(batch, len(val[1]))
    return sizes


def per_photo_correct(model: keras.Model, test) -> np.ndarray:
    """For each test photo, whether `model` classifies it right (booleans, in order).

    Taught in `03_fine_tuning.ipynb` (as `tlh.strategies.per_photo_correct`).
    `test`: an `(x, y)` tuple of arrays (stored features) or a tf.data dataset
    of (images, labels), as `load_splits()` gives in `.test_ds`; its mean is
    `test_accuracy`.
    """
    if isinstance(test, tuple):
        x, y = test
        if len(y) == 0:
            raise ValueError("the test set is empty: nothing to grade")
        batch = batch_size_for_replicas(config.get_profile().batch_size, len(y))
        probs = model.predict(x, batch_size=batch, verbose=0)
        labels = np.asarray(y)
    else:
        probs, labels = [], []
        for images, batch_labels in test:
            probs.append(np.asarray(model(images, training=False)))
            labels.append(np.asarray(batch_labels))
        if not labels:
            raise ValueError("the test set is empty: nothing to grade")
        probs, labels = np.concatenate(probs), np.concatenate(labels)
    if len(labels) == 0:
        raise ValueError("the test set is empty: nothing to grade")
    return np.argmax(probs, axis=-1) == labels


def test_accuracy(model: keras.Model, test) -> float:
    """Accuracy on the held-out test photos, which picked nothing; taught in `02`.

    `test`: as `per_photo_correct` takes.
    """
    return float(np.mean(per_photo_correct(model, test)))


GO_ON = "To continue, run the same cell again: training goes on from these weights."


def fresh_dataset(train_ds):
    """The training set built anew, so its shuffle order starts over.

    Taught in `03_fine_tuning.ipynb` (comparable runs). `train_ds`: a function
    that builds it (called now), or a dataset that carries `tlh_rebuild`, a
    function that builds it again; anything else (arrays, a dataset without
    it) comes back as is. Reseed first (`keras.utils.set_random_seed`): a
    seeded shuffle also depends on the global seed.
    """
    if isinstance(train_ds, tuple):
        return train_ds
    rebuild = getattr(train_ds, "tlh_rebuild", None)
    if callable(rebuild):
        return rebuild()
    if callable(train_ds) and not hasattr(train_ds, "element_spec"):
        return train_ds()
    return train_ds


def _seed_states(model: keras.Model) -> list:
    # Dropout and augmentation draw from these; `get_weights` leaves them out.
    return compat.seed_generator_states(model)


def random_states(model: keras.Model) -> list[np.ndarray]:
    """The state of each random generator in the model (dropout, augmentation)."""
    return [np.array(v.numpy()) for v in _seed_states(model)]


def set_random_states(model: keras.Model, states: list) -> None:
    """Put back states from `random_states`, so dropout and augmentation repeat."""
    variables = _seed_states(model)
    if len(states) != len(variables):
        raise ValueError(f"states holds {len(states)} random states but the model "
                         f"has {len(variables)}; take them from this model with "
                         "random_states(model)")
    for variable, state in zip(variables, states):
        variable.assign(state)


def reseed_generators(model: keras.Model, seed: int) -> None:
    """Restart every random generator in the model (dropout) from `seed`.

    `keras.utils.set_random_seed` does not reach generators that already
    exist; without this, two runs from the same weights draw different
    dropout masks.
    """
    for i, variable in enumerate(_seed_states(model)):
        state = np.zeros(variable.shape, dtype=variable.dtype)
        state.flat[0] = seed + i
        variable.assign(state)


def fit(model: keras.Model, train_ds, val_ds, epochs: int, *,
        run_log: RunLog | None = None, log_fields: dict | None = None,
        live_plot: bool | LivePlot = True, output=None, title: str = "",
        callbacks=(), restore_best: bool = True, verbose: int = 0,
        rerun_note: str = GO_ON,
        start_over_note: str = "Run the same cell again to start over.") -> FitResult:
    """`model.fit` with the course's guards, live curves, best weights and run log.

    Taught in `03_fine_tuning.ipynb`. `train_ds` is a tf.data dataset or an
    `(x, y)` tuple of arrays (stored features). Refuses a stale compile. An interrupt
    (Kernel > Interrupt, Ctrl-C) keeps the best weights so far and the history,
    records the partial run, and prints `rerun_note`: what running the cell
    again does (`start_over_note` when no epoch finished; `python -m tlhelpers
    run` says "command" for "cell").
    """
    epochs = check_epochs(epochs)
    require_fresh_compile(model)
    best = BestWeights("val_accuracy")
    plot = live_plot if isinstance(live_plot, LivePlot) else (
        LivePlot(output=output, title=title) if live_plot else None)
    run = None
    all_callbacks = [best, *callbacks]
    if plot is not None:
        all_callbacks.append(plot)
    if run_log is not None:
        run = run_log.add(epochs=epochs, **(log_fields or {}))
        all_callbacks.append(RunLogger(run_log, run))
    history = keras.callbacks.History()
    all_callbacks.append(history)
    # Put back if interrupted before the first epoch ends (no best weights yet).
    initial = model.get_weights()
    started = time.perf_counter()
    interrupted = False
    try:
        # Arrays (stored features) come as an (x, y) tuple; datasets as one object.
        inputs = train_ds if isinstance(train_ds, tuple) else (train_ds,)
        model.fit(*inputs, validation_data=val_ds, epochs=epochs,
                  callbacks=all_callbacks, verbose=verbose,
                  **array_batch_sizes(train_ds, val_ds))
    except KeyboardInterrupt:
        interrupted = True
    except Exception:
        if run_log is not None:  # not left "running" forever
            run_log.update(run, status="failed",
                           seconds=round(time.perf_counter() - started, 1))
        raise
    seconds = time.perf_counter() - started
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    epochs_done = len(hist.get("loss", []))
    restored = best.restore(model) if (restore_best or interrupted) else False
    if interrupted and not restored:
        model.set_weights(initial)
    del initial
    best_acc = best.best_value
    if run_log is not None:
        run_log.update(run, status="interrupted" if interrupted else "done",
                       epochs_done=epochs_done, seconds=round(seconds, 1),
                       best_val_accuracy=best_acc)
    logged = " and the partial run is in the run log" if run_log is not None else ""
    if interrupted and best_acc is not None:
        print(f"Interrupted after {epochs_done} of {epochs} epoch(s). The best "
              f"weights so far (val accuracy {best_acc:.3f}) are back in the "
              f"model{logged}. {rerun_note}")
    elif interrupted:
        print(f"Interrupted after {epochs_done} of {epochs} epoch(s), before "
              "any epoch finished: the model has the weights it started "
              f"with{logged}. {start_over_note}")
    return FitResult(hist, best_acc, seconds, epochs_done, interrupted, run)


def train_head(model: keras.Model, base_model: keras.Model, train_ds, val_ds,
               epochs: int, lr: float = 1e-3, **fit_kwargs) -> FitResult:
    """Phase one: freeze the whole base, train only the new head.

    Taught in `02_feature_extraction.ipynb`.
    """
    base_model.trainable = False
    compile_for_training(model, lr)
    return fit(model, train_ds, val_ds, epochs, **fit_kwargs)


def fine_tune(model: keras.Model, base_model: keras.Model, train_ds, val_ds,
              n_unfrozen: int = 4, lr: float = 1e-5, epochs: int = 2,
              start_weights: list | None = None, run_log: RunLog | None = None,
              seed: int | None = None, **fit_kwargs) -> FitResult:
    """Phase two: unfreeze the top `n_unfrozen` base layers and train on with a low rate.

    Taught in `03_fine_tuning.ipynb`. `start_weights` (from `model.get_weights()`
    after phase one) are restored first, so every run starts from the same point.
    With `seed`, the random generators are reseeded and the training set is
    built anew (`fresh_dataset`), so runs also see the same batches in the
    same order and are comparable.
    """
    lr = check_lr(lr)
    epochs = check_epochs(epochs)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError(f"seed={seed!r} is not valid; expected an integer or None")
    check_n_unfrozen(base_model, n_unfrozen)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    train_ds = fresh_dataset(train_ds)
    if start_weights is not None:
        model.set_weights(start_weights)
        fit_kwargs.setdefault(
            "rerun_note", "Running the same cell again starts over from "
            "start_weights; to go on from these weights instead, call fine_tune "
            "without start_weights.")
    if seed is not None:
        reseed_generators(model, seed)
    set_trainable(base_model, n_unfrozen)
    compile_for_training(model, lr)
    fields = {"strategy": "fine-tuning",
              "backbone": getattr(base_model, "tlh_backbone", base_model.name),
              "weights": getattr(base_model, "tlh_weights", "?"),
              "n_unfrozen": n_unfrozen, "lr": lr}
    fields.update(fit_kwargs.pop("log_fields", None) or {})
    return fit(model, train_ds, val_ds, epochs, run_log=run_log, log_fields=fields,
               **fit_kwargs)


def saved_model_path(name: str) -> Path:
    """Where a notebook keeps a trained model for later notebooks (`TLH_HOME/models`)."""
    return config.cache_dir("models") / f"{name}.keras"


def save_model(model: keras.Model, path: str | Path, *, class_names=None,
               files=None) -> Path:
    """`model.save(path)` through a temporary file, with what it was trained on beside it.

    Taught in `03_fine_tuning.ipynb`; used by `05_visualizing_features.ipynb`.
    A kill keeps the old file. The file holds the layers and weights, not the
    optimizer (the model in memory stays compiled). The manifest (`manifest.describe`: profile,
    dataset, weights, and the classes and photos when given) lets notebooks
    05 and 06 refuse a model trained on something else. The old manifest goes
    first: a kill between the two writes leaves a model with none, which is
    refused, never one with another model's record.
    """
    path = Path(path)
    manifest.manifest_path(path).unlink(missing_ok=True)
    # Layers and weights only: the later notebooks predict with the model, and
    # an optimizer built during a trial run would not match on loading.
    with atomic.replacing(path, suffix=path.suffix) as tmp, compat.compile_left_out(model):
        model.save(tmp)
    manifest.write(path, manifest.describe(model, class_names, files))
    return path


def load_saved_model(path: str | Path, n_classes: int | None = None) -> keras.Model:
    """Load a `.keras` model safely (no arbitrary code) and check its class count."""
    if str(path).endswith(".keras") and Path(path).is_file():
        check_model_archive(path)  # a zip bomb is refused before Keras unpacks it
    model = keras.saving.load_model(path, safe_mode=True)
    if n_classes is not None:
        found = int(model.output_shape[-1])
        if found != n_classes:
            raise ValueError(
                f"the saved model {Path(path).name} predicts {found} classes but "
                f"the data has {n_classes}; retrain it on this data (delete "
                f"{path}) or choose the dataset it was trained on")
    return model
