"""The benchmark's measurements: each speed-up of the course's caches, in one run.

Part of `python -m tlhelpers bench` (`bench/README.md` says what each figure
means). Everything is measured in the same process, one after the other, so a
busy or slow machine changes the seconds but much less the ratios. VGG16 runs
with random weights: the time a convolution takes does not depend on the
values of its weights, and the benchmark then needs no download.
"""

from __future__ import annotations

import datetime as _dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .. import config
from .machine import MATMUL_SIZE, PeakMemory, conv_flops_per_image, machine_info, peak_gflops

GOALS = {  # figure -> (comparison, goal) from the course's speed issue
    "feature_cache_speedup": (">=", 20.0),
    "prefix_cache_speedup": (">=", 3.0),
    "head_retrain_seconds": ("<=", 5.0),
    "extraction_fraction_of_peak": (">=", 0.5),
}
DEFAULT_COUNTS = (100, 200, 400)
N_UNFROZEN = 4  # VGG16's block5: the seed's fine-tuning depth
HEAD_EPOCHS = 5


# --- data ---------------------------------------------------------------------

def synthetic_folder(root: Path, classes: int = 5, train: int = 80, val: int = 30,
                    seed: int = 0) -> Path:
    """A folder of smooth random JPEGs (192x144, like the flower photos' size)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split, count in (("train", train), ("val", val)):
        for c in range(classes):
            folder = root / split / f"class_{c}"
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                small = rng.integers(0, 256, size=(9, 12, 3), dtype=np.uint8)
                image = Image.fromarray(small).resize((192, 144),
                                                      Image.Resampling.BICUBIC)
                image.save(folder / f"{split}_{c}_{i:03d}.jpg", quality=90)
    return root


def resolve_data(arg: str | None, scratch: Path) -> tuple[Path, str]:
    """The folder to measure on and a note on where it came from."""
    from ..data.registry import DatasetUnavailableError, get_dataset

    requested = arg or os.environ.get(config.DATASET_ENV)
    if requested:
        try:
            return get_dataset(requested, progress=False), f"{requested}"
        except DatasetUnavailableError as err:
            if arg:
                raise
            print(f"note: {config.DATASET_ENV}={requested} is unavailable ({err}); "
                  "using a synthetic folder", file=sys.stderr)
    folder = synthetic_folder(scratch / "synthetic")
    return folder, "synthetic (5 classes x 80 train + 30 val smooth random JPEGs)"


def file_lists(folder: Path, need: int):
    """(train items with the classes interleaved, val items, class names)."""
    from ..data.pipeline import split_files
    from ..data.scan import scan_folder

    files = split_files(scan_folder(folder), None, None)
    if len(files.train) < need:
        print(f"note: {folder} has {len(files.train)} training images, fewer than "
              f"{need}; the larger counts are capped", file=sys.stderr)
    # Interleave the classes so that every prefix holds all of them.
    by_class: dict[int, list] = {}
    for path, label in files.train:
        by_class.setdefault(label, []).append((path, label))
    mixed = []
    while any(by_class.values()):
        for label in sorted(by_class):
            if by_class[label]:
                mixed.append(by_class[label].pop(0))
    return mixed, files.val, files.class_names


# --- the figures --------------------------------------------------------------

def _log(message: str, quiet: bool) -> None:
    if not quiet:
        print(message, file=sys.stderr, flush=True)


def measure(args) -> dict:
    """Run every measurement once, in order; returns the result object."""
    import keras

    from .. import features, models
    from ..training.head import retrain_head

    started = time.perf_counter()
    quiet = args.quiet
    result: dict = {"date": _dt.datetime.now(_dt.timezone.utc).isoformat(
        timespec="seconds")}
    info = machine_info()
    result["machine"] = info
    result["load_average_start"] = [round(v, 2) for v in os.getloadavg()]
    size = args.image_size
    counts = sorted(set(args.counts))

    with tempfile.TemporaryDirectory(prefix="tlh-bench-") as scratch:
        scratch = Path(scratch)
        folder, source = resolve_data(args.data, scratch)
        train, val, class_names = file_lists(folder, max(counts))
        counts = sorted({min(n, len(train)) for n in counts})
        result["data"] = {"source": source, "train_images": len(train),
                          "val_images": len(val), "classes": len(class_names),
                          "image_size": size}
        # A private, empty cache: the first extraction is cold for sure.
        saved_home = os.environ.get(config.HOME_ENV)
        os.environ[config.HOME_ENV] = str(scratch / "home")
        try:
            keras.utils.set_random_seed(0)
            base = models.load_base("vgg16", weights=None,
                                    input_shape=(size, size, 3))
            result["weights"] = ("random: the time of a convolution does not "
                                 "depend on its weights' values")
            batch = args.batch_size or features.default_batch_size(size)
            result["batch_size"] = batch

            _log("warming up the extractor ...", quiet)
            features.compute_features(base, train[:batch], size, batch,
                                      progress=False)
            flops = conv_flops_per_image(base)
            # The peak is measured just before and just after each extraction,
            # so that both see the same share of a machine others may be using.
            _log("measuring the matrix-product peak ...", quiet)
            peaks = [peak_gflops()]
            extraction = []
            cold = {}
            for n in counts:
                _log(f"extracting features of {n} images ...", quiet)
                cpu = time.process_time()
                with PeakMemory() as memory:
                    fs = features.extract(base, train[:n], image_size=size,
                                          batch_size=batch, progress=False)
                cpu = time.process_time() - cpu
                peaks.append(peak_gflops())
                cold[n] = fs.seconds
                around = (peaks[-2]["best"] + peaks[-1]["best"]) / 2
                achieved = flops * n / fs.seconds / 1e9
                extraction.append({
                    "images": n, "seconds": round(fs.seconds, 3),
                    "seconds_per_image": round(fs.seconds / n, 5),
                    "gflops_per_second": round(achieved, 1),
                    "peak_gflops_around": round(around, 1),
                    "fraction_of_peak": round(achieved / around, 3),
                    # Per CPU-second of this process: nearly blind to other
                    # programs taking turns on the same cores.
                    "fraction_of_peak_per_cpu_second": round(
                        flops * n / cpu / 1e9 / statistics.mean(
                            [peaks[-2]["per_cpu_second"],
                             peaks[-1]["per_cpu_second"]]), 3),
                    "peak_memory_mb": round(memory.peak_mb, 1),
                    "peak_process_rss_mb": round(memory.peak_rss_mb, 1),
                    "features_mb": round(fs.features.nbytes / 2**20, 1)})
            largest = counts[-1]
            best_peak = max(p["best"] for p in peaks)
            result["conv_gflops_per_image"] = round(flops / 1e9, 3)
            result["matmul_gflops"] = {"size": MATMUL_SIZE, "bursts": peaks,
                                       "best": round(best_peak, 1)}
            result["extraction"] = extraction
            result["extraction_seconds_per_image"] = {
                str(e["images"]): e["seconds_per_image"] for e in extraction}
            result["extraction_peak_memory_mb"] = {
                str(e["images"]): e["peak_memory_mb"] for e in extraction}
            result["memory_method"] = memory.method
            result["extraction_fraction_of_peak"] = extraction[-1]["fraction_of_peak"]
            result["extraction_fraction_of_peak_per_cpu_second"] = \
                extraction[-1]["fraction_of_peak_per_cpu_second"]
            # The strictest reading: against the best burst of the whole run.
            result["extraction_fraction_of_best_peak"] = round(
                flops * largest / cold[largest] / 1e9 / best_peak, 3)

            _log("loading the stored features ...", quiet)
            loads = []
            for _ in range(3):
                again = features.extract(base, train[:largest], image_size=size,
                                         batch_size=batch, progress=False)
                assert again.from_cache, "the second extraction was not reused"
                loads.append(again.seconds)
            result["feature_load_seconds"] = round(statistics.median(loads), 4)
            result["feature_compute_seconds"] = round(cold[largest], 3)
            result["feature_cache_speedup"] = round(
                cold[largest] / statistics.median(loads), 1)

            _log(f"retraining the head for {HEAD_EPOCHS} epochs ...", quiet)
            val_fs = features.extract(base, val, image_size=size, batch_size=batch,
                                      progress=False)
            started_head = time.perf_counter()
            head = retrain_head(again, val_fs, len(class_names), head="flatten",
                                epochs=HEAD_EPOCHS, lr=1e-3, dense=256)
            result["head_retrain_seconds"] = round(
                time.perf_counter() - started_head, 2)
            result["head_retrain_detail"] = {
                "train_images": largest, "val_images": len(val),
                "feature_shape": list(again.features.shape[1:]),
                "params": head.trainable_params,
                "includes": "build, compile, 5 epochs with validation"}

            result.update(measure_prefix(base, train[:largest], len(class_names),
                                         size, batch, quiet))
        finally:
            if saved_home is None:
                os.environ.pop(config.HOME_ENV, None)
            else:
                os.environ[config.HOME_ENV] = saved_home
    result["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    busy = max(result["load_average_start"][0], result["load_average_end"][0])
    result["machine_busy"] = busy > 1.25 * (info["cpus_usable"] or 1)
    result["bench_seconds"] = round(time.perf_counter() - started, 1)
    result["goals"] = {name: {"goal": f"{op} {goal:g}", "value": result[name],
                              "met": _met(result[name], op, goal)}
                       for name, (op, goal) in GOALS.items()}
    return result


class _EpochTimer:
    """Wall-clock seconds of each epoch, from Keras' own epoch callbacks."""

    def __new__(cls):
        import keras

        class Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.seconds = []

            def on_epoch_begin(self, epoch, logs=None):
                self._start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.seconds.append(time.perf_counter() - self._start)

        return Timer()


def measure_prefix(base, items, n_classes: int, size: int, batch: int,
                   quiet: bool) -> dict:
    """One epoch of block5 + head: through the full model vs on stored activations.

    Both are warmed up (traced) first and timed on one epoch alone. The short
    stored epoch is timed just before and just after the long full-model one,
    and the two are averaged, so that a load that changes during the run
    weighs on both sides alike.
    """
    import keras

    from .. import features, models
    from ..data.pipeline import make_dataset
    from ..strategies import frozen_layer, top_model

    lr = 1e-5
    warm = items[:batch + max(1, batch // 4)]  # a full and a partial batch
    model = models.build_classifier(base, n_classes, head="flatten", dense=256)

    # The course's fine-tuning on stored rows (notebooks 03-04, `run`): the
    # last frozen layer's output stored once, the top trained on it.
    _log("storing activations, one epoch on them ...", quiet)
    layer = frozen_layer(base, N_UNFROZEN)
    models.set_trainable(base, N_UNFROZEN)
    top = top_model(model, base, N_UNFROZEN)
    stored = features.extract(base, items, batch_size=batch, layer=layer, progress=False)
    top.compile(optimizer=keras.optimizers.Adam(lr),
                loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    def stored_epoch() -> float:
        timer = _EpochTimer()
        top.fit(stored.features, stored.labels, batch_size=batch, epochs=1,
                verbose=0, callbacks=[timer], shuffle=True)
        return timer.seconds[0]

    stored_epoch()  # traces the step: the timed epochs below are warm
    before = stored_epoch()

    _log("one fine-tuning epoch through the full model ...", quiet)
    model.compile(optimizer=keras.optimizers.Adam(lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    ds = make_dataset(items, size, batch, shuffle=True, seed=0, cache=True)
    for _ in ds:  # decode once: the full model then starts from decoded images
        pass
    model.fit(make_dataset(warm, size, batch), epochs=1, verbose=0, shuffle=False)
    timer = _EpochTimer()
    model.fit(ds, epochs=1, verbose=0, callbacks=[timer], shuffle=False)
    full_epoch = timer.seconds[0]

    _log("one more epoch on the stored activations ...", quiet)
    after = stored_epoch()
    stored_seconds = (before + after) / 2
    started = time.perf_counter()
    again = features.extract(base, items, batch_size=batch, layer=layer, progress=False)
    again_seconds = time.perf_counter() - started
    return {
        "prefix_cache_speedup": round(full_epoch / stored_seconds, 1),
        "prefix_detail": {
            "images": len(items), "image_size": size, "n_unfrozen": N_UNFROZEN,
            "stored_layer": layer,
            "activation_shape": list(stored.features.shape[1:]),
            "stored_mb": round(stored.features.nbytes / 2**20, 1),
            "full_model_epoch_seconds": round(full_epoch, 2),
            "stored_epoch_seconds": round(stored_seconds, 3),
            "stored_epoch_seconds_before_after": [round(before, 3),
                                                  round(after, 3)],
            "storing_activations_seconds": round(stored.seconds, 2),
            "loading_stored_activations_seconds": round(again_seconds, 2),
            "reused_on_next_call": bool(again.from_cache),
        },
    }


def _met(value, op: str, goal: float) -> bool:
    return bool(value >= goal) if op == ">=" else bool(value <= goal)
