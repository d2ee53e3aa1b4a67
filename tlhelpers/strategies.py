"""Scratch, feature extraction and fine-tuning, measured side by side.

Taught in `04_choosing_a_strategy.ipynb`: accuracy and training time against
training-set size, a sweep of unfreeze depth and learning rate, and a short
decision guide written from the numbers just measured. Fine-tuning trains the
unfrozen top of the base on stored activations of the frozen layers below it
(`tlhelpers.prefix`): without augmentation the frozen layers give the same
output every epoch, so this is the same training as running the whole base,
only much faster. Subsets of the training set are slices of the stored arrays.

The tables rank strategies on the validation accuracy of the last epoch: the
validation set does not also pick the epoch, which would flatter the winner
(all the more for a strategy with more epochs). `best_val_accuracy` is kept,
labelled as the best epoch's, for comparison only.
"""

from __future__ import annotations

import dataclasses
import math
import time

import keras
import numpy as np

from . import config, features, models, prefix
from .data.pipeline import make_dataset
from .figures import colour, new_figure
from .training.recipes import check_epochs, check_lr, compile_for_training, fit

STRATEGIES = ("scratch", "feature-extraction", "fine-tuning")
RANKED_ON = "final_val_accuracy"  # the last epoch's: see the module docstring


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


# -------------------------------------------------- stored activations

def stored_layer(base: keras.Model, n_unfrozen: int) -> str | None:
    """The layer stored for depth `n_unfrozen` (None: the base's own output)."""
    n_unfrozen = models.check_n_unfrozen(base, n_unfrozen)
    return None if n_unfrozen == 0 else prefix.frozen_layer(base, n_unfrozen)


@dataclasses.dataclass
class StoredActivations:
    """Activations of the frozen part of a base for each unfreeze depth, with labels."""

    train: dict[int, np.ndarray]   # depth -> (N, ...) activations
    val: dict[int, np.ndarray]
    train_labels: np.ndarray
    val_labels: np.ndarray
    seconds: float                 # computing (or loading) them all
    from_cache: bool               # every array was loaded from disk


def _between(base: keras.Model, low: str, high: str | None) -> keras.Model:
    """The layers of a chain-shaped base after `low` up to `high` (None: the top)."""
    top = base.output if high is None else base.get_layer(high).output
    return keras.Model(base.get_layer(low).output, top,
                       name=f"{base.name}_{low}_to_{high or 'output'}")


def _derive(base, items, low: str, low_x: np.ndarray, high: str | None,
            batch_size: int) -> features.FeatureSet:
    """Activations of `high` computed from the stored ones of `low`, then stored."""
    started = time.perf_counter()
    image_size = int(base.input_shape[1])
    key = features.cache_key(base, items, image_size, high)
    path = config.cache_dir("features") / f"{key}.npz"
    labels = np.array([label for _, label in items], dtype=np.int32)
    if path.exists():
        return features.extract(base, items, layer=high, progress=False)
    part = _between(base, low, high)
    out = np.concatenate([np.asarray(part(low_x[i:i + batch_size], training=False))
                          for i in range(0, len(low_x), batch_size)])
    features.save_npz_atomic(path, features=out, labels=labels)
    return features.FeatureSet(out, labels, key, path, False,
                               time.perf_counter() - started)


def store_activations(base: keras.Model, files, depths=(0,),
                      progress: bool = False) -> StoredActivations:
    """The output of the last frozen layer for every image, for each depth.

    Stored on disk under `features.extract`'s keys, so a rerun (or notebook
    03's fine-tuning) loads them. The deepest cut runs the base's lower layers
    over the images once; the higher cuts are computed from it by running only
    the layers in between. Depth 0 is the base's output, as in notebook 02.
    """
    started = time.perf_counter()
    batch_size = config.get_profile().batch_size
    train, val, cached = {}, {}, True
    lower = None  # (layer, train activations, val activations) of the last cut
    for depth in sorted(set(depths), reverse=True):
        layer = stored_layer(base, depth)
        if lower is None or cannot_cut(base, lower[0]):
            train_set = features.extract(base, files.train, layer=layer,
                                         progress=progress)
            val_set = features.extract(base, files.val, layer=layer,
                                       progress=progress)
        else:
            train_set = _derive(base, files.train, lower[0], lower[1], layer,
                                batch_size)
            val_set = _derive(base, files.val, lower[0], lower[2], layer,
                              batch_size)
        train[depth], val[depth] = train_set.features, val_set.features
        cached = cached and train_set.from_cache and val_set.from_cache
        if layer is not None:
            lower = (layer, train_set.features, val_set.features)
    return StoredActivations(train, val, train_set.labels, val_set.labels,
                             time.perf_counter() - started, cached)


def cannot_cut(base: keras.Model, layer: str) -> bool:
    """True when the base cannot be cut at `layer` (a connection skips over it)."""
    try:
        prefix.top_of_base(base, len(base.layers) - 1
                           - [x.name for x in base.layers].index(layer))
    except ValueError:
        return True
    return False


def stored_model(model: keras.Model, base: keras.Model, n_unfrozen: int) -> keras.Model:
    """Stored activations -> the top `n_unfrozen` base layers -> the head.

    The layers are those of `model` (see `prefix.top_model`), so training this
    trains `model`; depth 0 is the head alone on the stored features. `prefix`
    checks the model (no augmentation before the base, its preprocessing once).
    """
    if n_unfrozen:
        return prefix.top_model(model, base, n_unfrozen)
    inputs = keras.Input(shape=tuple(base.output.shape[1:]), name="stored_features")
    x = inputs
    for layer in prefix._base_and_head(model, base):
        x = layer(x)
    return models.CourseModel(inputs, x, name=f"{model.name}_head_on_stored")


def copy_head(head_model: keras.Model, model: keras.Model, base: keras.Model) -> None:
    """Put a head trained on stored features (`models.build_head`) into `model`."""
    for layer in prefix._base_and_head(model, base):
        layer.set_weights(head_model.get_layer(layer.name).get_weights())


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
    # The last epoch's weights stay: picking the best epoch on the validation
    # set would let the set that reports the accuracy also choose it.
    return fit(model, train, val, epochs, live_plot=False, restore_best=False)


def _final_val(result) -> float:
    return float(result.history["val_accuracy"][-1])


def _fine_tune_stored(model, base, depth, train, val, epochs, lr, seed):
    """Unfreeze the top `depth` layers and train them with the head on stored arrays.

    `prefix.fit_on_stored` on arrays already stored (and sliced to a subset).
    """
    models.set_trainable(base, depth)
    top = stored_model(model, base, depth)
    return top, _fit_quiet(top, train, val, epochs, lr, seed)


# ----------------------------------------------------- the comparisons

def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, flush=True)


def compare_strategies(base_model: keras.Model, files, sizes=None, *,
                       image_size: int | None = None, batch_size: int | None = None,
                       scratch_epochs: int | None = None,
                       head_epochs: int | None = None,
                       fine_tune_epochs: int | None = None, n_unfrozen: int = 4,
                       lr: float = 1e-5, seed: int = 42, stored=None,
                       progress: bool = True):
    """Validation accuracy (last epoch) and training seconds of each strategy and size.

    Taught in `04_choosing_a_strategy.ipynb`. `files`: the FileSplit of
    `data.load_splits()` (`splits.files`); `sizes`: images per class (default:
    the profile's `sweep_sizes`). Every size is validated on the same, whole
    validation set. Scratch is the small CNN of notebook 01 with augmentation;
    feature extraction trains the seed's head on stored features; fine-tuning
    continues from that head with the top `n_unfrozen` layers unfrozen at `lr`
    (its row reports the fine-tuning phase; seconds include the head phase).
    `final_val_accuracy` is the last epoch's, on which the strategies are
    ranked; `best_val_accuracy` is the best epoch's on the same validation
    set (optimistic). `seconds` counts training only: the one pass of the
    base that stores the activations is in `.attrs["prepare_seconds"]`.
    Returns a DataFrame with `.attrs["histories"]`: (strategy, size) -> history.
    """
    import pandas as pd

    profile = config.get_profile()
    image_size = image_size or int(base_model.input_shape[1])
    batch_size = batch_size or profile.batch_size
    scratch_epochs = check_epochs(scratch_epochs or profile.scratch_epochs)
    head_epochs = check_epochs(head_epochs or profile.head_epochs)
    fine_tune_epochs = check_epochs(fine_tune_epochs or profile.fine_tune_epochs)
    lr = check_lr(lr)
    train_labels = np.array([label for _, label in files.train])
    sizes = check_sizes(profile.sweep_sizes if sizes is None else sizes, train_labels)
    n_classes = len(files.class_names)
    models.check_n_unfrozen(base_model, n_unfrozen)
    if stored is None:
        stored = store_activations(base_model, files, depths=(0, n_unfrozen),
                                   progress=progress)
    val_ds = make_dataset(files.val, image_size, batch_size, shuffle=False,
                          skip_unreadable=True)
    val_top = (stored.val[0], stored.val_labels)
    val_low = (stored.val[n_unfrozen], stored.val_labels)
    rows, histories = [], {}

    def record(strategy, size, n_train, result, seconds, epochs):
        hist = result.history
        rows.append({"strategy": strategy, "images_per_class": size,
                     "train_images": n_train,
                     "final_val_accuracy": _final_val(result),
                     "best_val_accuracy": result.best_val_accuracy,
                     "final_train_accuracy": hist["accuracy"][-1],
                     "epochs": epochs, "seconds": round(seconds, 2)})
        histories[(strategy, size)] = hist
        _say(progress, f"{strategy:>18}, {size:>4} per class: val accuracy "
                       f"{_final_val(result):.3f} (last epoch) in {seconds:.1f} s")

    model = models.build_classifier(base_model, n_classes)
    with _Restore(model, base_model) as restore:
        for size in sizes:
            idx = subset_indices(train_labels, size, seed)
            items = [files.train[i] for i in idx]

            keras.utils.set_random_seed(seed)
            scratch = models.build_small_cnn((image_size, image_size, 3), n_classes,
                                             models.default_augmentation(seed))
            train_ds = make_dataset(items, image_size, batch_size, shuffle=True,
                                    seed=seed, skip_unreadable=True)
            result = _fit_quiet(scratch, train_ds, val_ds, scratch_epochs, 1e-3,
                                seed)
            record("scratch", size, len(idx), result, result.seconds,
                   scratch_epochs)

            keras.utils.set_random_seed(seed)
            head = models.build_head(stored.train[0].shape[1:], n_classes)
            head_result = _fit_quiet(head, (stored.train[0][idx],
                                            stored.train_labels[idx]),
                                     val_top, head_epochs, 1e-3, seed)
            record("feature-extraction", size, len(idx), head_result,
                   head_result.seconds, head_epochs)

            restore.reset()
            copy_head(head, model, base_model)
            _, tuned = _fine_tune_stored(
                model, base_model, n_unfrozen,
                (stored.train[n_unfrozen][idx], stored.train_labels[idx]),
                val_low, fine_tune_epochs, lr, seed)
            record("fine-tuning", size, len(idx), tuned,
                   head_result.seconds + tuned.seconds,
                   head_epochs + fine_tune_epochs)

    frame = pd.DataFrame(rows)
    frame.attrs["histories"] = histories
    frame.attrs["prepare_seconds"] = stored.seconds
    frame.attrs["prepare_cached"] = stored.from_cache
    frame.attrs["n_val"] = len(files.val)
    frame.attrs["n_classes"] = n_classes
    frame.attrs["n_unfrozen"] = n_unfrozen
    frame.attrs["lr"] = lr
    frame.attrs["weights"] = getattr(base_model, "tlh_weights", "?")
    return frame


def unfreeze_sweep(base_model: keras.Model, files, depths=(0, 4, 8),
                   lrs=(1e-5, 1e-3), *, epochs: int | None = None,
                   head_epochs: int | None = None, seed: int = 42, stored=None,
                   progress: bool = True):
    """Fine-tune the top `depth` layers at each rate, all from the same trained head.

    Taught in `04_choosing_a_strategy.ipynb`. The head is trained once on the
    stored features (`head_epochs`); every (depth, lr) run then starts from
    it, so runs differ only by depth and rate. Depth 0 keeps training the
    head alone. Returns a DataFrame (one row per run, with the validation
    accuracy the runs started from: the head's last epoch) with
    `.attrs["histories"]`. Runs are compared on `final_val_accuracy`;
    `best_val_accuracy` (best epoch, same validation set) is optimistic.
    """
    import pandas as pd

    profile = config.get_profile()
    epochs = check_epochs(epochs or profile.fine_tune_epochs)
    head_epochs = check_epochs(head_epochs or profile.head_epochs)
    depths = [models.check_n_unfrozen(base_model, d) for d in depths]
    lrs = [check_lr(lr) for lr in lrs]
    if not depths or not lrs:
        raise ValueError("depths and lrs must each hold at least one value")
    if stored is None:
        stored = store_activations(base_model, files, depths=(0, *depths),
                                   progress=progress)
    n_classes = len(files.class_names)
    keras.utils.set_random_seed(seed)
    head = models.build_head(stored.train[0].shape[1:], n_classes)
    head_result = _fit_quiet(head, (stored.train[0], stored.train_labels),
                             (stored.val[0], stored.val_labels),
                             head_epochs, 1e-3, seed)
    start = _final_val(head_result)
    _say(progress, f"head trained: validation accuracy {start:.3f} "
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
                copy_head(head, model, base_model)
                top, result = _fine_tune_stored(
                    model, base_model, depth,
                    (stored.train[depth], stored.train_labels),
                    (stored.val[depth], stored.val_labels), epochs, lr, seed)
                val = result.history["val_accuracy"]
                rows.append({"n_unfrozen": depth,
                             "unfrozen": (f"{unfrozen[0]}..{unfrozen[-1]}"
                                          if unfrozen else "(head only)"),
                             "lr": lr,
                             "trainable_base_params":
                                 _count(top.trainable_weights) - head_params,
                             "start_val_accuracy": start,
                             "best_val_accuracy": result.best_val_accuracy,
                             "final_val_accuracy": val[-1],
                             "change": val[-1] - start,
                             "seconds": round(result.seconds, 2)})
                histories[(depth, lr)] = result.history
                _say(progress, f"unfreeze {depth:>2} at lr {lr:.0e}: val accuracy "
                               f"{start:.3f} -> {val[-1]:.3f} in "
                               f"{result.seconds:.1f} s")
    frame = pd.DataFrame(rows)
    frame.attrs["histories"] = histories
    frame.attrs["head_seconds"] = head_result.seconds
    frame.attrs["prepare_seconds"] = stored.seconds
    frame.attrs["n_val"] = len(files.val)
    frame.attrs["weights"] = getattr(base_model, "tlh_weights", "?")
    return frame


# ------------------------------------------------------------ charts

def _figure(ncols: int, width: float, height: float = 3.8):
    fig, axes = new_figure(1, ncols, width=width, height=height)
    return fig, axes[0]


def plot_bars(frame, columns, title: str = ""):
    """One bar panel per column of a results table, one bar per row.

    Taught in `02_feature_extraction.ipynb` (fast vs end to end). Returns the Figure.
    """
    columns = [columns] if isinstance(columns, str) else list(columns)
    missing = [c for c in columns if c not in frame.columns]
    if missing or not columns:
        raise ValueError(f"columns={columns!r} is not valid; choose from "
                         f"{list(frame.columns)}")
    fig, axes = _figure(len(columns), 4.6 * len(columns), 3.6)
    labels = [str(i) for i in frame.index]
    for ax, column in zip(axes, columns):
        values = frame[column].astype(float).to_numpy()
        bars = ax.bar(range(len(values)), values,
                      color=[colour(i) for i in range(len(values))])
        ax.bar_label(bars, fmt="%.3g", fontsize=8)
        ax.set_xticks(range(len(values)), labels, fontsize=8)
        ax.set_xlabel("run")
        ax.set_ylabel(column)
        ax.set_title(column)
        ax.grid(axis="y", alpha=0.3)
        if "accuracy" in column:
            ax.set_ylim(0, 1.05)
    if title:
        fig.suptitle(title)
    return fig


def plot_by_size(results, title: str = "Strategies against training-set size"):
    """Accuracy and training seconds against images per class, one line per strategy.

    Taught in `04_choosing_a_strategy.ipynb`. Returns the Figure.
    """
    fig, (acc_ax, time_ax) = _figure(2, 11.0, 4.0)
    for i, strategy in enumerate(s for s in STRATEGIES
                                 if s in set(results["strategy"])):
        part = results[results["strategy"] == strategy].sort_values(
            "images_per_class")
        style = dict(color=colour(i), marker="os^"[i % 3], label=strategy)
        acc_ax.plot(part["images_per_class"], part["final_val_accuracy"], **style)
        time_ax.plot(part["images_per_class"], part["seconds"], **style)
    n_classes = results.attrs.get("n_classes")
    if n_classes:
        acc_ax.axhline(1 / n_classes, color="grey", linestyle=":",
                       label="guessing")
    for ax, ylabel in ((acc_ax, "validation accuracy, last epoch"),
                       (time_ax, "training seconds")):
        ax.set_xlabel("training images per class")
        ax.set_ylabel(ylabel)
        ax.set_xticks(sorted(set(results["images_per_class"])))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    acc_ax.set_ylim(0, 1.05)
    acc_ax.set_title("accuracy")
    time_ax.set_title("training time")
    fig.suptitle(title)
    return fig


def plot_sweep(sweep, title: str = "Unfreeze depth and learning rate"):
    """Validation accuracy (last epoch) per depth, a bar per rate, and the start.

    Taught in `04_choosing_a_strategy.ipynb`. Returns the Figure.
    """
    depths = sorted(set(sweep["n_unfrozen"]))
    lrs = sorted(set(sweep["lr"]))
    fig, (ax, time_ax) = _figure(2, 11.0, 4.0)
    width = 0.8 / len(lrs)
    for j, lr in enumerate(lrs):
        part = sweep[sweep["lr"] == lr].set_index("n_unfrozen").reindex(depths)
        xs = np.arange(len(depths)) + (j - (len(lrs) - 1) / 2) * width
        style = dict(width=width, color=colour(j),
                     label=f"lr {lr:.0e}")
        bars = ax.bar(xs, part["final_val_accuracy"], **style)
        ax.bar_label(bars, fmt="%.2f", fontsize=8)
        time_ax.bar(xs, part["seconds"], **style)
    start = float(sweep["start_val_accuracy"].iloc[0])
    ax.axhline(start, color="grey", linestyle="--",
               label=f"start (head only) {start:.2f}")
    for a, ylabel in ((ax, "validation accuracy, last epoch"),
                      (time_ax, "seconds")):
        a.set_xticks(range(len(depths)), [str(d) for d in depths])
        a.set_xlabel("top layers unfrozen (4 = block5, 8 = block4 + block5)")
        a.set_ylabel(ylabel)
        a.grid(axis="y", alpha=0.3)
        a.legend(fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title("accuracy after fine-tuning")
    time_ax.set_title("training seconds")
    fig.suptitle(title)
    return fig


# ------------------------------------------------------ decision guide

def noise_margin(accuracy: float, n_val: int) -> float:
    """Two binomial standard errors of an accuracy measured on `n_val` images."""
    p = min(max(float(accuracy), 0.05), 0.95)
    return 2 * math.sqrt(p * (1 - p) / max(int(n_val), 1))


def winners(results):
    """Per size: the best strategy, the runner-up, whether the lead beats noise,
    and the choice (the fastest strategy within noise of the best).

    Ranked on `final_val_accuracy` (the last epoch's), not on the best epoch's.
    """
    import pandas as pd

    n_val = int(results.attrs.get("n_val", 100))
    rows = []
    for size, part in results.groupby("images_per_class"):
        ranked = part.sort_values(RANKED_ON, ascending=False)
        first = ranked.iloc[0]
        second = ranked.iloc[1] if len(ranked) > 1 else None
        lead = (first[RANKED_ON] - second[RANKED_ON]
                if second is not None else float("nan"))
        margin = noise_margin(first[RANKED_ON], n_val)
        close = part[part[RANKED_ON] > first[RANKED_ON] - margin]
        choice = close.sort_values("seconds").iloc[0]["strategy"]
        rows.append({"images_per_class": size, "best": first["strategy"],
                     "final_val_accuracy": first[RANKED_ON],
                     "runner_up": None if second is None else second["strategy"],
                     "lead": lead, "noise": margin, "clear": bool(lead >= margin),
                     "choice": choice})
    return pd.DataFrame(rows)


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def _pts(value: float) -> str:
    return f"{100 * abs(value):.0f} points"


def _name(strategy: str) -> str:
    return "feature extraction" if strategy == "feature-extraction" else strategy


def _measured(table, results) -> list[str]:
    lines = ["### What this run measured", ""]
    for _, row in table.iterrows():
        best = _name(row["best"])
        head = (f"- **{int(row['images_per_class'])} images per class:** {best} scored "
                f"best ({_pct(row['final_val_accuracy'])} after the last epoch)")
        if row["runner_up"] is None:
            lines.append(head + ".")
            continue
        other = _name(row["runner_up"])
        if row["lead"] == 0:
            tail = f", tied with {other}"
        elif row["clear"]:
            tail = (f", {_pts(row['lead'])} ahead of {other}, more than the noise "
                    f"margin of about {_pts(row['noise'])}")
        else:
            tail = (f", only {_pts(row['lead'])} ahead of {other}: within the noise "
                    f"margin of about {_pts(row['noise'])}, a tie")
        lines.append(head + tail + ".")
    largest = results[results["images_per_class"] == results["images_per_class"].max()]
    secs = largest.set_index("strategy")["seconds"]
    if len(secs) > 1:
        parts = [f"{_name(name)} {value:.1f} s" for name, value in secs.items()]
        how = ("loaded from disk" if results.attrs.get("prepare_cached")
               else "computed and stored")
        prepare = results.attrs.get("prepare_seconds", 0)
        size = int(largest["images_per_class"].iloc[0])
        lines.append(f"- **Training time** at {size} "
                     f"images per class: {', '.join(parts)}. The activations of "
                     f"the frozen layers took {prepare:.0f} s once ({how}).")
    return lines


def _choices(table) -> list[str]:
    lines = ["", "### A choice from these numbers", "",
             "Rule: among the strategies within the noise margin of the best, "
             "take the one that trained fastest.", ""]
    for _, row in table.iterrows():
        lines.append(f"- {int(row['images_per_class'])} images per class: "
                     f"**{_name(row['choice'])}**.")
    return lines


def _advice(results, n_val: int) -> list[str]:
    acc = results.set_index(["strategy", "images_per_class"])[RANKED_ON]
    sizes = sorted(set(results["images_per_class"]))
    small, large = sizes[0], sizes[-1]

    def get(strategy, size):
        return float(acc.get((strategy, size), float("nan")))

    def compare(a, name_a, b, name_b):
        noise = noise_margin(max(a, b), n_val)
        if a - b >= noise:
            return f"{name_a} clearly ahead"
        if b - a >= noise:
            return f"{name_b} clearly ahead"
        return "a tie within noise"

    fe, ft, sc = "feature extraction", "fine-tuning", "scratch"
    fe_small, ft_small = get("feature-extraction", small), get("fine-tuning", small)
    fe_large, ft_large = get("feature-extraction", large), get("fine-tuning", large)
    sc_small = get("scratch", small)
    lines = ["", "### The usual advice, checked against these numbers", ""]
    lines.append(
        f"- *Feature extraction suits very small datasets.* At {small} images per "
        f"class it scored {_pct(fe_small)}, against {_pct(sc_small)} for scratch "
        f"({compare(fe_small, fe, sc_small, sc)}) and {_pct(ft_small)} for "
        f"fine-tuning ({compare(ft_small, ft, fe_small, fe)}).")
    lines.append(
        f"- *Fine-tuning pays off with more data.* At {large} images per class it "
        f"scored {_pct(ft_large)}, against {_pct(fe_large)} for feature "
        f"extraction ({compare(ft_large, ft, fe_large, fe)}).")
    return lines


def _sweep_lines(sweep) -> list[str]:
    best = sweep.sort_values(RANKED_ON, ascending=False).iloc[0]
    start = float(sweep["start_val_accuracy"].iloc[0])
    lines = [f"- *Unfreeze a little, with a low rate.* The best sweep run unfroze "
             f"{int(best['n_unfrozen'])} layers at lr {best['lr']:.0e} "
             f"({_pct(best[RANKED_ON])} after its last epoch; the head alone "
             f"started at "
             f"{_pct(start)})."]
    deep = sweep[sweep["n_unfrozen"] > 0]
    if len(deep) and deep["lr"].nunique() > 1:
        hi, lo = deep["lr"].max(), deep["lr"].min()
        change = deep.groupby("lr")["change"].mean()
        lines.append(f"  With base layers unfrozen, lr {hi:.0e} moved validation "
                     f"accuracy by {100 * change[hi]:+.0f} points on average, "
                     f"lr {lo:.0e} by {100 * change[lo]:+.0f}.")
    return lines


def _caveats(results, n_val: int) -> list[str]:
    weights = results.attrs.get("weights", "?")
    lines = ["", "### Read with care", ""]
    if weights == "random":
        lines.append("- The base ran with **random weights**: nothing pretrained "
                     "was transferred. These numbers show the mechanics (what each "
                     "strategy costs, how the code behaves), not the benefit of "
                     "transfer learning. With ImageNet weights, feature extraction "
                     "and fine-tuning usually start far above scratch, even with a "
                     "handful of images per class.")
    elif weights == "?":
        lines.append("- Which weights the base ran with was not recorded: read "
                     "the numbers as mechanics until you know.")
    elif weights != "imagenet":
        lines.append(f"- The base ran with weights from **{weights}**, not Keras' "
                     "ImageNet file: what these numbers say about transfer depends "
                     "on what those weights learned.")
    lines.append(f"- Each accuracy comes from {n_val} validation images and one "
                 "seed. Change the seed or the sizes and rerun before trusting a "
                 "ranking.")
    lines.append("- Accuracies are those of each run's last epoch. The best "
                 "epoch's (`best_val_accuracy`) is higher, but the validation "
                 "set would then both choose the epoch and grade it.")
    lines.append("- Seconds count training only, on this machine as it was during "
                 "the run; fine-tuning here trains on stored activations, much "
                 "faster than running the whole base every epoch.")
    return lines


def decision_guide(results, sweep=None) -> str:
    """A short decision guide in Markdown, written from the measured tables.

    Taught in `04_choosing_a_strategy.ipynb`. A difference smaller than two
    standard errors of an accuracy on the validation set is called a tie.
    """
    table = winners(results)
    n_val = int(results.attrs.get("n_val", 100))
    lines = _measured(table, results) + _choices(table) + _advice(results, n_val)
    if sweep is not None and len(sweep):
        lines += _sweep_lines(sweep)
    lines += _caveats(results, n_val)
    return "\n".join(lines)
