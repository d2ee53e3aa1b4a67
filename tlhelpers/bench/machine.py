"""What the benchmark's machine is and can do: peak memory, matrix-product peak, FLOPs.

Part of `python -m tlhelpers bench` (`bench/README.md` says what each figure
means); `measure` compares the extraction with the peak measured here.
"""

from __future__ import annotations

import os
import platform
import statistics
import threading
import time

MATMUL_SIZE = 2048


class PeakMemory:
    """Peak resident memory during a block, above the resident memory before it.

    Two measures, and the larger is kept. On Linux the kernel's high-water
    mark (VmHWM), reset through /proc/self/clear_refs, catches a peak of any
    length. A thread also samples the resident size every 5 ms with psutil and
    keeps the largest rise above the lowest size seen before it: memory that
    other threads or the garbage collector free during the block can hide a
    rise from the high-water mark (a 50 MB array showed none, 1 run in 4).
    """

    def __init__(self):
        self.method = "psutil RSS sampled every 5 ms"
        self.peak_mb = 0.0       # above the resident size before the block
        self.peak_rss_mb = 0.0   # the whole process's peak during the block
        self._exact = self._can_reset()
        if self._exact:
            self.method = ("peak RSS (Linux VmHWM, reset before each run) and "
                           "psutil RSS sampled every 5 ms")

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

    def _sample(self) -> None:
        rss = self._proc.memory_info().rss
        self._low = min(self._low, rss)
        self._high = max(self._high, rss)
        self._rise = max(self._rise, rss - self._low)

    def __enter__(self):
        import psutil

        self._proc = psutil.Process()
        self._before = self._proc.memory_info().rss
        self._low = self._high = self._before
        self._rise = 0
        if self._exact:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")
        self._stop = threading.Event()

        def sample():
            while not self._stop.wait(0.005):
                self._sample()

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()  # what the block still holds counts, however short it was
        rise, peak = self._rise, self._high
        if self._exact:
            hwm = self._status("VmHWM")
            rise, peak = max(rise, hwm - self._before), max(peak, hwm)
        self.peak_mb = max(0, rise) / 2**20
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

    from ..models import leaf_layers

    total = 0
    for layer in leaf_layers(model):
        if isinstance(layer, keras.layers.Conv2D):
            h, w, c_out = (int(d) for d in layer.output.shape[1:])
            k_h, k_w, c_in, _ = (int(d) for d in layer.kernel.shape)
            total += 2 * h * w * c_out * k_h * k_w * c_in
    return total


VECTOR_FLAGS = {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16"}


def machine_info() -> dict:
    """CPU, memory and library versions of this run (no host name)."""
    import keras
    import numpy as np
    import psutil
    import tensorflow as tf

    from .. import compat

    cpu_model = platform.processor() or platform.machine()
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:  # the first CPU's lines: all cores are alike here
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
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
        # What the speed of a VGG16 pass hangs on: AVX-512 and bfloat16 or not.
        "cpu_features": sorted(flags & VECTOR_FLAGS),
        "onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "TensorFlow's default"),
        # What the variable came to on this CPU (the course turns them on).
        "onednn_rewrites_on": compat.onednn_enabled(),
    }


def host_kind(info: dict) -> str:
    """'linux-x86_64-2cpu' (or '...-1gpu'): the kind of machine, never its name."""
    kind = f"{platform.system().lower()}-{platform.machine()}-{info['cpu_count']}cpu"
    return kind + (f"-{info['gpus']}gpu" if info["gpus"] else "")
