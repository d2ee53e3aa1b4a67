"""Scratch, feature extraction and fine-tuning, run side by side; the unfreeze sweep.

Taught in `04_choosing_a_strategy.ipynb`: accuracy and training time against
training-set size, and a sweep of unfreeze depth and learning rate. Both train
on the activations `stored` keeps; subsets are nested across sizes.
"""

from __future__ import annotations

import dataclasses
import math
import time

import keras
import numpy as np

from .. import config, features, models
from ..data.pipeline import make_dataset
from ..features import pass_precision
from ..training.precision import computing_in
from ..training.recipes import check_epochs, check_lr, compile_for_training, fit, test_accuracy
from .recipe import fine_tune_stored
from .stored import copy_head, store_activations, stored_layer, stored_model

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


# Validation picks the best epoch (its weights come back); the test photos,
# which picked nothing, grade the result.
QUIET = {"live_plot": False, "restore_best": True}


def _fit_quiet(model, train, val, epochs, lr, seed):
    keras.utils.set_random_seed(seed)
    compile_for_training(model, lr)
    return fit(model, train, val, epochs, **QUIET)


def _final_val(result) -> float:
    return float(result.history["val_accuracy"][-1])


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
                             flip_train=profile.flip_train,
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


def _warm_up(base, n_classes, head, depth, train, seed, precision) -> None:
    """One untimed training step at `depth`, thrown away (the caller resets the weights).

    The first step on a shape pays one-time costs (tracing, memory, the
    kernels chosen for those shapes) that would otherwise fall on whichever
    timed run comes first: after it, equal work takes about equal time.
    """
    model = _fresh_classifier(base, n_classes, head, seed)
    models.set_trainable(base, depth)
    top = stored_model(model, base, depth)
    compile_for_training(top, 1e-3)
    n = min(len(train[1]), config.get_profile().batch_size)
    with computing_in(precision, top):
        top.train_on_batch(train[0][:n], train[1][:n])


def _test_of(stored, depth):
    return stored.split("test", depth) if stored.test else \
        stored.split("val", depth)


# ------------------------------------------------- the pass of the base

@dataclasses.dataclass
class PassTime:
    """What the one pass of the frozen base costs per image, and how it was measured."""

    seconds_per_image: float
    images: int        # images the measurement covered
    seconds: float     # the measured seconds over those images
    timed_sample: bool  # True: timed here on a sample (the arrays came from disk)

    def for_images(self, n_images: int) -> float:
        """Seconds of the pass over `n_images` images at the measured rate."""
        return self.seconds_per_image * int(n_images)

    def describe(self) -> str:
        if self.timed_sample:
            how = (f"the stored arrays were loaded from disk, so a pass of the "
                   f"same layers was timed here on {self.images} training "
                   f"photos after an untimed warm-up batch: {self.seconds:.1f} s")
        else:
            how = (f"measured in this run's pass: {self.seconds:.1f} s for "
                   f"{self.images} images")
        return (f"the pass of the base: {1000 * self.seconds_per_image:.1f} ms "
                f"per image ({how})")


def time_the_pass(base_model: keras.Model, files, stored, *,
                  sample: int | None = None) -> PassTime:
    """Seconds per image of the pass of the base that stores the activations.

    Taught in `04_choosing_a_strategy.ipynb`, for the time the transfer
    strategies pay once. When `stored` was computed in this run, its own
    time over every stored row; when it was loaded from disk, the same pass
    (the stored layers, the profile's precision) timed here on `sample`
    training photos (default two batches) after one untimed batch, which
    pays the tracing and first-call costs.
    """
    import tensorflow as tf

    n_rows = (len(stored.train_labels) + len(stored.val_labels)
              + (len(stored.test_labels) if stored.test else 0))
    if not stored.from_cache:
        return PassTime(stored.seconds / n_rows, n_rows, stored.seconds, False)
    profile = config.get_profile()
    photos = list(files.train)
    if len(photos) < 2:
        raise ValueError(f"{len(photos)} training photo(s) are too few to time "
                         "the pass after a warm-up batch")
    batch = max(1, min(profile.batch_size, len(photos) // 3))
    # Whole batches only: a smaller last batch would be traced again.
    sample = min(int(sample or 2 * batch), len(photos) - batch)
    sample = max(batch, sample // batch * batch)
    items = photos[:batch + sample]
    # Deepest first, as the stored pass runs: the others come from it.
    layers = [stored_layer(base_model, d) for d in sorted(stored.train, reverse=True)]
    precision = features.pass_precision(profile.pass_precision)
    source = (features.bfloat16_copy(base_model) if precision == "bfloat16"
              else base_model)
    extractor = features.feature_model(source, layers[0], also=layers[1:])

    @tf.function(reduce_retracing=True, autograph=False)
    def forward(images):
        outputs = extractor(images, training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return [tf.cast(out, tf.float32) for out in outputs]

    ds = make_dataset(items, int(base_model.input_shape[1]), batch,
                      shuffle=False, cache=False)
    timed, started = 0, None
    with features.bfloat16_errors_explained():
        for images, _ in ds:
            out = forward(images)
            np.asarray(out[0])  # wait for the batch
            if started is None:  # the warm-up batch: not timed
                started = time.perf_counter()
                continue
            timed += int(images.shape[0])
    seconds = time.perf_counter() - started
    return PassTime(seconds / timed, timed, seconds, True)


# ----------------------------------------------------- the comparisons

def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, flush=True)


def compare_strategies(base_model: keras.Model, files, sizes=None, *,
                       image_size: int | None = None, batch_size: int | None = None,
                       scratch_epochs: int | None = None,
                       head_epochs: int | None = None,
                       fine_tune_epochs: int | None = None,
                       extraction_epochs: int | None = None, n_unfrozen: int = 4,
                       lr: float | None = None, seed: int = 42, stored=None,
                       pass_time: PassTime | None = None, progress: bool = True,
                       precision: str | None = None):
    """Test accuracy and training seconds of each strategy and training-set size.

    Taught in `04_choosing_a_strategy.ipynb`. `files`: the FileSplit of
    `data.load_splits()` (`splits.files`); `sizes`: images per class (default:
    the profile's `sweep_sizes`). Every size is validated and tested on the
    same, whole validation and test sets. Scratch is the small CNN of
    notebook 01 with augmentation, on photos of `image_size` (default
    notebook 01's, the profile's `scratch_image_size`); feature extraction trains the seed's head
    on stored features for `extraction_epochs` (default `head_epochs`);
    fine-tuning continues from that head after `head_epochs` with the top
    `n_unfrozen` layers unfrozen at `lr` (its row reports the fine-tuning
    phase; seconds include the head phase; `start_test_accuracy` is the
    head it started from; `lr`: default the profile's `fine_tune_lr`).
    With `extraction_epochs = head_epochs + fine_tune_epochs`, both train
    for as many epochs. The two train on the stored rows of the subset's photos
    in every stored view (`train_rows`: with mirrored views, twice
    `train_images`). Validation picks each run's best epoch and, in
    `strategies.winners`, the strategy (`best_val_accuracy`, optimistic
    because it picked); `test_accuracy`, on photos that picked nothing,
    grades. `seconds` counts training only. `pass_seconds` is what the one
    pass of the base costs the two transfer strategies for the subset's
    training rows and the validation photos, at the rate of `pass_time`
    (default `time_the_pass`: this run's pass, or one timed on a sample when
    the arrays came from disk); 0 for scratch, which runs its own layers
    every epoch. `.attrs["prepare_seconds"]` is what storing (or loading)
    the activations took in this run. `precision`: fine-tuning's (default
    the profile's `fine_tune_precision`; `training.computing_in`).
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
    extraction_epochs = check_epochs(extraction_epochs or head_epochs)
    lr = check_lr(profile.fine_tune_lr if lr is None else lr)
    precision = pass_precision(precision or profile.fine_tune_precision)
    train_labels = np.array([label for _, label in files.train])
    sizes = check_sizes(profile.sweep_sizes if sizes is None else sizes, train_labels)
    n_classes = len(files.class_names)
    models.check_n_unfrozen(base_model, n_unfrozen)
    if stored is None:
        stored = _stored_for(base_model, files, (0, n_unfrozen), progress)
    if pass_time is None:
        pass_time = time_the_pass(base_model, files, stored)
    val_ds = make_dataset(files.val, image_size, batch_size, shuffle=False,
                          skip_unreadable=True)
    test_ds = make_dataset(getattr(files, "test", None) or files.val, image_size,
                           batch_size, shuffle=False, skip_unreadable=True)
    val_top = stored.split("val", 0)
    val_low = stored.split("val", n_unfrozen)
    rows, histories = [], {}

    def record(strategy, size, n_train, n_rows, result, seconds, epochs, test,
               start=np.nan):
        hist = result.history
        rows.append({"strategy": strategy, "images_per_class": size,
                     "train_images": n_train, "train_rows": n_rows,
                     "test_accuracy": test, "start_test_accuracy": start,
                     "best_val_accuracy": result.best_val_accuracy,
                     "final_val_accuracy": _final_val(result),
                     "final_train_accuracy": hist["accuracy"][-1],
                     "epochs": epochs, "seconds": round(seconds, 2),
                     "pass_seconds": 0.0 if strategy == "scratch" else round(
                         pass_time.for_images(n_rows + len(val_top[1])), 2)})
        histories[(strategy, size)] = hist
        _say(progress, f"{strategy:>18}, {size:>4} per class: test accuracy "
                       f"{test:.3f} in {seconds:.1f} s")

    test_top = _test_of(stored, 0)

    def train_head(rows_of, epochs):
        """The seeded head on the subset's stored features: (head, result, test accuracy)."""
        keras.utils.set_random_seed(seed)
        head = models.build_head(stored.train[0].shape[1:], n_classes)
        result = _fit_quiet(head, (stored.train[0][rows_of], stored.train_labels[rows_of]),
                            val_top, epochs, 1e-3, seed)
        return head, result, test_accuracy(head, test_top)

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

            head, head_result, head_test = train_head(rows_of, head_epochs)
            if extraction_epochs == head_epochs:
                extraction, extracted = head_result, head_test
            else:  # the same seeded start, trained for its own number of epochs
                _, extraction, extracted = train_head(rows_of, extraction_epochs)
            record("feature-extraction", size, len(idx), len(rows_of), extraction,
                   extraction.seconds, extraction_epochs, extracted)

            restore.reset()
            tuned_model = _fresh_classifier(base_model, n_classes, head, seed)
            _, tuned, tuned_right = fine_tune_stored(
                tuned_model, base_model, n_unfrozen,
                (stored.train[n_unfrozen][rows_of], stored.train_labels[rows_of]),
                val_low, fine_tune_epochs, lr, precision=precision,
                test=_test_of(stored, n_unfrozen), seed=seed, **QUIET)
            record("fine-tuning", size, len(idx), len(rows_of), tuned,
                   head_result.seconds + tuned.seconds,
                   head_epochs + fine_tune_epochs, float(tuned_right.mean()),
                   start=head_test)

    frame = pd.DataFrame(rows)
    frame.attrs["histories"] = histories
    frame.attrs["prepare_seconds"] = stored.seconds
    frame.attrs["prepare_cached"] = stored.from_cache
    frame.attrs["pass_time"] = pass_time
    frame.attrs["n_val"] = len(files.val)
    frame.attrs["n_test"] = len(stored.test_labels if stored.test else files.val)
    frame.attrs["n_classes"] = n_classes
    frame.attrs["n_unfrozen"] = n_unfrozen
    frame.attrs["lr"] = lr
    frame.attrs["head_epochs"] = head_epochs
    frame.attrs["extraction_epochs"] = extraction_epochs
    frame.attrs["precision"] = precision
    frame.attrs["scratch_image_size"] = image_size
    frame.attrs["weights"] = getattr(base_model, "tlh_weights", "?")
    return frame


def unfreeze_sweep(base_model: keras.Model, files, depths=(0, 4, 8),
                   lrs=None, *, epochs: int | None = None,
                   head_epochs: int | None = None, seed: int = 42, stored=None,
                   images_per_class: int | None = None, progress: bool = True,
                   precision: str | None = None):
    """Fine-tune the top `depth` layers at each rate, all from the same trained head.

    Taught in `04_choosing_a_strategy.ipynb`. The head is trained once on the
    stored features (`head_epochs`); every (depth, lr) run then starts from
    it, so runs differ only by depth and rate. Depth 0 keeps training the
    head alone. Before the timed runs at a depth, one untimed training step
    there (thrown away) pays the first-call costs, so that equal work takes
    about equal time. `images_per_class` trains every run on the same seeded subset
    (a deep unfreeze costs time in proportion to the images), validated on the
    whole validation and test sets. Returns a DataFrame (one row per run, with
    the test accuracy the runs started from: the head's best epoch by
    validation) with `.attrs["histories"]`. `lrs`: default the profile's
    `fine_tune_lr` and 1e-3. Validation picks each run's best epoch (and
    would pick the setting: `best_val_accuracy`, optimistic because it
    picked); `test_accuracy` and its `change` from the start grade the runs.
    `precision`: the runs' (default the profile's `fine_tune_precision`).
    """
    import pandas as pd

    profile = config.get_profile()
    epochs = check_epochs(epochs or profile.fine_tune_epochs)
    head_epochs = check_epochs(head_epochs or profile.head_epochs)
    precision = pass_precision(precision or profile.fine_tune_precision)
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
            restore.reset()
            _warm_up(base_model, n_classes, head, depth,
                     (stored.train[depth][idx], train_labels[idx]), seed, precision)
            for lr in lrs:
                restore.reset()
                tuned_model = _fresh_classifier(base_model, n_classes, head, seed)
                top, result, right = fine_tune_stored(
                    tuned_model, base_model, depth,
                    (stored.train[depth][idx], train_labels[idx]),
                    stored.split("val", depth), epochs, lr, precision=precision,
                    test=_test_of(stored, depth), seed=seed, **QUIET)
                test = float(right.mean())
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
    frame.attrs["precision"] = precision
    frame.attrs["weights"] = getattr(base_model, "tlh_weights", "?")
    return frame
