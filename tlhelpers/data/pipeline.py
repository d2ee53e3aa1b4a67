"""Train/validation splits over good files, and tf.data pipelines with cache and prefetch.

Taught in `00_setup_and_data.ipynb`. The split is fixed and seeded when the
folder has no `val/`; a per-class cap comes from the profile. Images arrive as
float32 RGB in 0..255: each backbone's own preprocessing is part of the model.
"""

from __future__ import annotations

import dataclasses
import os
import random
import warnings
from pathlib import Path

import numpy as np

from .. import config
from .images import load_rgb
from .scan import FolderScan, scan_folder


@dataclasses.dataclass
class FileSplit:
    """The files of each split with integer labels, in a fixed order."""

    train: list[tuple[Path, int]]
    val: list[tuple[Path, int]]
    class_names: list[str]
    root: Path

    def counts(self) -> dict[str, dict[str, int]]:
        """split -> class -> number of images."""
        out = {}
        for split, items in (("train", self.train), ("val", self.val)):
            per = {name: 0 for name in self.class_names}
            for _, label in items:
                per[self.class_names[label]] += 1
            out[split] = per
        return out


class Splits(tuple):
    """`(train_ds, val_ds, class_names)`, with `.files` (a FileSplit) and `.scan`."""

    def __new__(cls, train_ds, val_ds, class_names, files, scan):
        obj = super().__new__(cls, (train_ds, val_ds, class_names))
        obj.files = files
        obj.scan = scan
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


def split_files(scan: FolderScan, train_per_class: int | None = None,
                val_per_class: int | None = None, val_fraction: float = 0.2,
                seed: int = 42) -> FileSplit:
    """Fixed, seeded train/val file lists from a scan, capped per class."""
    if not scan.usable:
        raise ValueError(f"{scan.root} cannot be used for training: "
                         + "; ".join(scan.problems))
    _check_fraction(val_fraction)
    train_per_class = _check_count("train_per_class", train_per_class)
    val_per_class = _check_count("val_per_class", val_per_class)
    for message in scan.warnings:
        warnings.warn(message, stacklevel=3)
    class_names = scan.class_names
    if scan.layout == "split" and "val" in scan.good:
        train_src = scan.good["train"]
        val_src = scan.good["val"]
    else:
        source = scan.good.get("train") or scan.good["all"]
        train_src, val_src = {}, {}
        for name in class_names:
            files = sorted(source.get(name, []))
            random.Random(f"{seed}-split-{name}").shuffle(files)
            n_val = max(1, round(len(files) * val_fraction)) if len(files) > 1 else 0
            val_src[name], train_src[name] = files[:n_val], files[n_val:]

    def take(src, cap, tag):
        items = []
        for label, name in enumerate(class_names):
            files = sorted(src.get(name, []))
            if cap is not None and len(files) > cap:
                random.Random(f"{seed}-{tag}-{name}").shuffle(files)
                files = sorted(files[:cap])
            items += [(f, label) for f in files]
        return items

    return FileSplit(train=take(train_src, train_per_class, "train"),
                     val=take(val_src, val_per_class, "val"),
                     class_names=class_names, root=scan.root)


def batch_size_for_replicas(batch_size: int, n_items: int) -> int:
    """`batch_size`, made to split evenly over the replicas of the current strategy.

    Taught in the README's "Scaling out" section. With one replica (a laptop,
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


def make_dataset(items: list[tuple[Path, int]], image_size: int, batch_size: int,
                 shuffle: bool = False, seed: int = 42, cache: bool = True):
    """A batched tf.data pipeline of (float32 RGB 0..255, int label).

    Decoding runs in parallel; decoded images are cached in memory after the
    first epoch, then shuffled (each epoch anew) and prefetched. Under
    several replicas the batch size splits evenly (`batch_size_for_replicas`).
    """
    image_size = _check_count("image_size", image_size, MIN_IMAGE_SIZE,
                              allow_none=False)
    batch_size = _check_count("batch_size", batch_size, allow_none=False)
    if not items:
        raise ValueError("items=[] is not valid; expected at least one "
                         "(path, label) pair")
    import tensorflow as tf

    batch_size = batch_size_for_replicas(batch_size, len(items))

    # Bytes, not str: a file name that is not valid UTF-8 (copied from an old
    # camera or a Windows zip) cannot become a TF string otherwise.
    paths = [os.fsencode(p) for p, _ in items]
    labels = np.array([label for _, label in items], dtype=np.int32)

    def decode(path):
        return load_rgb(os.fsdecode(path), image_size)

    def load(path, label):
        image = tf.numpy_function(decode, [path], tf.uint8, stateful=False)
        image.set_shape((image_size, image_size, 3))
        return tf.cast(image, tf.float32), label

    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def load_splits(path=None, image_size: int | None = None,
                batch_size: int | None = None,
                train_per_class: int | None | str = "profile",
                val_per_class: int | None | str = "profile",
                val_fraction: float = 0.2, seed: int = 42,
                scan: FolderScan | None = None) -> Splits:
    """Train and validation pipelines over the good files, and the class names.

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
    if scan is not None and path is None:
        folder = scan.root  # the scan says which folder; no dataset lookup
    else:
        folder = get_dataset(path)
        scan = scan if scan is not None else scan_folder(folder)
    files = split_files(scan, train_per_class, val_per_class, val_fraction, seed)
    if not files.val:
        raise ValueError(f"{folder}: no validation images; add a val/ folder or "
                         "more images per class")
    train_ds = make_dataset(files.train, image_size, batch_size, shuffle=True,
                            seed=seed)
    val_ds = make_dataset(files.val, image_size, batch_size, shuffle=False)
    return Splits(train_ds, val_ds, files.class_names, files, scan)
