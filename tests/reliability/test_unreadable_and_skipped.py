"""A folder the scan cannot read is named with the fix; `run` says what it left out."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import imagefactory
import pytest

from tlhelpers.cli import main
from tlhelpers.data import scan_folder

FAST = ["--profile", "quick", "--image-size", "32", "--epochs", "1"]


def deny_listing(folder: Path, monkeypatch) -> None:
    """Listing `folder` fails with EACCES, as for a user without read permission.

    Tests often run as root, which reads through chmod 000; where they do
    not, the folder's permissions are taken away too.
    """
    real = os.scandir
    target = os.path.realpath(folder)

    def scandir(path="."):
        if os.path.realpath(os.fsdecode(path)) == target:
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    if os.geteuid() != 0:
        folder.chmod(0)  # the `folder` fixture gives it back


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TLH_PROFILE", "quick")
    root = imagefactory.make_folder(tmp_path / "d", ("red", "blue", "green"),
                                    per_class=6, layout="split", val_per_class=3)
    yield root
    for path in root.rglob("*"):
        if path.is_dir():
            path.chmod(0o755)


def test_an_unreadable_class_folder_is_named_with_the_fix(folder, monkeypatch):
    locked = folder / "train" / "green"
    deny_listing(locked, monkeypatch)
    scan = scan_folder(folder)
    reasons = {b.path: b.reason for b in scan.bad}
    assert locked.resolve() in reasons
    assert "permission denied" in reasons[locked.resolve()]
    assert "chmod -R u+rX" in reasons[locked.resolve()]
    assert "permission denied" in scan.report()


def test_check_data_reports_it(folder, monkeypatch, capsys):
    deny_listing(folder / "train" / "green", monkeypatch)
    main(["check-data", str(folder)])
    out = capsys.readouterr().out
    assert "cannot be read (permission denied)" in out


def test_run_says_how_many_files_it_left_out(folder, capsys):
    for i, name in enumerate(sorted((folder / "train" / "red").iterdir())[:3]):
        name.write_bytes(b"<html>not a photo</html>" if i else b"")
    status = main(["run", "scratch", "--data", str(folder), *FAST])
    assert status == 0
    err = capsys.readouterr().err
    assert "skipped 3 file(s)" in err
    assert f"check-data {folder.resolve()}" in err
