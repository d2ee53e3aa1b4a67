"""The strategy helper, a real training step under MirroredStrategy, precision."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tlhelpers import distribute

# Logical devices must be configured before TensorFlow touches any device, so
# this runs in a fresh interpreter: it cannot disturb the other tests' TF.
MIRRORED_STEP = textwrap.dedent("""
    import json
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from tlhelpers import distribute

    def build():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((4, 4, 3)),
                                  keras.layers.Conv2D(2, 3, activation="relu"),
                                  keras.layers.Flatten(),
                                  keras.layers.Dense(3, activation="softmax")])
        model.compile(optimizer=keras.optimizers.SGD(0.5),
                      loss="sparse_categorical_crossentropy")
        return model

    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 4, 4, 3)).astype("float32")
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1], dtype="int32")

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        mirrored = build()
    start = [w.copy() for w in mirrored.get_weights()]
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    loss = mirrored.fit(ds, epochs=1, verbose=0).history["loss"][0]

    single = build()  # the same step on one device, as the reference
    single_loss = single.fit(ds, epochs=1, verbose=0).history["loss"][0]
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "variable_kind": type(mirrored.weights[0].value).__name__,
        "describe": distribute.describe_strategy(strategy),
        "loss": float(loss), "single_loss": float(single_loss),
        "moved": float(max(np.abs(a - b).max()
                           for a, b in zip(mirrored.get_weights(), start))),
        "gap": float(max(np.abs(a - b).max() for a, b in
                         zip(mirrored.get_weights(), single.get_weights()))),
        "default": distribute.describe_strategy(distribute.get_strategy()),
    }))
""")


def run_python(code: str, env_extra: dict | None = None, timeout: int = 600) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("TF_CONFIG", None)
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, "-c", code], env=env, text=True,
                          capture_output=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_training_step_under_mirrored_strategy_on_two_cpus():
    out = run_python(MIRRORED_STEP)
    assert out["replicas"] == 2
    assert "MirroredStrategy: 2 replicas" in out["describe"]
    assert "CPU:0" in out["describe"] and "CPU:1" in out["describe"]
    assert out["moved"] > 1e-3  # the step changed the weights
    # Two replicas of 4 images, gradients summed across them, give the same
    # step as one device on all 8 images.
    assert out["loss"] == pytest.approx(out["single_loss"], rel=1e-5)
    assert out["gap"] < 1e-5
    # Two CPUs are not two GPUs: the helper keeps the default strategy there.
    assert out["default"].startswith("default strategy: one replica")


def test_tf_config_selects_multi_worker():
    code = textwrap.dedent("""
        import json
        from tlhelpers import distribute
        strategy = distribute.get_strategy()
        import tensorflow as tf
        print(json.dumps({"multi": isinstance(
                              strategy, tf.distribute.MultiWorkerMirroredStrategy),
                          "replicas": strategy.num_replicas_in_sync,
                          "describe": distribute.describe_strategy(strategy)}))
    """)
    # One worker is a complete cluster: the strategy starts without peers.
    tf_config = {"cluster": {"worker": ["localhost:0"]},
                 "task": {"type": "worker", "index": 0}}
    out = run_python(code, {"TF_CONFIG": json.dumps(tf_config)})
    assert out["multi"]
    assert out["replicas"] == 1
    assert out["describe"].startswith(
        "MultiWorkerMirroredStrategy: 1 worker(s) from TF_CONFIG, this is worker 0")


def test_default_strategy_without_gpus_or_tf_config(monkeypatch):
    import tensorflow as tf

    monkeypatch.delenv("TF_CONFIG", raising=False)
    strategy = distribute.get_strategy()
    if len(tf.config.list_logical_devices("GPU")) > 1:
        pytest.skip("several GPUs here: MirroredStrategy is the right choice")
    assert strategy is tf.distribute.get_strategy()
    assert strategy.num_replicas_in_sync == 1
    assert distribute.describe_strategy(strategy).startswith("default strategy")


@pytest.mark.parametrize("value, match", [
    ("{not json", "not valid JSON"),
    ('{"task": {"type": "worker", "index": 0}}', "no 'cluster'"),
])
def test_a_bad_tf_config_is_named(monkeypatch, value, match):
    monkeypatch.setenv("TF_CONFIG", value)
    with pytest.raises(ValueError, match=f"TF_CONFIG.*{match}|{match}"):
        distribute.get_strategy()


@pytest.fixture
def policy():
    import keras

    before = keras.mixed_precision.global_policy().name
    yield
    keras.mixed_precision.set_global_policy(before)


def fake_gpus(monkeypatch, capabilities):
    import tensorflow as tf

    gpus = [tf.config.PhysicalDevice(name=f"/physical_device:GPU:{i}",
                                     device_type="GPU")
            for i in range(len(capabilities))]
    details = dict(zip((g.name for g in gpus), capabilities))
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda kind=None: gpus if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "get_device_details",
                        lambda dev: {"compute_capability": details[dev.name]})


def test_precision_stays_float32_on_a_cpu(policy):
    import keras
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is present")
    choice = distribute.configure_precision()
    assert choice.policy == "float32" and "no GPU" in choice.reason
    assert keras.mixed_precision.global_policy().name == "float32"


def test_mixed_precision_on_a_recent_gpu(policy, monkeypatch):
    import keras

    fake_gpus(monkeypatch, [(8, 0), (7, 5)])
    choice = distribute.configure_precision()
    assert choice.policy == "mixed_float16" and "7.5 >= 7.0" in choice.reason
    assert keras.mixed_precision.global_policy().name == "mixed_float16"
    assert distribute.configure_precision(enable=False).policy == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"


def test_float32_on_an_old_gpu(policy, monkeypatch):
    import keras

    fake_gpus(monkeypatch, [(8, 6), (6, 1)])  # the weakest card decides
    choice = distribute.configure_precision()
    assert choice.policy == "float32" and "6.1 < 7.0" in choice.reason
    assert keras.mixed_precision.global_policy().name == "float32"
