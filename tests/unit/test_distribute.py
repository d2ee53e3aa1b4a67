"""The strategy helper, a real training step under MirroredStrategy, precision."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import imagefactory
import numpy as np
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
    # Each test says which of these it runs under, whatever the caller exported.
    for name in ("TF_CONFIG", "TLH_CPU_REPLICAS", "TF_ENABLE_ONEDNN_OPTS"):
        env.pop(name, None)
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


# --- TLH_CPU_REPLICAS: rehearsing a several-GPU run on a CPU ----------------------------

@pytest.mark.parametrize("value", ["two", "0", "-1", "1.5", "9"])
def test_a_bad_cpu_replicas_value_is_named(monkeypatch, value):
    monkeypatch.setenv("TLH_CPU_REPLICAS", value)
    with pytest.raises(ValueError, match=f"TLH_CPU_REPLICAS='{value}'.*from 1 to 8"):
        distribute.get_strategy()


def test_one_cpu_replica_is_the_default_strategy(monkeypatch):
    monkeypatch.setenv("TLH_CPU_REPLICAS", "1")
    assert distribute.cpu_replicas() == 1
    assert distribute.short_description(distribute.get_strategy()) == "one replica"


def test_cpu_replicas_after_tensorflow_started_says_restart():
    code = textwrap.dedent("""
        import json, os
        import tensorflow as tf
        tf.config.list_logical_devices("CPU")  # TensorFlow has started
        os.environ["TLH_CPU_REPLICAS"] = "2"
        from tlhelpers import distribute
        try:
            distribute.use_strategy()
            print(json.dumps({"error": None}))
        except RuntimeError as err:
            print(json.dumps({"error": str(err)}))
    """)
    # oneDNN off, so the split of the CPU is what is refused.
    out = run_python(code, {"TF_ENABLE_ONEDNN_OPTS": "0"})
    assert "TLH_CPU_REPLICAS=2" in out["error"]
    assert "needs the CPU split before TensorFlow starts" in out["error"]
    assert "Restart the kernel" in out["error"]


# The course's own calls, in the notebooks' order, after `tlh.setup()` chose the
# strategy: no `with strategy.scope()` anywhere. ITEMS and BATCH are filled in.
COURSE_SCRIPT = textwrap.dedent("""
    import json
    import tlhelpers as tlh
    report = tlh.setup(seed=0)  # first, as in the Setup cells: before TensorFlow
    import numpy as np
    import keras
    from tlhelpers.data.pipeline import make_dataset

    items = [(path, label) for path, label in json.loads(ITEMS)]
    strategy = tlh.distribute.get_strategy()
    again = tlh.setup(seed=0, verbose=False)  # re-running the Setup cell

    train = make_dataset(items, 32, BATCH, shuffle=True)
    batches = [int(x.shape[0]) for x, _ in train]
    try:
        make_dataset(items[:1], 32, BATCH)
        too_few = None
    except ValueError as err:
        too_few = str(err)
    base = tlh.models.load_base("vgg16", weights=None, input_shape=(32, 32, 3))
    model = tlh.models.build_classifier(base, 2, dense=8)
    base.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    base_start = [w.copy() for w in base.get_weights()]
    head_start = model.get_layer("predictions").get_weights()[0].copy()
    history = model.fit(train, validation_data=train, epochs=2, verbose=0).history
    head_moved = float(np.abs(model.get_layer("predictions").get_weights()[0]
                              - head_start).max())
    base_still = all(np.array_equal(a, b)
                     for a, b in zip(base_start, base.get_weights()))

    tlh.models.set_trainable(base, 4)
    model.compile(optimizer=keras.optimizers.Adam(1e-4),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    b4 = base.get_layer("block4_conv3").get_weights()[0].copy()
    b5 = base.get_layer("block5_conv1").get_weights()[0].copy()
    tuned = model.fit(train, epochs=1, verbose=0).history
    b5_after = base.get_layer("block5_conv1").get_weights()[0]

    # The course's fine-tuning on stored rows (notebooks 03-04): block4_pool's
    # output stored once, block5 and the head trained on it.
    top = tlh.strategies.top_model(model, base, 4)
    rows = tlh.features.extract(base, items, image_size=32, batch_size=BATCH,
                                layer=tlh.strategies.frozen_layer(base, 4), progress=False)
    tlh.training.compile_for_training(top, 1e-4)
    stored = tlh.training.fit(top, (rows.features, rows.labels),
                              (rows.features, rows.labels), 1, live_plot=False).history
    print(json.dumps({
        "line": report.line(),
        "describe": tlh.distribute.describe_strategy(strategy),
        "same_strategy": again.strategy == report.strategy
                         and tlh.distribute.get_strategy() is strategy,
        "model_strategy": model.distribute_strategy is strategy,
        "weight_kind": type(model.weights[0].value).__name__,
        "optimizer_kind": type(model.optimizer.variables[-1].value).__name__,
        "batches": batches, "too_few": too_few,
        "val_loss": history["val_loss"],
        "head_moved": head_moved, "base_still": base_still,
        "block4_still": np.array_equal(
            b4, base.get_layer("block4_conv3").get_weights()[0]),
        "block5_moved": not np.array_equal(b5, b5_after),
        "block5": float(np.abs(b5_after).sum()),
        "head": model.get_layer("predictions").get_weights()[0].tolist(),
        "loss": tuned["loss"][0],
        "stored_loss": stored["loss"][0],
    }))
""")


def course_script(items, batch_size: int) -> str:
    return COURSE_SCRIPT.replace("ITEMS", repr(json.dumps(items))) \
        .replace("BATCH", str(batch_size))


def image_items(folder, per_class) -> list[tuple[str, int]]:
    root = imagefactory.make_folder(folder, ("cats", "dogs"), per_class=per_class)
    return [(str(p), label) for label, name in enumerate(("cats", "dogs"))
            for p in sorted((root / name).iterdir())]


# Whatever this CPU's default: "1" forces oneDNN's rewrites on
# (docs/scaling_out.md), and the course must turn them off for the two replicas.
@pytest.mark.parametrize("onednn", ["0", "1"])
def test_the_course_trains_under_two_cpu_replicas_without_a_scope(tmp_path, onednn):
    items = image_items(tmp_path / "imgs", {"cats": 6, "dogs": 5})
    out = run_python(course_script(items, 32),
                     {"TLH_CPU_REPLICAS": "2", "TLH_PROFILE": "quick",
                      "TF_ENABLE_ONEDNN_OPTS": onednn})
    assert "CPU (" in out["line"] and ", MirroredStrategy, 2 replicas, float32 |" \
        in out["line"]
    assert "oneDNN rewrites off)" in out["line"]
    assert out["same_strategy"] and out["model_strategy"]
    assert out["weight_kind"] == "MirroredVariable"
    assert out["optimizer_kind"] == "MirroredVariable"
    # 11 images: a first batch of 11 cannot split evenly over two replicas.
    assert out["batches"] == [10, 1]
    assert out["too_few"].startswith("1 image(s) cannot be split over 2 replicas")
    assert out["head_moved"] > 1e-4 and out["base_still"]
    assert out["block5_moved"] and out["block4_still"]
    assert np.isfinite(out["loss"]) and np.isfinite(out["stored_loss"])


def test_tensorflow_imported_first_with_onednn_on_is_refused_with_the_fix():
    code = textwrap.dedent("""
        import json
        import keras  # TensorFlow first: too late to turn oneDNN's rewrites off
        import tlhelpers as tlh
        try:
            tlh.setup(seed=0)
            print(json.dumps({"error": None}))
        except RuntimeError as err:
            print(json.dumps({"error": str(err)}))
    """)
    out = run_python(code, {"TLH_CPU_REPLICAS": "2", "TF_ENABLE_ONEDNN_OPTS": "1"})
    assert out["error"] is not None, "setup() let a run through that fails later"
    assert "TF_ENABLE_ONEDNN_OPTS=0" in out["error"]
    assert "call tlh.setup() before importing tensorflow and keras" in out["error"]


ONE_REPLICA_SETUP = textwrap.dedent("""
    import json, os
    import tlhelpers as tlh
    report = tlh.setup(seed=0, verbose=False)
    print(json.dumps({"line": report.line(),
                      "env": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
                      "on": tlh.distribute.onednn_rewrites_on()}))
""")


@pytest.mark.parametrize("onednn", ["0", "1"])
def test_one_replica_leaves_onednn_as_the_user_set_it(onednn):
    out = run_python(ONE_REPLICA_SETUP, {"TF_ENABLE_ONEDNN_OPTS": onednn})
    assert out["env"] == onednn and out["on"] is (onednn == "1")
    assert "oneDNN" not in out["line"]


def test_one_replica_turns_onednn_rewrites_on_when_nobody_chose():
    # TensorFlow's default leaves them off on CPUs without AVX-512 VNNI/BF16,
    # where they made block5's epochs 1.8 times faster.
    out = run_python(ONE_REPLICA_SETUP)
    assert out["env"] == "1" and out["on"] is True


def test_turning_onednn_on_keeps_a_value_the_user_set(monkeypatch):
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    assert distribute.turn_on_onednn_rewrites() is True
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "1"
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert distribute.turn_on_onednn_rewrites() is False
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0"


# --- several machines: two worker processes on this one -----------------------------

def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


def test_two_workers_train_in_step_under_multi_worker_mirrored(tmp_path):
    items = image_items(tmp_path / "imgs", 8)
    # Each worker gets other labels: only averaged gradients can keep their
    # weights equal. Alone, the same script ends with different weights.
    flipped = [(path, 1 - label) for path, label in items]
    scripts = [course_script(data, 8) for data in (items, flipped)]
    alone = [run_python(script, {"TLH_PROFILE": "quick"}) for script in scripts]
    assert ", one replica, " in alone[0]["line"]
    assert not np.allclose(alone[0]["head"], alone[1]["head"])

    workers = [f"localhost:{free_port()}" for _ in range(2)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "",
           "TLH_PROFILE": "quick"}
    procs = []
    for i, script in enumerate(scripts):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}}
        procs.append(subprocess.Popen(
            [sys.executable, "-c", script], text=True,
            env={**env, "TF_CONFIG": json.dumps(tf_config),
                 "TLH_HOME": str(tmp_path / f"home{i}")},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    together = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        together.append(json.loads(out.strip().splitlines()[-1]))
    for i, worker in enumerate(together):
        assert ", MultiWorkerMirroredStrategy, 2 replicas," in worker["line"]
        assert f"2 worker(s) from TF_CONFIG, this is worker {i}" in worker["describe"]
        assert worker["head_moved"] > 1e-4 and worker["base_still"]
        assert worker["block5_moved"] and worker["block4_still"]
        assert np.isfinite(worker["stored_loss"])
    np.testing.assert_allclose(together[0]["head"], together[1]["head"], rtol=1e-5,
                               atol=1e-7)
    assert together[0]["block5"] == pytest.approx(together[1]["block5"], rel=1e-6)
    # Validation loss is averaged over both workers' data, so it agrees too.
    assert together[0]["val_loss"] == pytest.approx(together[1]["val_loss"], rel=1e-5)


SETUP_LINES = textwrap.dedent("""
    import contextlib, io, json
    import tlhelpers as tlh
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        tlh.setup(seed=0)
    print(json.dumps({"lines": printed.getvalue().splitlines()}))
""")


def test_the_setup_cell_names_the_replicas_devices_only_when_it_splits():
    split = run_python(SETUP_LINES, {"TLH_CPU_REPLICAS": "2", "TLH_PROFILE": "quick"})
    assert len(split["lines"]) == 2, split["lines"]
    assert "MirroredStrategy, 2 replicas" in split["lines"][0]
    assert split["lines"][1].startswith("MirroredStrategy: 2 replicas in sync on")
    assert "CPU:0" in split["lines"][1] and "CPU:1" in split["lines"][1]
    alone = run_python(SETUP_LINES, {"TLH_PROFILE": "quick"})
    assert len(alone["lines"]) == 1 and "one replica" in alone["lines"][0]
