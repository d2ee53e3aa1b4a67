"""A TLH_HOME that cannot be written: the error names TLH_HOME and what to do.

Tests here often run as root, and root writes through chmod 0o500. The chmod
case is skipped then; the other cases make mkdir fail for everyone by putting
TLH_HOME under (or at) a regular file.
"""

from __future__ import annotations

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


def test_read_only_home(tmp_path, monkeypatch):
    home = tmp_path / "ro"
    home.mkdir()
    home.chmod(0o500)
    try:
        try:
            (home / "probe").write_bytes(b"")
        except PermissionError:
            pass
        else:
            pytest.skip("this user writes through chmod 0o500 (root); the "
                        "other cases cover the error")
        monkeypatch.setenv("TLH_HOME", str(home))
        with pytest.raises(OSError) as info:
            config.cache_dir("downloads")
    finally:
        home.chmod(0o700)
    assert_names_tlh_home(info.value)


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
    import errno
    from pathlib import Path

    real_write = Path.write_bytes

    def no_space(self, data):
        if self.name == ".write-test":
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_write(self, data)

    monkeypatch.setenv("TLH_HOME", str(tmp_path / "full"))
    monkeypatch.setattr(Path, "write_bytes", no_space)
    with pytest.raises(OSError) as caught:
        config.cache_dir("features")
    assert_names_tlh_home(caught.value)
    assert "No space left" in str(caught.value)
