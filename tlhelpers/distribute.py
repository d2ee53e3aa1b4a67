"""One place that picks the `tf.distribute` strategy and the float precision.

Taught on the Scaling out page (docs/scaling_out.md). `tlh.setup()`, the first cell
of every notebook, calls `use_strategy()`: on a laptop that is the default
strategy (one device, nothing changes), on several GPUs it is
MirroredStrategy, and with `TF_CONFIG` set it is MultiWorkerMirroredStrategy.
The chosen strategy is made current for the whole session, so every model,
optimizer and `fit` in the notebooks runs under it and the same notebook runs
on one CPU, several GPUs, or several machines. `TLH_CPU_REPLICAS=2` rehearses
the several-GPU run on a CPU (slower, not faster: the same cores are shared).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

from . import compat, tflogs

TF_CONFIG_ENV = "TF_CONFIG"
CPU_REPLICAS_ENV = "TLH_CPU_REPLICAS"
ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"
MAX_CPU_REPLICAS = 8
MIXED_PRECISION_MIN_CAPABILITY = (7, 0)  # Volta and newer have tensor cores


def _tf_config() -> dict | None:
    raw = os.environ.get(TF_CONFIG_ENV, "").strip()
    if not raw:
        return None
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ValueError(f"{TF_CONFIG_ENV}={raw[:80]!r} is not valid JSON ({err}); "
                         'expected e.g. {"cluster": {"worker": ["host1:12345", '
                         '"host2:12345"]}, "task": {"type": "worker", "index": 0}}'
                         ) from None
    if not isinstance(parsed, dict) or "cluster" not in parsed:
        raise ValueError(f"{TF_CONFIG_ENV} has no 'cluster' entry; expected "
                         '{"cluster": {...}, "task": {...}}')
    return parsed


def cpu_replicas() -> int:
    """The number of CPU replicas `TLH_CPU_REPLICAS` asks for (1 when unset)."""
    raw = os.environ.get(CPU_REPLICAS_ENV, "").strip()
    if not raw:
        return 1
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_CPU_REPLICAS:
        raise ValueError(f"{CPU_REPLICAS_ENV}={raw!r} is not valid; expected an "
                         f"integer from 1 to {MAX_CPU_REPLICAS} (2 rehearses a "
                         "two-GPU run), or unset it")
    return value


def turn_off_onednn_rewrites() -> bool:
    """Turn oneDNN's graph rewrites off for a multi-replica CPU run; True if changed.

    Taught on the Scaling out page (docs/scaling_out.md). With them on, TensorFlow
    2.21's Conv2D returns its input unchanged for an empty batch: (0, 8, 8, 3)
    where (0, 6, 6, 4) is due, so the next layer fails with "input depth must
    be evenly divisible by filter depth: 3 vs 64". Under several replicas a
    last batch smaller than the replica count leaves one replica empty, and a
    prediction on one image always does. TensorFlow reads the variable once,
    when it is imported; `tests/unit/test_onednn.py` notices a release that
    fixes the bug.
    """
    if os.environ.get(ONEDNN_ENV) == "0":
        return False
    os.environ[ONEDNN_ENV] = "0"
    return True


def turn_on_onednn_rewrites() -> bool:
    """Turn oneDNN's graph rewrites on where TensorFlow leaves them off; True if changed.

    Taught on the Performance page (docs/performance.md). TensorFlow 2.21 turns
    them on by itself only on CPUs with AVX512_VNNI, AVX512_BF16 or AMX. On a
    2-core AVX2 CPU without those, turning them on made an epoch of block5 on
    stored activations 1.8 times faster and the frozen pass 1.3 times
    (bench/results/2026-12-07-onednn-rewrites-avx2.json). A value the user
    set, 0 included, stays.
    """
    if ONEDNN_ENV in os.environ:
        return False
    os.environ[ONEDNN_ENV] = "1"
    return True


def prepare_environment() -> None:
    """Before TensorFlow is imported: quiet start-up logs, and oneDNN's rewrites.

    Called by `tlh.setup()`, which the Setup cells call before they import
    TensorFlow and Keras, and by the command line. The logs stay quiet unless
    `TLH_TF_LOGS=1` (`tflogs`). oneDNN's rewrites go on, unless the user set
    `TF_ENABLE_ONEDNN_OPTS`, and off for `TLH_CPU_REPLICAS`, where they fail.
    """
    tflogs.prepare()
    try:
        replicas = cpu_replicas()
    except ValueError:
        return  # setup() names the bad value
    if "tensorflow" in sys.modules:
        return  # TensorFlow read the variable when it loaded
    if replicas > 1:
        turn_off_onednn_rewrites()
    else:
        turn_on_onednn_rewrites()


def onednn_rewrites_on() -> bool:
    """Whether this process runs TensorFlow with oneDNN's graph rewrites."""
    return compat.onednn_enabled()


def _refuse_onednn_with_replicas(replicas: int) -> None:
    if onednn_rewrites_on():
        raise RuntimeError(
            f"{CPU_REPLICAS_ENV}={replicas} needs oneDNN's graph rewrites off "
            f"({ONEDNN_ENV}=0: with them on, TensorFlow's Conv2D fails on a "
            "replica that gets no images), and TensorFlow was imported before "
            "tlh.setup() could turn them off. Restart the kernel and call "
            "tlh.setup() before importing tensorflow and keras (the Setup cell "
            f"does), or start Jupyter with {ONEDNN_ENV}=0.")


def onednn_note() -> str:
    """A few words for the Setup line when the course turned oneDNN's rewrites off."""
    if cpu_replicas() > 1 and os.environ.get(ONEDNN_ENV) == "0":
        return "oneDNN rewrites off"
    return ""


def _split_cpu(n: int) -> list[str]:
    """Split the CPU into `n` logical devices; only possible before TF starts."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    configured = tf.config.get_logical_device_configuration(cpu) or []
    if len(configured) != n:
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * n)
        except RuntimeError:
            raise RuntimeError(
                f"{CPU_REPLICAS_ENV}={n} needs the CPU split before TensorFlow "
                "starts, and it has already started in this process. Restart "
                "the kernel and run the Setup cell (tlh.setup()) first.") from None
    return [d.name for d in tf.config.list_logical_devices("CPU")]


# A variable belongs to the strategy it was created under, so one process
# keeps one strategy: asking again returns the same object.
_strategies: dict = {}


def get_strategy():
    """MultiWorkerMirrored with `TF_CONFIG`, Mirrored on several GPUs, else default.

    Taught on the Scaling out page (docs/scaling_out.md). `TLH_CPU_REPLICAS=N` mirrors
    over N logical CPU devices instead, to rehearse a several-GPU run.
    """
    import tensorflow as tf

    tf_config = _tf_config()
    replicas = cpu_replicas()
    key = (json.dumps(tf_config, sort_keys=True) if tf_config else None, replicas)
    if key in _strategies:
        return _strategies[key]
    if tf_config is not None:
        strategy = compat.reduce_each_tensor(tf.distribute.MultiWorkerMirroredStrategy())
    elif replicas > 1:
        _refuse_onednn_with_replicas(replicas)
        strategy = tf.distribute.MirroredStrategy(_split_cpu(replicas))
    else:
        gpus = tf.config.list_logical_devices("GPU")
        if len(gpus) < 2:
            return tf.distribute.get_strategy()  # not cached: it is TF's own
        strategy = tf.distribute.MirroredStrategy([d.name for d in gpus])
    _strategies[key] = strategy
    return strategy


def distributed_kind(strategy) -> str | None:
    """'MirroredStrategy', 'MultiWorkerMirroredStrategy', or None for the default."""
    import tensorflow as tf

    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "MultiWorkerMirroredStrategy"
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        return "MirroredStrategy"
    return None


def use_strategy():
    """Make `get_strategy()` current for the session; called by `tlh.setup()`.

    Taught on the Scaling out page (docs/scaling_out.md). The same as wrapping every
    later cell in `with strategy.scope():`, which a notebook cannot do.
    """
    import tensorflow as tf

    # Cleared first: with a strategy current, TF calls it the default one.
    tf.distribute.experimental_set_strategy(None)
    strategy = get_strategy()
    if distributed_kind(strategy) is not None:
        tf.distribute.experimental_set_strategy(strategy)
    return strategy


def short_description(strategy) -> str:
    """A few words for the Setup line: the strategy's name and replicas."""
    kind = distributed_kind(strategy)
    if kind is None:
        return "one replica"
    return f"{kind}, {strategy.num_replicas_in_sync} replicas"


def describe_strategy(strategy=None) -> str:
    """One line: which strategy, how many replicas, and why; see docs/scaling_out.md."""
    import tensorflow as tf

    strategy = strategy if strategy is not None else tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    kind = distributed_kind(strategy)
    if kind == "MultiWorkerMirroredStrategy":
        cluster = _tf_config() or {}
        workers = len(cluster.get("cluster", {}).get("worker", []))
        task = cluster.get("task", {})
        return (f"MultiWorkerMirroredStrategy: {workers} worker(s) from "
                f"{TF_CONFIG_ENV}, this is "
                f"{task.get('type', '?')} {task.get('index', '?')}, "
                f"{replicas} replica(s) in sync")
    if kind == "MirroredStrategy":
        devices = ", ".join(strategy.extended.worker_devices)
        return f"MirroredStrategy: {replicas} replicas in sync on {devices}"
    devices = tf.config.list_logical_devices("GPU") or \
        tf.config.list_logical_devices("CPU")
    return (f"default strategy: one replica on {devices[0].name} "
            f"(no {TF_CONFIG_ENV}, no {CPU_REPLICAS_ENV}, fewer than two GPUs)")


@dataclasses.dataclass(frozen=True)
class PrecisionChoice:
    """The dtype policy chosen and why; see docs/scaling_out.md."""

    policy: str   # "mixed_float16" or "float32"
    reason: str

    def __str__(self) -> str:
        return f"{self.policy} ({self.reason})"


def configure_precision(enable: bool = True) -> PrecisionChoice:
    """`mixed_float16` on GPUs of compute capability >= 7.0, else float32, with why.

    Taught on the Scaling out page (docs/scaling_out.md). Sets Keras' global dtype
    policy, so call it before building models. On CPUs float16 is slower than
    float32, and older GPUs have no tensor cores, so both keep float32.
    Under mixed_float16, Keras advises a float32 softmax layer at the end.
    """
    import keras
    import tensorflow as tf

    if not enable:
        keras.mixed_precision.set_global_policy("float32")
        return PrecisionChoice("float32", "mixed precision disabled by the caller")
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        keras.mixed_precision.set_global_policy("float32")
        return PrecisionChoice("float32", "no GPU: float16 is not faster on a CPU")
    capabilities = []
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        capabilities.append(tuple(details.get("compute_capability") or (0, 0)))
    weakest = min(capabilities)
    if weakest >= MIXED_PRECISION_MIN_CAPABILITY:
        keras.mixed_precision.set_global_policy("mixed_float16")
        return PrecisionChoice(
            "mixed_float16",
            f"{len(gpus)} GPU(s) with compute capability "
            f"{weakest[0]}.{weakest[1]} >= 7.0 (tensor cores)")
    keras.mixed_precision.set_global_policy("float32")
    need = ".".join(map(str, MIXED_PRECISION_MIN_CAPABILITY))
    return PrecisionChoice(
        "float32",
        f"GPU compute capability {weakest[0]}.{weakest[1]} < {need}: no tensor "
        "cores, float16 would not be faster")
