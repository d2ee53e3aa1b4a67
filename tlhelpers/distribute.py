"""One place that picks the `tf.distribute` strategy and the float precision.

Taught in the README's "Scaling out" section. The notebooks build and compile
their models inside `get_strategy().scope()`; on a laptop that is the default
strategy (one device, nothing changes), on several GPUs it is MirroredStrategy,
and with `TF_CONFIG` set it is MultiWorkerMirroredStrategy, so the same
notebook runs on one CPU, several GPUs, or several machines.
"""

from __future__ import annotations

import dataclasses
import json
import os

TF_CONFIG_ENV = "TF_CONFIG"
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


def get_strategy():
    """MultiWorkerMirrored with `TF_CONFIG`, Mirrored on several GPUs, else default.

    Taught in the README's "Scaling out" section. Call it once, before any
    model is built: MultiWorkerMirroredStrategy must be created first.
    """
    import tensorflow as tf

    if _tf_config() is not None:
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    return tf.distribute.get_strategy()


def describe_strategy(strategy=None) -> str:
    """One line: which strategy, how many replicas, and why; see the README."""
    import tensorflow as tf

    strategy = strategy if strategy is not None else tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        cluster = _tf_config() or {}
        workers = len(cluster.get("cluster", {}).get("worker", []))
        task = cluster.get("task", {})
        return (f"MultiWorkerMirroredStrategy: {workers} worker(s) from "
                f"{TF_CONFIG_ENV}, this is "
                f"{task.get('type', '?')} {task.get('index', '?')}, "
                f"{replicas} replica(s) in sync")
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        devices = ", ".join(strategy.extended.worker_devices)
        return f"MirroredStrategy: {replicas} replicas in sync on {devices}"
    devices = tf.config.list_logical_devices("GPU") or \
        tf.config.list_logical_devices("CPU")
    return (f"default strategy: one replica on {devices[0].name} "
            f"(no {TF_CONFIG_ENV}, fewer than two GPUs)")


@dataclasses.dataclass(frozen=True)
class PrecisionChoice:
    """The dtype policy chosen and why; see the README's "Scaling out"."""

    policy: str   # "mixed_float16" or "float32"
    reason: str

    def __str__(self) -> str:
        return f"{self.policy} ({self.reason})"


def configure_precision(enable: bool = True) -> PrecisionChoice:
    """`mixed_float16` on GPUs of compute capability >= 7.0, else float32, with why.

    Taught in the README's "Scaling out" section. Sets Keras' global dtype
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
