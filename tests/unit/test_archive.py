"""archive: checksums, verify, member-path checks, extraction of good archives."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile

import pytest

from tlhelpers.data import archive
from tlhelpers.data.archive import ArchiveError, DownloadError, extract, verify

PAYLOAD = b"tulips and daisies\n" * 1000


@pytest.fixture
def payload_file(tmp_path):
    path = tmp_path / "file.bin"
    path.write_bytes(PAYLOAD)
    return path


def test_sha256_of_matches_hashlib(payload_file, monkeypatch):
    monkeypatch.setattr(archive, "CHUNK", 1000)  # several chunks
    assert archive.sha256_of(payload_file) == hashlib.sha256(PAYLOAD).hexdigest()


def test_verify_accepts_the_right_file(payload_file):
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    verify(payload_file, len(PAYLOAD), digest)
    verify(payload_file, None, digest.upper())  # case does not matter
    verify(payload_file, len(PAYLOAD), None)
    assert payload_file.exists()


def test_verify_size_mismatch_deletes(payload_file):
    with pytest.raises(DownloadError, match="expected 1 bytes"):
        verify(payload_file, 1, None)
    assert not payload_file.exists()


def test_verify_sha256_mismatch_deletes(payload_file):
    with pytest.raises(DownloadError, match="sha256"):
        verify(payload_file, len(PAYLOAD), "0" * 64)
    assert not payload_file.exists()


@pytest.mark.parametrize("name", [
    "/etc/passwd", "\\windows\\system32", "C:/boot.ini", "c:evil",
])
def test_absolute_member_names_are_refused(tmp_path, name):
    with pytest.raises(ArchiveError, match="absolute"):
        archive._check_member_path(name, tmp_path)


@pytest.mark.parametrize("name", [
    "../evil", "flowers/../../evil", "a/b/../../../evil", "..\\evil",
])
def test_dotdot_member_names_are_refused(tmp_path, name):
    with pytest.raises(ArchiveError, match=r"'\.\.'"):
        archive._check_member_path(name, tmp_path)


@pytest.mark.parametrize("name", ["flowers/daisy/1.jpg", "./a.txt", "dir/"])
def test_ordinary_member_names_pass(tmp_path, name):
    resolved = archive._check_member_path(name, tmp_path)
    assert resolved.is_relative_to(tmp_path.resolve())


def make_tar(path, members: dict[str, bytes], mode="w:gz"):
    with tarfile.open(path, mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def make_zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


MEMBERS = {"flowers/daisy/1.jpg": b"one", "flowers/rose/2.jpg": b"two",
           "flowers/LICENSE.txt": b"CC BY 2.0"}


@pytest.mark.parametrize("maker, suffix", [
    (make_tar, "tgz"), (lambda p, m: make_tar(p, m, "w"), "tar"), (make_zip, "zip"),
])
def test_good_archive_extracts(tmp_path, maker, suffix):
    src = maker(tmp_path / f"good.{suffix}", MEMBERS)
    target = tmp_path / "out" / "flowers_root"
    assert extract(src, target) == target
    for name, data in MEMBERS.items():
        assert (target / name).read_bytes() == data
    assert sorted(p.name for p in target.parent.iterdir()) == ["flowers_root"]


def test_extract_replaces_an_old_target(tmp_path):
    target = tmp_path / "out"
    (target / "stale").mkdir(parents=True)
    extract(make_zip(tmp_path / "a.zip", MEMBERS), target)
    assert not (target / "stale").exists()
    assert (target / "flowers" / "daisy" / "1.jpg").exists()


def test_internal_symlink_is_allowed(tmp_path):
    src = tmp_path / "links.tar"
    with tarfile.open(src, "w") as tar:
        info = tarfile.TarInfo("d/real.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"ok"))
        link = tarfile.TarInfo("d/alias.txt")
        link.type, link.linkname = tarfile.SYMTYPE, "real.txt"
        tar.addfile(link)
    target = extract(src, tmp_path / "out")
    assert (target / "d" / "alias.txt").read_bytes() == b"ok"
