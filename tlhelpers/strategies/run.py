"""Scratch, feature extraction and fine-tuning, run side by side; the unfreeze sweep.

Taught in `04_choosing_a_strategy.ipynb`: accuracy and training time against
training-set size, and a sweep of unfreeze depth and learning rate. Both train
on the activations `stored` keeps; subsets are nested across sizes.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from .. import config, models
from ..data.pipeline import make_dataset
from ..training.recipes import check_epochs, check_lr, compile_for_training, fit, test_accuracy
from .stored import copy_head, store_activations, stored_model

STRATEGIES = ("scratch", "feature-extraction", "fine-tuning")


# ---------------------------------------------------------------- subsets

def subset_indices(labels, per_class: int, seed: int = 42) -> np.ndarray:
    """Indices of up to `per_class` items of each class, nested across sizes.

    The order within a class is shuffled once with `seed`, and a size takes
    its first `per_class`, so the 5 images of a small subset are among the 20
    of a larger one: sizes differ only by the images added.
    """
    labels = np.asarray(labels)
    if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) \
            or per_class < 1:
        raise ValueError(f"per_class={per_class!r} is not valid; expected an "
                         "integer >= 1")
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        chosen.append(rng.permutation(members)[:per_class])
    return np.sort(np.concatenate(chosen))


def check_sizes(sizes, labels) -> list[int]:
    """Sizes (images per class), sorted and unique, capped at what every class has."""
    try:
        values = [int(s) for s in sizes]
    except (TypeError, ValueError):
        raise ValueError(f"sizes={sizes!r} is not valid; expected integers >= 1 "
                         "(images per class)") from None
    if not values or min(values) < 1 or any(isinstance(s, bool) for s in sizes):
        raise ValueError(f"sizes={sizes!r} is not valid; expected integers >= 1 "
                         "(images per class)")
    available = int(min(np.bincount(np.asarray(labels))))
    return sorted({min(v, available) for v in values})


# ------------------------------------------------------------- training

class _Restore:
    """Puts a model's weights and its base's trainable flags back on exit."""

    def __init__(self, model: keras.Model, base: keras.Model):
        self.model, self.base = model, base

    def __enter__(self):
        self.weights = self.model.get_weights()
        self.flags = (self.base.trainable,
                      [layer.trainable for layer in self.base.layers])
        return self

    def reset(self) -> None:
        self.model.set_weights(self.weights)

    def __exit__(self, *exc):
        self.reset()
        self.base.trainable = self.flags[0]
        for layer, flag in zip(self.base.layers, self.flags[1]):
            layer.trainable = flag
        return False


def _count(variables) -> int:
    return int(sum(math.prod(int(d) for d in v.shape) for v in variables))


def _fit_quiet(model, train, val, epochs, lr, seed):
    keras.utils.set_random_seed(seed)
    compile_for_training(model, lr)
    # Validation picks the best epoch (its weights come back); the test
    # photos, which picked nothing, grade the result.
    return fit(model, train, val, epochs, live_plot=False, restore_best=True)


def _final_val(result) -> float:
    return float(result.history["val_accuracy"][-1])


def _fine_tune_stored(model, base, depth, train, val, epochs, lr, seed):
    """Unfreeze the top `depth` layers and train them with the head on stored arrays.

    `prefix.fit_on_stored` on arrays already stored (and sliced to a subset).
    """
    models.set_trainable(base, depth)
    top = stored_model(model, base, depth)
    return top, _fit_quiet(top, train, val, epochs, lr, seed)


def _rows(idx: np.ndarray, n_photos: int, n_rows: int) -> np.ndarray:
    """The stored training rows of the photos `idx`, in every stored view.

    The rows are the photos, then (with `flip_train`) the same photos
    mirrored: photo i is row i and row i + n_photos.
    """
    if n_rows % n_photos:
        raise ValueError(f"{n_rows} stored training rows are not whole views of "
                         f"{n_photos} photos: store the activations of these files")
    return np.concatenate([idx + view * n_photos
                           for view in range(n_rows // n_photos)])


def _stored_for(base_model, files, depths, progress):
    """The profile's stored views (photos, and mirrors if it says "flip")."""
    profile = config.get_profile()
    return store_activations(base_model, files, depths=depths, progress=progress,
                             flip_train="flip" in profile.train_views,
                             precision=profile.pass_precision)


def _fresh_classifier(base, n_classes, head, seed):
    """The classifier around `base` with `head`'s weights and a freshly seeded dropout.

    A new model for every run: its dropout draws from the seed alone, so a
    run does not depend on how many steps the runs before it took.
    """
    keras.utils.set_random_seed(seed)
    model = models.build_classifier(base, n_classes)
    copy_head(head, model, base)
    return model


def _test_of(stored, depth):
    return stored.split("test", depth) if stored.test else \
        stored.split("val", depth)


# ----------------------------------------------------- the comparisons

def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, flush=True)


def compare_strategies(base_model: keras.Model, files, sizes=None, *,
                       image_size: int | None = None, batch_size: int | None = None,
                       scratch_epochs: int | None = None,
                       head_epochs: int | None = None,
                       fine_tune_epochs: int | None = None, n_unfrozen: int = 4,
                       lr: float | None = None, seed: int = 42, stored=None,
                       progress: bool = True):
    """Test accuracy and training seconds of each strategy and training-set size.

    Taught in `04_choosing_a_strategy.ipynb`. `files`: the FileSplit of
    `data.load_splits()` (`splits.files`); `sizes`: images per class (default:
    the profile's `sweep_sizes`). Every size is validated and tested on the
    same, whole validation and test sets. Scratch is the small CNN of
    notebook 01 with augmentation, on photos of `image_size` (default
    notebook 01's, the profile's `scratch_image_size`); feature extraction trains the seed's head
    on stored features; fine-tuning continues from that head with the top
    `n_unfrozen` layers unfrozen at `lr` (its row reports the fine-tuning
    phase; seconds include the head phase; `lr`: default the profile's
    `fine_tune_lr`). The two train on the stored rows of the subset's photos
    in every stored view (`train_rows`: with mirrored views, twice
    `train_images`). Validation picks each run's best epoch and, in
    `strategies.winners`, the strategy (`best_val_accuracy`, optimistic
    because it picked); `test_accuracy`, on photos that picked nothing,
    grades. `seconds` counts training only: the one pass of the base that
    stores the activations is in `.attrs["prepare_seconds"]`.
    Returns a DataFrame with `.attrs["histories"]`: (strategy, size) -> history.
    """
    import pandas as pd

    profile = config.get_profile()
    # The scratch CNN reads photos at notebook 01's size, as in notebook 02:
    # at the base's 150 px its epochs cost several times as much.
    image_size = image_size or profile.scratch_image_size
    batch_size = batch_size or profile.batch_size
    scratch_epochs = check_epochs(scratch_epochs or profile.scratch_epochs)
    head_epochs = check_epochs(head_epochs or profile.head_epochs)
    fine_tune_epochs = check_epochs(fine_tune_epochs or profile.fine_tune_epochs)
    lr = check_lr(profile.fine_tune_lr if lr is None else lr)
    train_labels = np.array([label for _, label in files.train])
    sizes = check_sizes(profile.sweep_sizes if sizes is None else sizes, train_labels)
    n_classes = len(files.class_names)
    models.check_n_unfrozen(base_model, n_unfrozen)
    if stored is None:
        stored = _stored_for(base_model, files, (0, n_unfrozen), progress)
    val_ds = make_dataset(files.val, image_size, batch_size, shuffle=False,
                          skip_unreadable=True)
    test_ds = make_dataset(getattr(files, "test", None) or files.val, image_size,
                           batch_size, shuffle=False, skip_unreadable=True)
    val_top = stored.split("val", 0)
    val_low = stored.split("val", n_unfrozen)
    rows, histories = [], {}

    def record(strategy, size, n_train, n_rows, result, seconds, epochs, test):
        hist = result.history
        rows.append({"strategy": strategy, "images_per_class": size,
                     "train_images": n_train, "train_rows": n_rows,
                     "test_accuracy": test,
                     "best_val_accuracy": result.best_val_accuracy,
                     "final_val_accuracy": _final_val(result),
                     "final_train_accuracy": hist["accuracy"][-1],
                     "epochs": epochs, "seconds": round(seconds, 2)})
        histories[(strategy, size)] = hist
        _say(progress, f"{strategy:>18}, {size:>4} per class: test accuracy "
                       f"{test:.3f} in {seconds:.1f} s")

    model = models.build_classifier(base_model, n_classes)
    with _Restore(model, base_model) as restore:
        for size in sizes:
            idx = subset_indices(train_labels, size, seed)
            items = [files.train[i] for i in idx]
            rows_of = _rows(idx, len(train_labels), len(stored.train_labels))

            keras.utils.set_random_seed(seed)
            scratch = models.build_small_cnn((image_size, image_size, 3), n_classes,
                                             models.default_augmentation(seed))
            train_ds = make_dataset(items, image_size, batch_size, shuffle=True,
                                    seed=seed, skip_unreadable=True)
            result = _fit_quiet(scratch, train_ds, val_ds, scratch_epochs, 1e-3,
                                seed)
            # Random augmentation, a new view of every photo in every epoch.
            record("scratch", size, len(idx), len(idx), result, result.seconds,
                   scratch_epochs, test_accuracy(scratch, test_ds))

            keras.utils.set_random_seed(seed)
            head = models.build_head(stored.train[0].shape[1:], n_classes)
            head_result = _fit_quiet(head, (stored.train[0][rows_of],
                                            stored.train_labels[rows_of]),
                                     val_top, head_epochs, 1e-3, seed)
            record("feature-extraction", size, len(idx), len(rows_of), head_result,
                   head_result.seconds, head_epochs,
                   test_accuracy(head, _test_of(stored, 0)))

            restore.reset()
            tuned_model = _fresh_classifier(base_model, n_classes, head, seed)
            top, tuned = _fine_tune_stored(
                tuned_model, base_model, n_unfrozen,
                (stored.train[n_unfrozen][rows_of], stored.train_labels[rows_of]),
                val_low, fine_tune_epochs, lr, seed)
            record("fine-tuning", size, len(idx), len(rows_of), tuned,
                   head_result.seconds + tuned.seconds,
                   head_epochs + fine_tune_epochs,
                   test_accuracy(top, _test_of(stored, n_unfrozen)))

    frame = pd.DataFrame(rows)
    frame.attrs["histories"] = histories
    frame.attrs["prepare_seconds"] = stored.seconds
    frame.attrs["prepare_cached"] = stored.from_cache
    frame.attrs["n_val"] = len(files.val)
    frame.attrs["n_test"] = len(stored.test_labels if stored.test else files.val)
    frame.attrs["n_classes"] = n_classes
    frame.attrs["n_unfrozen"] = n_unfrozen
    frame.attrs["lr"] = lr
    frame.attrs["scratch_image_size"] = image_size
    frame.attrs["weights"] = getattr(base_model, "tlh_weights", "?")
    return frame


def unfreeze_sweep(base_model: keras.Model, files, depths=(0, 4, 8),
                   lrs=None, *, epochs: int | None = None,
                   head_epochs: int | None = None, seed: int = 42, stored=None,
                   images_per_class: int | None = None, progress: bool = True):
    """Fine-tune the top `depth` layers at each rate, all from the same trained head.

    Taught in `04_choosing_a_strategy.ipynb`. The head is trained once on the
    stored features (`head_epochs`); every (depth, lr) run then starts from
    it, so runs differ only by depth and rate. Depth 0 keeps training the
    head alone. `images_per_class` trains every run on the same seeded subset
    (a deep unfreeze costs time in proportion to the images), validated on the
    whole validation and test sets. Returns a DataFrame (one row per run, with
    the test accuracy the runs started from: the head's best epoch by
    validation) with `.attrs["histories"]`. `lrs`: default the profile's
    `fine_tune_lr` and 1e-3. Validation picks each run's best epoch (and
    would pick the setting: `best_val_accuracy`, optimistic because it
    picked); `test_accuracy` and its `change` from the start grade the runs.
    """
    import pandas as pd

    profile = config.get_profile()
    epochs = check_epochs(epochs or profile.fine_tune_epochs)
    head_epochs = check_epochs(head_epochs or profile.head_epochs)
    depths = [models.check_n_unfrozen(base_model, d) for d in depths]
    lrs = [check_lr(lr) for lr in
           ((profile.fine_tune_lr, 1e-3) if lrs is None else lrs)]
    if not depths or not lrs:
        raise ValueError("depths and lrs must each hold at least one value")
    if stored is None:
        stored = _stored_for(base_model, files, (0, *depths), progress)
    n_classes = len(files.class_names)
    train_labels = stored.train_labels
    photo_labels = np.array([label for _, label in files.train])
    photos = (np.arange(len(photo_labels)) if images_per_class is None else
              subset_indices(photo_labels,
                             check_sizes([images_per_class], photo_labels)[0],
                             seed))
    idx = _rows(photos, len(photo_labels), len(train_labels))
    keras.utils.set_random_seed(seed)
    head = models.build_head(stored.train[0].shape[1:], n_classes)
    head_result = _fit_quiet(head, (stored.train[0][idx], train_labels[idx]),
                             stored.split("val", 0), head_epochs, 1e-3, seed)
    start = test_accuracy(head, _test_of(stored, 0))
    _say(progress, f"head trained: test accuracy {start:.3f} "
                   f"({head_result.seconds:.1f} s); every run starts here")
    rows, histories = [], {}
    model = models.build_classifier(base_model, n_classes)
    head_params = head.count_params()
    with _Restore(model, base_model) as restore:
        for depth in depths:
            unfrozen = [layer.name for layer in
                        base_model.layers[len(base_model.layers) - depth:]] \
                if depth else []
            for lr in lrs:
                restore.reset()
                tuned_model = _fresh_classifier(base_model, n_classes, head, seed)
                top, result = _fine_tune_stored(
                    tuned_model, base_model, depth,
                    (stored.train[depth][idx], train_labels[idx]),
                    stored.split("val", depth), epochs, lr, seed)
                test = test_accuracy(top, _test_of(stored, depth))
                rows.append({"n_unfrozen": depth,
                             "unfrozen": (f"{unfrozen[0]}..{unfrozen[-1]}"
                                          if unfrozen else "(head only)"),
                             "lr": lr,
                             "trainable_base_params":
                                 _count(top.trainable_weights) - head_params,
                             "start_test_accuracy": start,
                             "test_accuracy": test,
                             "best_val_accuracy": result.best_val_accuracy,
                             "final_val_accuracy": result.history["val_accuracy"][-1],
                             "change": test - start,
                             "seconds": round(result.seconds, 2)})
                histories[(depth, lr)] = result.history
                _say(progress, f"unfreeze {depth:>2} at lr {lr:.0e}: test accuracy "
                               f"{start:.3f} -> {test:.3f} in "
                               f"{result.seconds:.1f} s")
    frame = pd.DataFrame(rows)
    frame.attrs["histories"] = histories
    frame.attrs["head_seconds"] = head_result.seconds
    frame.attrs["n_classes"] = n_classes
    frame.attrs["train_images"] = len(photos)
    frame.attrs["train_rows"] = len(idx)
    frame.attrs["prepare_seconds"] = stored.seconds
    frame.attrs["n_val"] = len(files.val)
    frame.attrs["n_test"] = len(stored.test_labels if stored.test else files.val)
    frame.attrs["weights"] = getattr(base_model, "tlh_weights", "?")
    return frame
