"""Train/validation/test splits over good files, and tf.data pipelines.

Taught in `00_setup_and_data.ipynb`. Training photos train, validation photos
pick (the best epoch, the learning rate, the strategy), test photos grade.
A split the folder lacks is made by a fixed, seeded hash of each file's name;
a per-class cap comes from the profile. Images arrive as float32 RGB in
0..255: each backbone's own preprocessing is part of the model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
import warnings
from pathlib import Path

import numpy as np

from .. import config
from .images import load_rgb
from .scan import FolderScan, image_problem, scan_folder, shown


@dataclasses.dataclass
class FileSplit:
    """The files of each split with integer labels, in a fixed order."""

    train: list[tuple[Path, int]]
    val: list[tuple[Path, int]]
    class_names: list[str]
    root: Path
    test: list[tuple[Path, int]] = dataclasses.field(default_factory=list)
    # How the test photos were found: "folder" (test/), "held out" (a seeded
    # part of the photos), "validation" (too few photos: the validation photos
    # grade too, which reads high because they also picked).
    test_source: str = "folder"

    def counts(self) -> dict[str, dict[str, int]]:
        """split -> class -> number of images."""
        out = {}
        for split, items in (("train", self.train), ("val", self.val),
                             ("test", self.test)):
            per = {name: 0 for name in self.class_names}
            for _, label in items:
                per[self.class_names[label]] += 1
            out[split] = per
        return out


class Splits(tuple):
    """`(train_ds, val_ds, class_names)`, with `.test_ds`, `.files` (a FileSplit), `.scan`."""

    def __new__(cls, train_ds, val_ds, class_names, files, scan, test_ds=None):
        obj = super().__new__(cls, (train_ds, val_ds, class_names))
        obj.files = files
        obj.scan = scan
        obj.test_ds = test_ds
        return obj

    @property
    def train_ds(self):
        return self[0]

    @property
    def val_ds(self):
        return self[1]

    @property
    def class_names(self):
        return self[2]


MIN_IMAGE_SIZE = 8


def _check_count(name: str, value, minimum: int = 1, allow_none: bool = True):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or value < minimum:
        raise ValueError(f"{name}={value!r} is not valid; expected an integer "
                         f">= {minimum}" + (" (or None for all)" if allow_none else ""))
    return int(value)


def _check_fraction(val_fraction) -> float:
    if isinstance(val_fraction, bool) or \
            not isinstance(val_fraction, (int, float, np.floating)) \
            or not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction={val_fraction!r} is not valid; "
                         "expected a number between 0 and 1 (exclusive)")
    return float(val_fraction)


def _rank(path: Path, scan: FolderScan, salt: str) -> float:
    """A number in [0, 1) fixed by `salt` and the file's path below its split folder.

    The path counts from the class folder (`<class>/name.jpg`), so the same
    photos rank the same in `DIR/<class>` and `DIR/train/<class>`.
    """
    parts = Path(path).relative_to(scan.root).parts
    if scan.layout == "split":
        parts = parts[1:]
    # fsencode: a name that is not valid UTF-8 still hashes, to its bytes on disk.
    key = os.fsencode("/".join(parts))
    digest = hashlib.sha1(salt.encode() + b"\0" + key).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def _hold_out(files: list[Path], scan: FolderScan, fractions: tuple[float, ...],
              seed: int, salt: str = "split") -> list[list[Path]]:
    """[kept, part 1, part 2, ...] for one class: each file's side depends on its name.

    A file goes to part k when its rank falls in the k-th slice of `fractions`
    (from 0 up), so adding photos never moves one that was there, and a part
    that is added later (the test part) leaves the earlier ones as they were.
    A class has an image in `kept`, then in each part in turn, while it has
    images for them: the file nearest a cut-off crosses over when the hash
    left a side empty (only in tiny classes).
    """
    rank = {f: _rank(f, scan, f"{seed}-{salt}") for f in files}
    edges = np.cumsum((0.0,) + tuple(fractions))
    parts = [[f for f in files if lo <= rank[f] < hi]
             for lo, hi in zip(edges[:-1], edges[1:])]
    kept = [f for f in files if rank[f] >= edges[-1]]
    sides = [kept] + parts
    for i, side in enumerate(sides):  # kept first, then each part in order
        if side:
            continue
        # A side may take from one with files to spare, or take the only file
        # of a side after it (training, then validation, come first).
        donors = [d for j, d in enumerate(sides)
                  if j != i and (len(d) > 1 or (j > i and d))]
        if not donors:
            continue
        donor = max(donors, key=len)
        # The donor's file nearest this side's slice of the hash moves.
        moved = (max if side is kept else min)(donor, key=lambda f: (rank[f], f))
        donor.remove(moved)
        side.append(moved)
    return [sorted(side) for side in sides]


def split_files(scan: FolderScan, train_per_class: int | None = None,
                val_per_class: int | None = None, val_fraction: float = 0.2,
                seed: int = 42, test_fraction: float = 0.2) -> FileSplit:
    """Fixed, seeded train/val/test file lists from a scan, capped per class.

    Taught in `00_setup_and_data.ipynb`. Folders the scan found are kept as
    they are (`train/`, `val/`, `test/`). Without `val/`, a hash of each
    file's name and the seed holds out about `val_fraction` of each class;
    without `test/`, about `test_fraction` more (flat folders and `train/`
    alone), or half of `val/` when there is one. A cap keeps the files that
    hash lowest: adding photos never moves an earlier one between splits.
    """
    if not scan.usable:
        raise ValueError(f"{scan.root} cannot be used for training: "
                         + "; ".join(scan.problems))
    _check_fraction(val_fraction)
    _check_fraction(test_fraction)
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(f"val_fraction + test_fraction = "
                         f"{val_fraction + test_fraction:g} leaves no training "
                         "photos; expected a sum below 1")
    train_per_class = _check_count("train_per_class", train_per_class)
    val_per_class = _check_count("val_per_class", val_per_class)
    for message in scan.warnings:
        warnings.warn(message, stacklevel=3)
    class_names = scan.class_names
    has = scan.good if scan.layout == "split" else {}
    source = scan.good.get("train") or scan.good["all"]
    train_src, val_src, test_src = {}, {}, {}
    for name in class_names:
        files = sorted(source.get(name, []))
        if "val" in has and "test" in has:
            train_src[name] = files
            val_src[name] = sorted(has["val"].get(name, []))
            test_src[name] = sorted(has["test"].get(name, []))
        elif "val" in has:  # val/ is cut in two: one half picks, the other grades
            train_src[name] = files
            val_src[name], test_src[name] = _hold_out(
                sorted(has["val"].get(name, [])), scan, (0.5,), seed, "test")
        elif "test" in has:
            train_src[name], val_src[name] = _hold_out(
                files, scan, (val_fraction,), seed)
            test_src[name] = sorted(has["test"].get(name, []))
        else:
            train_src[name], val_src[name], test_src[name] = _hold_out(
                files, scan, (val_fraction, test_fraction), seed)

    def take(src, cap, tag):
        items = []
        for label, name in enumerate(class_names):
            files = sorted(src.get(name, []))
            if cap is not None and len(files) > cap:
                salt = f"{seed}-{tag}"
                files = sorted(sorted(files, key=lambda f: (_rank(f, scan, salt),
                                                            f))[:cap])
            items += [(f, label) for f in files]
        return items

    val = take(val_src, val_per_class, "val")
    test = take(test_src, val_per_class, "test")
    test_source = "folder" if "test" in has else "held out"
    if not test:
        warnings.warn(
            f"{scan.root}: too few photos for a test split; the validation "
            "photos grade too, and read high because they also picked "
            "(add a test/ folder or more photos per class)", stacklevel=3)
        test, test_source = list(val), "validation"
    return FileSplit(train=take(train_src, train_per_class, "train"), val=val,
                     class_names=class_names, root=scan.root, test=test,
                     test_source=test_source)


def batch_size_for_replicas(batch_size: int, n_items: int) -> int:
    """`batch_size`, made to split evenly over the replicas of the current strategy.

    Taught on the Scaling out page (docs/scaling_out.md). With one replica (a laptop,
    one GPU) nothing changes. Under MirroredStrategy, Keras 3.15's `fit` and
    `evaluate` average the first batch across replicas before training
    (keras-team/keras#19246) and fail when the replicas got different numbers
    of images: 25 images in one batch over 2 replicas become 24, then 1.
    """
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas == 1:
        return batch_size
    if n_items < replicas:
        raise ValueError(f"{n_items} image(s) cannot be split over {replicas} "
                         "replicas; use more images, or fewer replicas (fewer "
                         "visible GPUs, or unset TLH_CPU_REPLICAS)")
    first = min(batch_size, n_items)
    return max(replicas, first - first % replicas)


class SkippedFileWarning(UserWarning):
    """A file that decoded at the scan no longer does; the epoch goes on without it."""


class SkippedFiles:
    """The files a pipeline skipped (path -> reason); `ds.skipped` of `make_dataset`."""

    def __init__(self):
        self.files: dict[Path, str] = {}
        self._lock = threading.Lock()  # decoding runs on several tf.data threads

    @property
    def count(self) -> int:
        return len(self.files)

    def add(self, path: Path, reason: str) -> bool:
        """Record `path`; True the first time, so each file is reported once."""
        with self._lock:
            if path in self.files:
                return False
            self.files[path] = reason
            return True

    def __repr__(self) -> str:
        return f"SkippedFiles({self.count} file(s))"


def _why_unreadable(path: Path, err: Exception) -> str:
    if not path.exists():
        return "missing (deleted or moved after the scan)"
    # The scan's wording ("truncated (...)", "empty file"), or the error itself.
    return image_problem(path) or f"{type(err).__name__}: {err}"


def make_dataset(items: list[tuple[Path, int]], image_size: int, batch_size: int,
                 shuffle: bool = False, seed: int = 42, cache: bool = True,
                 skip_unreadable: bool = False):
    """A batched tf.data pipeline of (float32 RGB 0..255, int label).

    Taught in `00_setup_and_data.ipynb`. Decoding runs in parallel; decoded
    images are cached in memory as uint8 after the first epoch, then shuffled
    (each epoch anew), batched, cast to float32 and prefetched. Under several
    replicas the batch size splits evenly (`batch_size_for_replicas`).

    skip_unreadable: a file that no longer decodes (changed after the scan) is
        left out with a `SkippedFileWarning` and recorded in `ds.skipped`.
        False (for one output per item, as stored features need): it stops
        the epoch with an error naming the file.

    `ds.tlh_rebuild()` gives the same pipeline with its shuffle order started
    over (after `keras.utils.set_random_seed`), reading the same cache.
    """
    image_size = _check_count("image_size", image_size, MIN_IMAGE_SIZE,
                              allow_none=False)
    batch_size = _check_count("batch_size", batch_size, allow_none=False)
    if not items:
        raise ValueError("items=[] is not valid; expected at least one "
                         "(path, label) pair")
    import tensorflow as tf

    batch_size = batch_size_for_replicas(batch_size, len(items))
    skipped = SkippedFiles()

    # Bytes, not str: a file name that is not valid UTF-8 (copied from an old
    # camera or a Windows zip) cannot become a TF string otherwise.
    paths = [os.fsencode(p) for p, _ in items]
    labels = np.array([label for _, label in items], dtype=np.int32)

    def decode(raw):
        path = Path(os.fsdecode(raw))
        try:
            return load_rgb(path, image_size), True
        except Exception as err:  # any decoder failure: this file, not the epoch
            reason = _why_unreadable(path, err)
            if not skip_unreadable:
                raise OSError(f"cannot load {shown(path)}: {reason}. It decoded when "
                              "the folder was scanned, so it changed since; run "
                              "`python -m tlhelpers check-data DIR` on the dataset "
                              "folder and build the pipeline again") from err
            if skipped.add(path, reason):
                warnings.warn(
                    f"skipped {shown(path)}: {reason}. It decoded when the folder "
                    "was scanned, so it changed since; the epoch goes on without "
                    "it. Run `python -m tlhelpers check-data DIR` on the dataset "
                    "folder to list every bad file, then load the splits again",
                    SkippedFileWarning, stacklevel=2)
            return np.zeros((image_size, image_size, 3), np.uint8), False

    def load(path, label):
        image, ok = tf.numpy_function(decode, [path], (tf.uint8, tf.bool),
                                      stateful=False)
        image.set_shape((image_size, image_size, 3))
        ok.set_shape(())
        return image, label, ok

    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if skip_unreadable:
        ds = ds.filter(lambda image, label, ok: ok)
    ds = ds.map(lambda image, label, ok: (image, label))
    if cache:
        ds = ds.cache()  # uint8: a quarter of the memory float32 would take
    decoded = ds

    def batches():
        ds = decoded
        if shuffle:
            ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size)
        ds = ds.map(lambda images, y: (tf.cast(images, tf.float32), y),
                    num_parallel_calls=tf.data.AUTOTUNE)
        ds = ds.prefetch(tf.data.AUTOTUNE)
        ds.skipped = skipped
        # Comparable runs (`training.fresh_dataset`): the shuffle starts over,
        # on the same cache, so nothing is decoded twice.
        ds.tlh_rebuild = batches
        return ds

    return batches()


def load_splits(path=None, image_size: int | None = None,
                batch_size: int | None = None,
                train_per_class: int | None | str = "profile",
                val_per_class: int | None | str = "profile",
                val_fraction: float = 0.2, seed: int = 42,
                scan: FolderScan | None = None,
                test_fraction: float = 0.2) -> Splits:
    """Train and validation pipelines and the class names; `.test_ds` grades.

    Taught in `00_setup_and_data.ipynb`. Sizes default to the active profile;
    `path` defaults to `TLH_DATASET` (or the registry's default dataset).
    """
    from .registry import get_dataset

    profile = config.get_profile()
    # `is None`, not `or`: image_size=0 is an error, not a request for the default.
    image_size = _check_count(
        "image_size", profile.image_size if image_size is None else image_size,
        MIN_IMAGE_SIZE, allow_none=False)
    batch_size = _check_count(
        "batch_size", profile.batch_size if batch_size is None else batch_size,
        allow_none=False)
    if train_per_class == "profile":
        train_per_class = profile.train_per_class
    if val_per_class == "profile":
        val_per_class = profile.val_per_class
    # Bad sizes fail before the (possibly slow) download and scan.
    _check_count("train_per_class", train_per_class)
    _check_count("val_per_class", val_per_class)
    _check_fraction(val_fraction)
    _check_fraction(test_fraction)
    if scan is not None and path is None:
        folder = scan.root  # the scan says which folder; no dataset lookup
    else:
        folder = get_dataset(path)
        scan = scan if scan is not None else scan_folder(folder)
    files = split_files(scan, train_per_class, val_per_class, val_fraction, seed,
                        test_fraction)
    if not files.val:
        raise ValueError(f"{folder}: no validation images; add a val/ folder or "
                         "more images per class")
    # A file broken after the scan is skipped with a warning, never fatal.
    train_ds = make_dataset(files.train, image_size, batch_size, shuffle=True,
                            seed=seed, skip_unreadable=True)
    val_ds = make_dataset(files.val, image_size, batch_size, shuffle=False,
                          skip_unreadable=True)
    test_ds = make_dataset(files.test, image_size, batch_size, shuffle=False,
                           skip_unreadable=True)
    return Splits(train_ds, val_ds, files.class_names, files, scan, test_ds)
