"""`python -m tlhelpers bench`: each speed-up measured as a ratio in one run.

Summarised in the README's performance section (`bench/README.md` says what
each figure means). Everything is measured in the same process, one after the
other, so a busy or slow machine changes the seconds but much less the ratios.
VGG16 runs with random weights: the time a convolution takes does not depend
on the values of its weights, and the benchmark then needs no download.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from . import config

GOALS = {  # figure -> (comparison, goal) from the course's speed issue
    "feature_cache_speedup": (">=", 20.0),
    "prefix_cache_speedup": (">=", 3.0),
    "head_retrain_seconds": ("<=", 5.0),
    "extraction_fraction_of_peak": (">=", 0.5),
}
DEFAULT_COUNTS = (100, 200, 400)
N_UNFROZEN = 4  # VGG16's block5: the seed's fine-tuning depth
HEAD_EPOCHS = 5
MATMUL_SIZE = 2048


# --- measuring --------------------------------------------------------------

class PeakMemory:
    """Peak resident memory during a block, above the resident memory before it.

    On Linux the kernel's high-water mark (VmHWM) is reset through
    /proc/self/clear_refs, which is exact; elsewhere a thread samples the
    resident size every 5 ms with psutil.
    """

    def __init__(self):
        self.method = "psutil RSS sampled every 5 ms"
        self.peak_mb = 0.0       # above the resident size before the block
        self.peak_rss_mb = 0.0   # the whole process's peak during the block
        self._exact = self._can_reset()
        if self._exact:
            self.method = "peak RSS (Linux VmHWM, reset before each run)"

    @staticmethod
    def _status(field: str) -> int:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        raise KeyError(field)

    def _can_reset(self) -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")
            self._status("VmHWM")
            return True
        except (OSError, KeyError, ValueError):
            return False

    def __enter__(self):
        import psutil

        self._proc = psutil.Process()
        self._before = self._proc.memory_info().rss
        if self._exact:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")
        else:
            self._stop = threading.Event()
            self._max = self._before

            def sample():
                while not self._stop.wait(0.005):
                    self._max = max(self._max, self._proc.memory_info().rss)

            self._thread = threading.Thread(target=sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self._exact:
            peak = self._status("VmHWM")
        else:
            self._stop.set()
            self._thread.join()
            peak = self._max
        self.peak_mb = max(0, peak - self._before) / 2**20
        self.peak_rss_mb = peak / 2**20
        return False


def _rates(run, flop: float, repeats: int = 7) -> tuple[float, float]:
    """(GFLOP/s by the clock, GFLOP per CPU-second): medians over `repeats` runs.

    Medians, not best times: the extraction they are compared with is an
    average over minutes, and a best-of-N would favour the short product on a
    machine shared with others.
    """
    run()  # warm-up: thread pools, kernels, memory
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(max(time.process_time() - cpu, 1e-9))
    return (flop / statistics.median(walls) / 1e9,
            flop / statistics.median(cpus) / 1e9)


def matmul_gflops(size: int = MATMUL_SIZE) -> tuple[float, float]:
    """A float32 (size x size) @ (size x size) product in TensorFlow."""
    import tensorflow as tf

    a = tf.random.stateless_normal((size, size), seed=(1, 2))
    b = tf.random.stateless_normal((size, size), seed=(3, 4))
    product = tf.function(tf.linalg.matmul)
    return _rates(lambda: product(a, b).numpy(), 2.0 * size ** 3)


def numpy_matmul_gflops(size: int = MATMUL_SIZE) -> tuple[float, float]:
    """The same product in NumPy's BLAS, in case TensorFlow's is the weaker one."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.random((size, size), dtype=np.float32)
    b = rng.random((size, size), dtype=np.float32)
    return _rates(lambda: a @ b, 2.0 * size ** 3)


def peak_gflops() -> dict:
    """The faster of TensorFlow's and NumPy's matrix product, measured now."""
    (tf_wall, tf_cpu), (np_wall, np_cpu) = matmul_gflops(), numpy_matmul_gflops()
    return {"tensorflow": round(tf_wall, 1), "numpy": round(np_wall, 1),
            "best": round(max(tf_wall, np_wall), 1),
            "per_cpu_second": round(max(tf_cpu, np_cpu), 1)}


def conv_flops_per_image(model) -> int:
    """Multiply-adds of every Conv2D in `model` (counted as 2 FLOPs), per image."""
    import keras

    total = 0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Conv2D):
            h, w, c_out = (int(d) for d in layer.output.shape[1:])
            k_h, k_w, c_in, _ = (int(d) for d in layer.kernel.shape)
            total += 2 * h * w * c_out * k_h * k_w * c_in
    return total


def machine_info() -> dict:
    """CPU, memory and library versions of this run (no host name)."""
    import keras
    import numpy as np
    import psutil
    import tensorflow as tf

    cpu_model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    gpus = tf.config.list_physical_devices("GPU")
    return {
        "cpu_count": os.cpu_count(), "cpus_usable": usable, "cpu_model": cpu_model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "gpus": len(gpus), "platform": platform.platform(),
        "python": platform.python_version(), "tensorflow": tf.__version__,
        "keras": keras.__version__, "numpy": np.__version__,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
    }


def host_kind(info: dict) -> str:
    """'linux-x86_64-2cpu' (or '...-1gpu'): the kind of machine, never its name."""
    kind = f"{platform.system().lower()}-{platform.machine()}-{info['cpu_count']}cpu"
    return kind + (f"-{info['gpus']}gpu" if info["gpus"] else "")


# --- data --------------------------------------------------------------------

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
    from .data.registry import DatasetUnavailableError, get_dataset

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
    from .data.pipeline import split_files
    from .data.scan import scan_folder

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

    from . import features, models
    from .training.head import retrain_head

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

    from . import models, prefix
    from .data.pipeline import make_dataset

    lr = 1e-5
    warm = items[:batch + max(1, batch // 4)]  # a full and a partial batch
    model = models.build_classifier(base, n_classes, head="flatten", dense=256)

    _log("storing activations, one epoch on them ...", quiet)
    stored = prefix.fit_on_stored(model, base, N_UNFROZEN, items, lr=lr, epochs=1,
                                  batch_size=batch, verbose=0, progress=False)
    on_stored = prefix._dataset(stored.train.features, stored.train.labels, batch,
                                True, 0)

    def stored_epoch() -> float:
        timer = _EpochTimer()
        stored.top.fit(on_stored, epochs=1, verbose=0, callbacks=[timer],
                       shuffle=False)
        return timer.seconds[0]

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
    again = prefix.fit_on_stored(model, base, N_UNFROZEN, items, lr=lr, epochs=1,
                                 batch_size=batch, verbose=0, progress=False)
    return {
        "prefix_cache_speedup": round(full_epoch / stored_seconds, 1),
        "prefix_detail": {
            "images": len(items), "image_size": size, "n_unfrozen": N_UNFROZEN,
            "stored_layer": stored.layer,
            "activation_shape": list(stored.train.features.shape[1:]),
            "stored_mb": round(stored.train.features.nbytes / 2**20, 1),
            "full_model_epoch_seconds": round(full_epoch, 2),
            "stored_epoch_seconds": round(stored_seconds, 3),
            "stored_epoch_seconds_before_after": [round(before, 3),
                                                  round(after, 3)],
            "storing_activations_seconds": round(stored.train.seconds, 2),
            "fit_on_stored_call_seconds_when_stored": round(again.seconds, 2),
            "reused_on_next_call": bool(again.train.from_cache),
        },
    }


def _met(value, op: str, goal: float) -> bool:
    return bool(value >= goal) if op == ">=" else bool(value <= goal)


# --- output ---------------------------------------------------------------------

def table(result: dict) -> str:
    """The figures as an aligned text table, goals and whether each is met."""
    rows = [("figure", "value", "goal", "met")]
    for name, goal in result["goals"].items():
        rows.append((name, f"{goal['value']:g}", goal["goal"],
                     "yes" if goal["met"] else "NO"))
    for entry in result["extraction"]:
        rows.append((f"extraction_seconds_per_image @ {entry['images']}",
                     f"{entry['seconds_per_image']:.4f}", "", ""))
        rows.append((f"  peak memory above start @ {entry['images']} (MB)",
                     f"{entry['peak_memory_mb']:.1f}", "", ""))
        rows.append((f"  peak process memory @ {entry['images']} (MB)",
                     f"{entry['peak_process_rss_mb']:.0f}", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    m, p = result["machine"], result["prefix_detail"]
    mm = result["matmul_gflops"]
    lines += [
        "",
        f"machine: {m['cpu_model']}, {m['cpu_count']} CPUs, {m['memory_gb']} GB, "
        f"TF {m['tensorflow']}, Keras {m['keras']}"
        + ("  (BUSY: load average "
           f"{result['load_average_start'][0]} -> {result['load_average_end'][0]})"
           if result["machine_busy"] else ""),
        f"data: {result['data']['source']}, {result['data']['image_size']}px; "
        f"VGG16 weights {result['weights']}",
        f"extraction: {result['conv_gflops_per_image']} GFLOP per image, batch "
        f"{result['batch_size']}, {result['extraction'][-1]['gflops_per_second']} "
        f"GFLOP/s; matrix product {result['extraction'][-1]['peak_gflops_around']}"
        f" GFLOP/s around it (against the best of the run, {mm['best']}: "
        f"{result['extraction_fraction_of_best_peak']}; per CPU-second: "
        f"{result['extraction_fraction_of_peak_per_cpu_second']})",
        f"features: computed in {result['feature_compute_seconds']} s, loaded in "
        f"{result['feature_load_seconds']} s",
        f"fine-tuning epoch ({p['images']} images): full model "
        f"{p['full_model_epoch_seconds']} s, on stored {p['stored_layer']} "
        f"activations {p['stored_epoch_seconds']} s (storing them once: "
        f"{p['storing_activations_seconds']} s)",
        f"memory: {result['memory_method']}; whole run {result['bench_seconds']} s",
    ]
    return "\n".join(lines)


def save(result: dict, out_dir: Path) -> Path:
    """Write the result to `out_dir/<date>-<host kind>.json` (atomically)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    date = result["date"][:10]
    path = out_dir / f"{date}-{host_kind(result['machine'])}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def _counts(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f"counts={text!r} is not valid; expected comma-separated integers >= 1, "
            "e.g. 100,200,400")
    return values


def _size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 32:
        raise argparse.ArgumentTypeError(
            f"image-size={text!r} is not valid; expected an integer >= 32")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tlhelpers bench",
        description="Measure the stored features, stored activations, head "
                    "retraining and feature extraction, as ratios in one run.")
    p.add_argument("--json", action="store_true",
                   help="end with one line holding a JSON object with every "
                        "figure")
    p.add_argument("--data", metavar="DIR",
                   help=f"image folder or dataset name (default: {config.DATASET_ENV}"
                        ", else a synthetic folder)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="where the JSON result is saved (default: bench/results/)")
    p.add_argument("--no-save", action="store_true", help="do not save the result")
    p.add_argument("--quiet", action="store_true",
                   help="no progress lines on stderr")
    p.add_argument("--image-size", type=_size, default=150,
                   help="square input size in pixels (default: 150, as the seed)")
    p.add_argument("--counts", type=_counts, default=list(DEFAULT_COUNTS),
                   help="image counts for extraction (default: 100,200,400); the "
                        "largest is also used for the caches and the head")
    p.add_argument("--batch-size", type=int, default=None,
                   help="extraction and training batch size (default: the "
                        "feature extractor's own choice)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m tlhelpers bench`; returns the exit status."""
    args = parser().parse_args(argv if argv is not None else sys.argv[1:])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        result = measure(args)
    except ValueError as err:  # a bad --data, named by the data package
        print(f"bench: {err}", file=sys.stderr)
        return 2
    if not args.no_save:
        out = Path(args.out) if args.out else config.PROJECT_ROOT / "bench" / "results"
        result["saved_to"] = str(save(result, out))
    print(table(result))
    if not args.no_save:
        print(f"saved: {result['saved_to']}")
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
