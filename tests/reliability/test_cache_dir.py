"""A TLH_HOME that cannot be written: the error names TLH_HOME and what to do.

Tests here often run as root, which writes through chmod 0o500, so a read-only
folder is simulated: the probe's open fails with EACCES, as it does for
everyone else. The other cases make mkdir fail for everyone by putting
TLH_HOME under (or at) a regular file.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest

from tlhelpers import config
from tlhelpers.data import registry
from tlhelpers.data.registry import DatasetSpec, get_dataset


def assert_names_tlh_home(err: OSError):
    message = str(err)
    assert "TLH_HOME" in message, message
    assert "writable" in message, message


def test_writable_home_works(tlh_home):
    path = config.cache_dir("features")
    assert path == tlh_home / "features" and path.is_dir()
    assert list(path.iterdir()) == []  # the write probe is cleaned up


def refuse_new_files_under(folder: Path, monkeypatch) -> None:
    """Opening a file for writing under `folder` fails with EACCES, as read-only does.

    Both ways Python creates files are covered (`os.open`, which `tempfile`
    uses, and `open`/`Path.open`), so the test does not depend on which one
    the code picks.
    """
    import builtins
    import io

    def denied(path):
        name = os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else ""
        return bool(name) and Path(name).resolve().is_relative_to(folder.resolve())

    real_os_open, real_open = os.open, builtins.open

    def os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and denied(path):
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))
        return real_os_open(path, flags, *args, **kwargs)

    def py_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and denied(file):
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(builtins, "open", py_open)
    monkeypatch.setattr(io, "open", py_open)


def test_read_only_home(tmp_path, monkeypatch):
    home = tmp_path / "ro"
    home.mkdir()
    monkeypatch.setenv("TLH_HOME", str(home))
    refuse_new_files_under(home, monkeypatch)
    with pytest.raises(OSError) as info:
        config.cache_dir("downloads")
    assert_names_tlh_home(info.value)
    assert "Permission denied" in str(info.value)
    assert isinstance(info.value.__cause__, PermissionError)
    assert [p.name for p in (home / "downloads").iterdir()] == []


def test_concurrent_callers_all_get_the_folder(tlh_home):
    # Several kernels, or threads of one, start at once: each probe is its own.
    n = 8
    start = threading.Barrier(n)
    errors, paths = [], []

    def call():
        start.wait()
        try:
            for _ in range(25):
                paths.append(config.cache_dir("features"))
        except OSError as err:
            errors.append(err)

    threads = [threading.Thread(target=call) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
    assert paths == [tlh_home / "features"] * (25 * n)
    assert list((tlh_home / "features").iterdir()) == []  # every probe removed


@pytest.mark.parametrize("where", ["under a file", "is a file"])
def test_home_that_cannot_be_created(tmp_path, monkeypatch, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("a regular file")
    home = blocker / "cache" if where == "under a file" else blocker
    monkeypatch.setenv("TLH_HOME", str(home))
    with pytest.raises(OSError) as info:
        config.cache_dir("downloads")
    assert_names_tlh_home(info.value)
    assert str(home) in str(info.value)
    assert blocker.read_text() == "a regular file"


def test_get_dataset_with_unwritable_home(tmp_path, monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.write_text("a regular file")
    monkeypatch.setenv("TLH_HOME", str(blocker / "cache"))
    spec = DatasetSpec(name="mini", url=(tmp_path / "mini.tgz").as_uri(), size=1,
                       sha256="0" * 64, license="CC0", credit="tests",
                       subdir="mini")
    monkeypatch.setitem(registry.DATASETS, "mini", spec)
    with pytest.raises(OSError) as info:
        get_dataset("mini", progress=False)
    assert_names_tlh_home(info.value)


def test_home_defaults_to_the_project_cache(monkeypatch):
    monkeypatch.delenv("TLH_HOME")
    assert config.home() == config.PROJECT_ROOT / "data" / "cache"


def test_home_expands_the_user(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("TLH_HOME", "~/tlh")
    assert config.home() == (tmp_path / "tlh").resolve()


def test_full_disk_names_tlh_home(tmp_path, monkeypatch):
    """A disk with no space left fails at the write probe, not mid-training."""
    real_write = Path.write_bytes

    def no_space(self, data):
        if self.name.startswith(".write-test"):
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_write(self, data)

    monkeypatch.setenv("TLH_HOME", str(tmp_path / "full"))
    monkeypatch.setattr(Path, "write_bytes", no_space)
    with pytest.raises(OSError) as caught:
        config.cache_dir("features")
    assert_names_tlh_home(caught.value)
    assert "No space left" in str(caught.value)
