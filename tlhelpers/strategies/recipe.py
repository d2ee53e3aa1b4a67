"""The course's two phases on stored activations, for `run`, `strategies` and the study.

Notebook 03 writes these steps out where they are taught (`03_fine_tuning.ipynb`);
everything that trains the recipe without showing it calls these two
functions, so the head, the unfreezing, the compile, the arithmetic and the
grading cannot drift apart between `python -m tlhelpers run`, notebook 04's
comparison and sweep, and `bench/default_profile_study.py`.
"""

from __future__ import annotations

import keras
import numpy as np

from .. import config, models
from ..training.precision import computing_in
from ..training.recipes import FitResult, compile_for_training, fit, per_photo_correct
from .stored import stored_model

HEAD_LR = 1e-3  # phase one: Adam's default, only the new head trains


def train_head_stored(train, val, n_classes: int, epochs: int, *, seed: int,
                      **fit_kwargs) -> tuple[keras.Model, FitResult]:
    """Phase one: the course's head on the base's stored output; returns (head, result).

    `train`, `val`: `(x, y)` arrays of the stored output (depth 0). Seeded
    here, after the passes: a pass draws random numbers only when it
    computes, so a rerun from a full (or half-filled) cache would otherwise
    start the head from other initial values. `fit_kwargs` go to
    `training.fit` (validation picks the best epoch).
    """
    config.seed_everything(seed)
    head = models.build_head(train[0].shape[1:], n_classes)
    compile_for_training(head, HEAD_LR)
    return head, fit(head, train, val, epochs, **fit_kwargs)


def fine_tune_stored(model: keras.Model, base: keras.Model, n_unfrozen: int, train,
                     val, epochs: int, lr: float, *, precision: str = "float32",
                     test=None, seed: int | None = None, **fit_kwargs
                     ) -> tuple[keras.Model, FitResult, np.ndarray | None]:
    """Phase two: the top `n_unfrozen` layers and the head, on the stored output below them.

    `model`: the classifier around `base`, holding the head phase's weights
    (`copy_head`). `train`, `val` (and `test`): `(x, y)` arrays stored at
    depth `n_unfrozen`. With `seed`, the random generators are reseeded just
    before compiling (dropout and batch order then depend on the seed alone).
    Training and grading run in `precision` (`training.computing_in`).
    Returns (top model, FitResult, per-photo results on `test` or None); the
    top model shares its layers with `model`, so `model` is fine-tuned too.
    """
    models.set_trainable(base, n_unfrozen)
    top = stored_model(model, base, n_unfrozen)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    compile_for_training(top, lr)
    with computing_in(precision, top):
        result = fit(top, train, val, epochs, **fit_kwargs)
        graded = None if test is None else per_photo_correct(top, test)
    return top, result, graded


def train_course_models(base: keras.Model, files, class_names, *, name: str = "05",
                        seed: int = 42, progress: bool = True) -> dict[str, keras.Model]:
    """Notebook 03's two models, trained here when its saved ones cannot be used.

    Used by `05_visualizing_features.ipynb` and `07_looking_inside.ipynb`:
    the head on the base's stored output, then block5 unfrozen at the
    profile's fine-tuning rate, each phase's curves drawn. Both are saved as
    `{name}_head_trained` and `{name}_fine_tuned` (with what they were trained
    on beside them, so `predict.course_models` finds them next time) and
    returned as reloaded from disk: {"head trained": ..., "fine-tuned": ...}.
    """
    from ..training import load_saved_model, save_model, saved_model_path
    from .stored import copy_head, store_activations

    profile = config.get_profile()
    stored = store_activations(base, files, depths=(0, 4), progress=progress,
                               flip_train=profile.flip_train,
                               precision=profile.pass_precision)
    head, head_run = train_head_stored(
        stored.split("train", 0), stored.split("val", 0), len(class_names),
        profile.head_epochs, seed=seed, title="phase 1: head")
    model = models.build_classifier(base, len(class_names))
    copy_head(head, model, base)
    paths = {"head trained": saved_model_path(f"{name}_head_trained"),
             "fine-tuned": saved_model_path(f"{name}_fine_tuned")}
    save_model(model, paths["head trained"], class_names=class_names, files=files)
    # `model` shares the layers that train on the stored activations, so it
    # is the fine-tuned classifier afterwards.
    _, tuned_run, _ = fine_tune_stored(
        model, base, 4, stored.split("train", 4), stored.split("val", 4),
        profile.fine_tune_epochs, profile.fine_tune_lr,
        title=f"phase 2: block5 at lr={profile.fine_tune_lr:.0e}")
    save_model(model, paths["fine-tuned"], class_names=class_names, files=files)
    print(f"best validation accuracy: head {head_run.best_val_accuracy:.3f}, "
          f"fine-tuned {tuned_run.best_val_accuracy:.3f}; saved as "
          f"{paths['head trained'].name} and {paths['fine-tuned'].name}")
    return {label: load_saved_model(path) for label, path in paths.items()}
