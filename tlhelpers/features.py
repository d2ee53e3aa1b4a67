"""Features of a frozen base, computed once and stored on disk.

Taught in `02_feature_extraction.ipynb`.

A stored file is keyed by everything that changes its content: backbone,
a hash of the weights up to the layer read (so "imagenet", a file, and each
random draw differ, while training layers above it does not matter), image
size, the preprocessing function, the dtype policy (float32 or mixed), the
layer, and the dataset's files (paths, sizes, modification and change times,
labels). Any change recomputes; nothing else does.
Files are `.npz` without pickle, written to a temporary file and renamed, so two
processes filling the same cache never leave a broken file. A new file removes
the files it replaces: same everything but the images' fingerprint, and at
least one image path in common (block3_pool at 150 px is about 1 GB).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import time
import zipfile
from pathlib import Path

import numpy as np

from . import atomic, config
from .progress import progress_bar

FORMAT_VERSION = 2  # 2: change times in the fingerprint; decoding has its own key part


@dataclasses.dataclass
class FeatureSet:
    """Stored (or fresh) features of a list of images, with their labels."""

    features: np.ndarray   # (N, ...) float32
    labels: np.ndarray     # (N,) int32
    key: str
    path: Path
    from_cache: bool
    seconds: float         # time spent computing or loading
    also: tuple = ()       # inner layers stored from the same pass
    view: str | None = None  # None: the photos as they are; "flip": mirrored
    precision: str = "float32"  # of the pass that computed them

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def views(self) -> int:
        """How many views' rows this holds: more than one after `stack`."""
        return self.view.count("+") + 1 if self.view else 1

    def describe(self) -> str:
        # Where: the features folder under TLH_HOME; the file's name is a key,
        # which says nothing to a reader.
        how = "loaded from the cache" if self.from_cache else "computed and stored"
        also = (f"; {', '.join(self.also)} stored from the same pass"
                if self.also else "")
        also += "; photos mirrored" if self.view == "flip" else ""
        also += (f"; {self.views} views of {len(self) // self.views} photos, "
                 "one after another" if self.views > 1 else "")
        also += f"; {self.precision} pass" if self.precision != "float32" else ""
        return (f"{len(self)} feature maps of shape {self.features.shape[1:]} "
                f"{how} in {self.seconds:.1f} s{also}")


def weights_digest(model) -> str:
    """A sha256 over the model's weight values: the identity of its weights."""
    digest = hashlib.sha256()
    for weight in model.weights:
        value = np.ascontiguousarray(weight.numpy())
        digest.update(weight.path.encode() if hasattr(weight, "path") else b"")
        digest.update(str(value.shape).encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def files_fingerprint(items) -> str:
    """A sha256 over (path, size, mtime, ctime, label) of every image, in order."""
    # `cp -p`, `rsync -a` and `tar` keep size and mtime; the change time
    # (ctime) is set by the system whenever a file is written or replaced.
    # A name that is not UTF-8 (`caf\xe9.jpg`) has no `.encode()`: the bytes
    # on disk are hashed, the same bytes as before for every UTF-8 name.
    digest = hashlib.sha256()
    for path, label in items:
        stat = os.stat(path)
        digest.update(os.fsencode(Path(path).resolve()))
        digest.update(f"|{stat.st_size}|{stat.st_mtime_ns}|"
                      f"{stat.st_ctime_ns}|{int(label)}\n".encode())
    return digest.hexdigest()


def item_ids(items) -> np.ndarray:
    """A 64-bit hash of each image's resolved path: which images a file covers."""
    return np.array([int.from_bytes(hashlib.blake2b(
        os.fsencode(Path(path).resolve()), digest_size=8).digest(), "little")
        for path, _ in items], dtype=np.uint64)


def preprocess_name(backbone: str) -> str:
    """The identity of a backbone's preprocessing function, for the cache key."""
    from .models import get_backbone

    fn = get_backbone(backbone).preprocess
    return f"{fn.__module__}.{fn.__qualname__}"


def _up_to(base, layer: str):
    """The part of `base` from its input to `layer` (sharing its weights)."""
    import keras

    return keras.Model(base.inputs, base.get_layer(layer).output,
                       name=f"{base.name}_to_{layer}")


def weights_digest_up_to(base, layer: str) -> str:
    """`weights_digest` of `base` from its input to `layer`: training above it keeps it."""
    return weights_digest(_up_to(base, layer))


def _digest(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def _group_parts(base, image_size: int, layer: str | None, view: str | None = None,
                 precision: str = "float32") -> dict:
    from .models import backbone_of

    # An inner layer's output depends only on the weights below it: training
    # the layers above (fine-tuning on stored activations) keeps the key.
    weights = (weights_digest(base) if layer is None
               else weights_digest_up_to(base, layer))
    try:
        backbone = backbone_of(base)
    except ValueError:  # a home-made model (`viz.pooled_features`): no preprocessing
        backbone = None
    from .data.images import decoding_signature

    parts = {
        "version": FORMAT_VERSION,
        "decoding": decoding_signature(),
        "backbone": backbone,
        "weights": weights,
        "image_size": int(image_size),
        "preprocess": preprocess_name(backbone) if backbone else None,
        # float16 arithmetic under mixed precision gives other numbers, and
        # so does a bfloat16 pass
        "dtype_policy": (base.dtype_policy.name if precision == "float32"
                         else f"{precision} pass"),
        "layer": layer or "output",
    }
    if view is not None:  # absent for the photos as they are: older keys hold
        parts["view"] = view
    return parts


def cache_group(base, image_size: int, layer: str | None = None,
                view: str | None = None, precision: str = "float32") -> str:
    """Everything in the key but the images: files in a group replace each other."""
    return _digest(_group_parts(base, image_size, layer, view, precision))


def cache_key(base, items, image_size: int, layer: str | None = None,
              view: str | None = None, precision: str = "float32") -> str:
    """The key of a feature file; changes whenever the features would."""
    parts = _group_parts(base, image_size, layer, view, precision)
    parts["files"] = files_fingerprint(items)
    return _digest(parts)


VIEWS = (None, "flip")  # the photos as they are, or mirrored left to right


def check_view(view) -> str | None:
    """`view` if it is one of VIEWS; otherwise a ValueError listing them."""
    if view not in VIEWS:
        raise ValueError(f"view={view!r} is not valid; expected None (the photos "
                         "as they are) or 'flip' (mirrored left to right)")
    return view


# oneDNN's instruction-set caps below AVX512_CORE_BF16: under one of them the
# CPU's bfloat16 instructions go unused, whatever /proc/cpuinfo lists.
ISA_CAPS_WITHOUT_BF16 = {"SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2",
                         "AVX512_CORE", "AVX512_CORE_VNNI"}


class PrecisionUnsupportedError(RuntimeError):
    """This CPU cannot run the frozen base in bfloat16; the message says what to use."""


def native_bfloat16() -> bool:
    """True on a CPU-only machine whose CPU computes bfloat16 natively.

    Checked here (AVX512_BF16): VGG16's forward pass runs about 2x faster
    under bfloat16, with activations within about 1% of float32's. CPUs
    without the instructions emulate it slowly, and GPUs have their own
    mixed precision (`distribute`), so both keep float32. `ONEDNN_MAX_CPU_ISA`
    capped below bfloat16 counts as a CPU without it.
    """
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return False
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    if cap in ISA_CAPS_WITHOUT_BF16:
        return False
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no way to tell, keep float32
        return False
    flags = set(cpuinfo.split())
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def pass_precision(precision: str = "float32") -> str:
    """"float32" or "bfloat16" for a pass of the frozen base; "auto" picks by the CPU."""
    if precision == "auto":
        return "bfloat16" if native_bfloat16() else "float32"
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f"precision={precision!r} is not valid; expected "
                         "'float32', 'bfloat16' or 'auto'")
    return precision


@contextlib.contextmanager
def bfloat16_errors_explained():
    """Turns oneDNN's failure to build a bfloat16 convolution into one clear error.

    With oneDNN's rewrites on and its instruction set capped below bfloat16,
    a bfloat16 pass fails deep in TensorFlow ("could not create a primitive
    descriptor"); the fix is a float32 pass. Used by `extract` and
    `viz.pooled_features` (notebooks 02-05) and `run --precision`.
    """
    import tensorflow as tf

    try:
        yield
    except tf.errors.OpError as err:
        if "primitive descriptor" not in str(err):
            raise
        raise PrecisionUnsupportedError(
            "this CPU cannot run the frozen base in bfloat16 (oneDNN found no "
            "bfloat16 convolution for it): use precision='float32' (`run "
            "--precision float32`), or 'auto', which picks float32 here"
        ) from None


def bfloat16_copy(base):
    """The same base with its layers computing in bfloat16 (float32 weights kept).

    Used by the passes of `extract` and `viz.pooled_features` (notebooks 02-05).
    """
    import keras

    def clone(layer):
        config = layer.get_config()
        if not isinstance(layer, keras.layers.InputLayer) and "dtype" in config:
            config["dtype"] = "mixed_bfloat16"
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(base, clone_function=clone)
    copy.set_weights(base.get_weights())
    # The backbone picks the preprocessing (`models.backbone_of`); a home-made
    # model has none, and a `keras.applications` name is kept by the clone.
    if getattr(base, "tlh_backbone", None) is not None:
        copy.tlh_backbone = base.tlh_backbone
    return copy


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1e9:.1f} GB" if n_bytes >= 1e8 else f"{n_bytes / 1e6:.1f} MB"


def remove_replaced(path: Path, group: str, ids: np.ndarray) -> list[Path]:
    """Remove the feature files that `path` replaces; says so in one line.

    Replaced: another file of the same group (`cache_group`) whose images are
    all among this file's (the same split stored before its images changed,
    or a smaller set of it). A file holding images this one lacks stays: the
    whole split's file outlives a subset (`files.train[:50]`) extracted after
    it. Files of other weights, layers or sizes stay too.
    """
    removed, freed = [], 0
    for other in sorted(path.parent.glob("*.npz")):
        if other == path:
            continue
        try:
            with np.load(other, allow_pickle=False) as stored:
                if "group" not in stored.files or str(stored["group"]) != group \
                        or not np.isin(stored["item_ids"], ids).all():
                    continue
            size = other.stat().st_size
            other.unlink()
        # Unreadable, or removed by another process meanwhile: not ours to judge.
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
            continue
        removed.append(other)
        freed += size
    if removed:
        print(f"removed {len(removed)} feature file(s) stored before the images "
              f"changed ({_size(freed)} freed)")
    return removed


def store(path: Path, features: np.ndarray, labels: np.ndarray, items,
          group: str) -> None:
    """Write a feature file, then remove the files it replaces (`remove_replaced`).

    A folder standing where the file goes is left alone (a warning says so);
    a full or read-only `TLH_HOME` raises an OSError naming it and the fix.
    """
    import warnings

    if path.is_dir():
        warnings.warn(f"{path} is a folder where a feature file goes: the "
                      "features are used but not stored; move the folder away "
                      "to store them", stacklevel=2)
        return
    ids = item_ids(items)
    try:
        save_npz_atomic(path, features=features, labels=labels,
                        group=np.array(group), item_ids=ids)
    except OSError as err:
        reason = os.strerror(err.errno) if err.errno else str(err)
        raise OSError(f"cannot store features in {path.parent} ({reason}). Free "
                      f"space there, or set {config.HOME_ENV} to a writable folder "
                      f"with free space, e.g. {config.HOME_ENV}=~/tlh-cache"
                      ) from None
    remove_replaced(path, group, ids)


def save_npz_atomic(path: Path, **arrays) -> None:
    """Write arrays to `path` through a temporary file and a rename."""
    with atomic.replacing(path) as tmp, open(tmp, "wb") as out:
        np.savez(out, **arrays)


def load_npz(path: Path) -> dict[str, np.ndarray] | None:
    """Arrays from a stored file, or None when it is unreadable (it is then removed)."""
    if path.is_dir():  # not a file of ours: never removed
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {name: stored[name] for name in stored.files}
    # A half-written or foreign file fails in zipfile (BadZipFile), in the
    # array header (ValueError, also for pickled objects) or in reading (EOF).
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
        import warnings
        warnings.warn(f"ignoring unreadable feature file {path.name}: {err}",
                      stacklevel=2)
        path.unlink(missing_ok=True)
        return None


def feature_model(base, layer: str | None = None, also=()):
    """Raw images -> the base's preprocessing -> the base (or one of its layers).

    With `also` (more layer names), the model returns a list: `layer`'s output
    first, then each of `also`, all from one pass.
    """
    import keras

    from .models import BackbonePreprocess, backbone_of

    backbone = backbone_of(base)
    names = [layer, *also]
    if len(set(names)) != len(names):
        raise ValueError(f"layers {names} name one layer twice")
    tops = [base.output if name is None else base.get_layer(name).output
            for name in names]
    inner = keras.Model(base.inputs, tops if also else tops[0],
                        name=f"{base.name}_to_{'_'.join(n or 'output' for n in names)}")
    inputs = keras.Input(shape=base.input_shape[1:])
    outputs = inner(BackbonePreprocess(backbone)(inputs), training=False)
    return keras.Model(inputs, outputs, name="feature_extractor")


def default_batch_size(image_size: int, channels: int = 64) -> int:
    """The profile's batch size, smaller when a batch would not fit in memory.

    Explained in `bench/README.md` (what was tuned).
    The largest activations of VGG16 are its first block's: an input and two
    maps of `channels` float32 values per pixel. A batch may take a quarter of
    the memory available now, so other programs and the stored arrays fit too.
    """
    import psutil

    per_image = int(image_size) ** 2 * (3 + 2 * channels) * 4
    budget = psutil.virtual_memory().available // 4
    return int(max(1, min(config.get_profile().batch_size, budget // per_image)))


def compute_features(base, items, image_size: int, batch_size: int,
                     layer: str | None = None, progress: bool = True) -> np.ndarray:
    """Run the frozen base over the images once, batch by batch (memory stays flat)."""
    return compute_layers(base, items, image_size, batch_size, [layer],
                          progress)[layer]


def compute_layers(base, items, image_size: int, batch_size: int, layers,
                   progress: bool = True, view: str | None = None,
                   precision: str = "float32") -> dict:
    """Outputs of several layers (None: the base's own) from one pass over the images.

    The forward pass runs as one TensorFlow graph rather than layer by layer:
    measured here (VGG16, 150x150, batch 32, 2 cores), that halves the peak
    memory (about 370 MB instead of 780 MB) and is at least as fast; tracing it
    costs about 0.2 s a call. The pass costs what its deepest layer costs:
    inner layers come free with it.
    """
    import tensorflow as tf

    from .data.pipeline import make_dataset

    layers = list(layers)
    check_view(view)
    if pass_precision(precision) == "bfloat16":
        base = bfloat16_copy(base)
    extractor = feature_model(base, layers[0], also=layers[1:])

    @tf.function(reduce_retracing=True, autograph=False)
    def forward(images):
        outputs = extractor(images, training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return [tf.cast(out, tf.float32) for out in outputs]

    ds = make_dataset(items, image_size, batch_size, shuffle=False, cache=False)
    if view == "flip":  # batches are (N, height, width, channels)
        ds = ds.map(lambda images, labels: (tf.reverse(images, axis=[2]), labels))
    heads = extractor.outputs
    out = {layer: np.empty((len(items),) + tuple(int(d) for d in head.shape[1:]),
                           dtype=np.float32)
           for layer, head in zip(layers, heads)}
    bar = None
    if progress:
        bar = progress_bar(total=len(items), unit="img", desc="extracting features")
    start = 0
    with bfloat16_errors_explained():
        for images, _ in ds:
            batch = forward(images)
            n = int(batch[0].shape[0])
            for layer, values in zip(layers, batch):
                out[layer][start:start + n] = np.asarray(values)
            start += n
            if bar is not None:
                bar.update(n)
    if bar is not None:
        bar.close()
    return out


def _mismatch(stored: dict, labels: np.ndarray, shape) -> str | None:
    """Why a stored file's arrays are not the features its key promises, or None."""
    values, stored_labels = stored.get("features"), stored.get("labels")
    if values is None or stored_labels is None:
        return "it holds no features or labels"
    if len(values) != len(labels) or not np.array_equal(stored_labels, labels):
        return "its labels are not those of these images"
    if values.dtype != np.float32:
        return f"its features are {values.dtype}, not float32"
    if shape is not None and (values.ndim != len(shape) + 1 or any(
            want is not None and got != want
            for got, want in zip(values.shape[1:], shape))):
        return (f"its features have shape {values.shape[1:]}, the layer gives "
                f"{tuple(shape)}")
    if not np.isfinite(values).all():
        return "its features hold NaN or infinite values"
    return None


def stored_features(path: Path, labels: np.ndarray, shape=None) -> np.ndarray | None:
    """A stored file's features when it matches `labels` (and `shape`), else None.

    `shape`: of one image's features, as the layer gives it (None: not checked).
    A file that does not match is ignored with a warning and computed again.
    """
    if not path.exists() or path.is_dir():  # a folder: `extract` says so
        return None
    stored = load_npz(path)
    if stored is None:
        return None
    problem = _mismatch(stored, labels, shape)
    if problem is None:
        return stored["features"]
    import warnings
    warnings.warn(f"ignoring feature file {path.name}: {problem}; computing "
                  "them again", stacklevel=2)
    return None


def _layer_shape(base, layer: str | None) -> tuple:
    output = base.output if layer is None else base.get_layer(layer).output
    return tuple(None if d is None else int(d) for d in output.shape[1:])


def extract(base, items, image_size: int | None = None,
            batch_size: int | None = None, layer: str | None = None,
            cache: bool = True, progress: bool = True, also=(),
            view: str | None = None, precision: str = "float32") -> FeatureSet:
    """Features of `items` (a list of (path, label)), stored on first use.

    Taught in `02_feature_extraction.ipynb`: the expensive base runs once; the
    head then trains on the stored arrays in seconds. `also` names inner
    layers to store from the same pass (each under its own key, as
    `extract(..., layer=name)` would), for later fine-tuning on them.
    `view="flip"`: of the photos mirrored left to right (a fixed augmented
    view, stored once). `precision`: "float32", "bfloat16" or "auto"
    (`pass_precision`); each is stored under its own key.
    """
    profile = config.get_profile()
    image_size = image_size or int(base.input_shape[1]) or profile.image_size
    batch_size = batch_size or default_batch_size(image_size)
    items = list(items)
    if not items:
        raise ValueError("items is empty; expected a list of (path, label)")
    check_view(view)
    precision = pass_precision(precision)
    also = [name for name in dict.fromkeys(also) if name != layer]
    for name in also:
        base.get_layer(name)  # an unknown name fails now, before the pass
    labels = np.array([label for _, label in items], dtype=np.int32)
    started = time.perf_counter()
    fingerprint = files_fingerprint(items)
    wanted = {}  # layer -> (group, key, path)
    for name in [layer, *also]:
        parts = _group_parts(base, image_size, name, view, precision)
        key = _digest({**parts, "files": fingerprint})
        wanted[name] = (_digest(parts), key, config.cache_dir("features") / f"{key}.npz")
    found = {name: stored_features(path, labels, _layer_shape(base, name))
             if cache else None for name, (_, _, path) in wanted.items()}
    missing = [name for name, value in found.items() if value is None]
    if missing:
        found.update(compute_layers(base, items, image_size, batch_size, missing,
                                    progress, view, precision))
        if cache:
            for name in missing:
                group, _, path = wanted[name]
                store(path, found[name], labels, items, group)
    _, key, path = wanted[layer]
    return FeatureSet(found[layer], labels, key, path, layer not in missing,
                      time.perf_counter() - started, tuple(also), view, precision)


def stack(*sets: FeatureSet) -> FeatureSet:
    """The rows of several views of the same photos, one after another.

    Taught in `02_feature_extraction.ipynb`: the photos and their mirror
    images, stored once each, train a head as augmentation computed once.
    """
    if not sets:
        raise ValueError("stack() needs at least one FeatureSet")
    shapes = {s.features.shape[1:] for s in sets}
    if len(shapes) > 1:
        raise ValueError(f"cannot stack feature maps of different shapes {sorted(shapes)}: "
                         "extract every view from the same layer")
    if any(len(s) != len(sets[0]) or not np.array_equal(s.labels, sets[0].labels)
           for s in sets):
        raise ValueError("stack() takes views of the same photos (same number, "
                         "same labels); these differ")
    if len(sets) == 1:
        return sets[0]
    views = [s.view for s in sets]
    return FeatureSet(
        np.concatenate([s.features for s in sets]),
        np.concatenate([s.labels for s in sets]),
        "+".join(s.key for s in sets), sets[0].path,
        all(s.from_cache for s in sets), sum(s.seconds for s in sets),
        sets[0].also, "+".join(v or "photos" for v in views), sets[0].precision)

