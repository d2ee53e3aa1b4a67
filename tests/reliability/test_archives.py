"""Hostile archives, broken downloads and an unreachable dataset host.

Archives are crafted member by member so that each one tries exactly one way
out of its target folder; downloads come from `file://` URLs and from a small
HTTP server on 127.0.0.1, never from the internet.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import stat
import tarfile
import threading
import zipfile
from pathlib import Path

import imagefactory
import pytest

from tlhelpers.data import archive, registry
from tlhelpers.data.archive import ArchiveError, DownloadError, download, extract
from tlhelpers.data.registry import DatasetSpec, DatasetUnavailableError, get_dataset

# --- hostile archives ---------------------------------------------------------------

def tar_with(path: Path, *members: tarfile.TarInfo, mode: str = "w") -> Path:
    """A tar holding one ordinary file, then the given members."""
    with tarfile.open(path, mode) as tar:
        ok = tarfile.TarInfo("data/ok.txt")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"ok"))
        for member in members:
            data = b"x" * member.size if member.isfile() else None
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
    return path


def file_member(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 4
    return info


def link_member(name: str, target: str, hard: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info


def device_member(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3
    return info


def zip_with(path: Path, name: str, data: bytes = b"evil", symlink: bool = False):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data/ok.txt", b"ok")
        info = zipfile.ZipInfo(name)
        if symlink:
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, data)
    return path


HOSTILE = {
    "tar absolute path": lambda p: tar_with(p, file_member("/tmp/tlh-evil.txt")),
    "tar dotdot": lambda p: tar_with(p, file_member("data/../../evil.txt")),
    "tgz dotdot": lambda p: tar_with(p, file_member("../evil.txt"), mode="w:gz"),
    "tar symlink up": lambda p: tar_with(p, link_member("data/up", "../..")),
    "tar symlink absolute": lambda p: tar_with(p, link_member("data/pw",
                                                              "/etc/passwd")),
    "tar symlink then write through it": lambda p: tar_with(
        p, link_member("data/sub", "../../outside"), file_member("data/sub/x.txt")),
    # Each link points inside on paper; through the first, the second leaves.
    "tar symlink chain": lambda p: tar_with(
        p, link_member("s", "."), link_member("l", "s/../escaped"),
        file_member("l/x.txt")),
    "tar hardlink absolute": lambda p: tar_with(p, link_member("data/h",
                                                               "/etc/passwd", True)),
    "tar hardlink dotdot": lambda p: tar_with(p, link_member("data/h",
                                                             "../outside.txt", True)),
    "tar device file": lambda p: tar_with(p, device_member("data/null")),
    "zip absolute path": lambda p: zip_with(p, "/tmp/tlh-evil.txt"),
    "zip dotdot": lambda p: zip_with(p, "data/../../evil.txt"),
    "zip backslash dotdot": lambda p: zip_with(p, "..\\evil.txt"),
    "zip symlink": lambda p: zip_with(p, "data/link", b"../../etc", symlink=True),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_archive_is_refused_and_leaves_nothing(tmp_path, kind):
    src = HOSTILE[kind](tmp_path / "hostile.archive")
    dest_parent = tmp_path / "sandbox" / "datasets"
    target = dest_parent / "flowers"
    with pytest.raises(ArchiveError, match="refused"):
        extract(src, target)
    assert not target.exists()
    # No staging folder and nothing written beside or above the target.
    assert list(dest_parent.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.archive",
                                                          "sandbox"]
    assert not Path("/tmp/tlh-evil.txt").exists()


def test_refused_archive_keeps_the_previous_target(tmp_path):
    target = tmp_path / "flowers"
    (target / "daisy").mkdir(parents=True)
    (target / "daisy" / "1.jpg").write_bytes(b"old")
    src = HOSTILE["tar dotdot"](tmp_path / "bad.tar")
    with pytest.raises(ArchiveError):
        extract(src, target)
    assert (target / "daisy" / "1.jpg").read_bytes() == b"old"


@pytest.mark.parametrize("data", [b"", b"not an archive at all" * 10])
def test_not_an_archive(tmp_path, data):
    src = tmp_path / "thing.tgz"
    src.write_bytes(data)
    with pytest.raises(ArchiveError, match="neither a tar nor a zip"):
        extract(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_damaged_archive_is_an_archive_error(tmp_path):
    good = tar_with(tmp_path / "good.tgz", file_member("data/big.txt"), mode="w:gz")
    raw = good.read_bytes()
    damaged = tmp_path / "damaged.tgz"
    damaged.write_bytes(raw[: len(raw) - 30])  # cut the gzip stream short
    with pytest.raises(ArchiveError, match="damaged.tgz"):
        extract(damaged, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.tgz", "good.tgz"]


def test_good_archive_extracts(tmp_path):
    src = tar_with(tmp_path / "good.tgz", file_member("data/a.txt"), mode="w:gz")
    target = extract(src, tmp_path / "out")
    assert (target / "data" / "ok.txt").read_bytes() == b"ok"
    assert (target / "data" / "a.txt").read_bytes() == b"xxxx"


# --- downloads -----------------------------------------------------------------------

PAYLOAD = b"0123456789abcdef" * 4096  # 64 KiB
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; `/short/<name>` announces more bytes than it sends."""

    requests: list[str] = []

    def do_GET(self):
        type(self).requests.append(self.path)
        if self.path.startswith("/short/"):
            data = (Path(self.directory) / self.path[len("/short/"):]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data) + 1000))
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture
def server(tmp_path):
    """(base URL, served folder, list of request paths) of a local HTTP server."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = type("Handler", (_Handler,), {"requests": []})
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: handler(*a, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,),
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", folder, handler.requests
    finally:
        httpd.shutdown()
        httpd.server_close()


def no_part_files(folder: Path) -> bool:
    return not list(folder.rglob("*.part"))


def test_download_file_url_is_verified_and_reused(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(PAYLOAD)
    dest = tmp_path / "cache" / "dl.bin"
    assert download(src.as_uri(), dest, len(PAYLOAD), PAYLOAD_SHA,
                    progress=False) == dest
    assert dest.read_bytes() == PAYLOAD
    src.unlink()  # a second call must not need the source any more
    assert download(src.as_uri(), dest, len(PAYLOAD), PAYLOAD_SHA,
                    progress=False) == dest
    assert no_part_files(tmp_path)


@pytest.mark.parametrize("size, sha, match", [
    (len(PAYLOAD) + 1, PAYLOAD_SHA, "expected"),
    (len(PAYLOAD), "ab" * 32, "sha256"),
])
def test_download_mismatch_deletes_and_raises(tmp_path, size, sha, match):
    src = tmp_path / "src.bin"
    src.write_bytes(PAYLOAD)
    dest = tmp_path / "cache" / "dl.bin"
    with pytest.raises(DownloadError, match=match):
        download(src.as_uri(), dest, size, sha, progress=False)
    assert not dest.exists() and no_part_files(tmp_path)


def test_download_over_http(server, tmp_path):
    base, folder, requests = server
    (folder / "data.bin").write_bytes(PAYLOAD)
    dest = tmp_path / "cache" / "data.bin"
    download(f"{base}/data.bin", dest, len(PAYLOAD), PAYLOAD_SHA, progress=True)
    assert dest.read_bytes() == PAYLOAD
    download(f"{base}/data.bin", dest, len(PAYLOAD), PAYLOAD_SHA, progress=False)
    assert requests == ["/data.bin"]  # reused, not fetched twice
    assert no_part_files(tmp_path)


def test_download_over_http_sha_mismatch(server, tmp_path):
    base, folder, _ = server
    (folder / "data.bin").write_bytes(PAYLOAD)
    dest = tmp_path / "cache" / "data.bin"
    with pytest.raises(DownloadError, match="sha256"):
        download(f"{base}/data.bin", dest, None, "cd" * 32, progress=False)
    assert not dest.exists() and no_part_files(tmp_path)


def test_download_cut_short_without_checksum_is_caught(server, tmp_path):
    # No size and no sha256 given: only the server's Content-Length can tell.
    base, folder, _ = server
    (folder / "data.bin").write_bytes(PAYLOAD)
    dest = tmp_path / "cache" / "data.bin"
    with pytest.raises(DownloadError, match="announced"):
        download(f"{base}/short/data.bin", dest, progress=False)
    assert not dest.exists() and no_part_files(tmp_path)


def test_download_404_and_missing_file(server, tmp_path):
    base, _, _ = server
    dest = tmp_path / "cache" / "x.bin"
    with pytest.raises(DownloadError, match="could not download"):
        download(f"{base}/missing.bin", dest, progress=False)
    with pytest.raises(DownloadError, match="could not download"):
        download((tmp_path / "nothing.bin").as_uri(), dest, progress=False)
    assert not dest.exists() and no_part_files(tmp_path)


def test_interrupted_download_leaves_no_part(tmp_path, monkeypatch):
    class Interrupting(io.BytesIO):
        headers = {"Content-Length": str(len(PAYLOAD))}

        def read(self, n=-1):
            if self.tell() > 0:
                raise KeyboardInterrupt
            return super().read(1000)

    monkeypatch.setattr(archive.urllib.request, "urlopen",
                        lambda url, timeout: Interrupting(PAYLOAD))
    dest = tmp_path / "cache" / "x.bin"
    with pytest.raises(KeyboardInterrupt):
        download("http://example.invalid/x.bin", dest, progress=False)
    assert not dest.exists() and no_part_files(tmp_path)


def test_corrupt_cached_file_is_deleted(tmp_path):
    dest = tmp_path / "dl.bin"
    dest.write_bytes(PAYLOAD[:-1])
    with pytest.raises(DownloadError, match="expected"):
        download("file:///nowhere", dest, len(PAYLOAD), PAYLOAD_SHA, progress=False)
    assert not dest.exists()


# --- get_dataset against the registry -------------------------------------------------

def flowers_archive(path: Path) -> tuple[Path, int, str]:
    """A small .tgz shaped like flower_photos.tgz: subdir/<class>/*.jpg."""
    src = imagefactory.make_folder(path.parent / "src" / "mini_flowers",
                                   ("daisy", "roses"), per_class=3)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(src, arcname="mini_flowers")
    data = path.read_bytes()
    return path, len(data), hashlib.sha256(data).hexdigest()


def spec_for(url: str, size: int, sha: str, name: str = "mini") -> DatasetSpec:
    return DatasetSpec(name=name, url=url, size=size, sha256=sha,
                       license="CC0", credit="the test suite",
                       subdir="mini_flowers")


def test_unreachable_host_names_the_three_fixes(monkeypatch):
    monkeypatch.setattr(registry, "host_reachable", lambda url, timeout=3.0: False)
    with pytest.raises(DatasetUnavailableError) as info:
        get_dataset("flowers", progress=False)
    message = str(info.value)
    assert "no network" in message and "internet" in message
    assert "prefetch" in message and "TLH_HOME" in message
    assert "TLH_DATASET" in message
    assert not list((registry.config.home()).rglob("*.part"))


def test_unreachable_fake_spec(monkeypatch, tmp_path):
    spec = spec_for("https://mirror.invalid/mini.tgz", 10, "0" * 64)
    monkeypatch.setitem(registry.DATASETS, "mini", spec)
    monkeypatch.setattr(registry, "host_reachable", lambda url, timeout=3.0: False)
    with pytest.raises(DatasetUnavailableError, match="TLH_DATASET"):
        get_dataset("mini", progress=False)


def test_get_dataset_from_a_file_url_then_from_disk(monkeypatch, tmp_path):
    path, size, sha = flowers_archive(tmp_path / "mirror" / "mini.tgz")
    monkeypatch.setitem(registry.DATASETS, "mini", spec_for(path.as_uri(), size, sha))
    folder = get_dataset("mini", progress=False)
    assert folder == registry.config.home() / "datasets" / "mini" / "mini_flowers"
    assert sorted(p.name for p in folder.iterdir()) == ["daisy", "roses"]
    assert len(list(folder.rglob("*.jpg"))) == 6
    path.unlink()  # the second call must not download again
    assert get_dataset("mini", progress=False) == folder


def test_get_dataset_over_http_downloads_once(monkeypatch, server, tmp_path):
    base, served, requests = server
    path, size, sha = flowers_archive(served / "mini.tgz")
    monkeypatch.setitem(registry.DATASETS, "mini",
                        spec_for(f"{base}/mini.tgz", size, sha))
    monkeypatch.setenv("TLH_DATASET", "mini")
    assert registry.describe_default_dataset() == "mini (not downloaded yet)"
    folder = get_dataset(progress=False)  # TLH_DATASET names the entry
    assert (folder / "daisy").is_dir()
    assert get_dataset("mini", progress=False) == folder
    assert requests == ["/mini.tgz"]
    assert registry.describe_default_dataset() == "mini (cached)"


def test_get_dataset_wrong_checksum_is_unavailable(monkeypatch, tmp_path):
    path, size, _ = flowers_archive(tmp_path / "mirror" / "mini.tgz")
    monkeypatch.setitem(registry.DATASETS, "mini",
                        spec_for(path.as_uri(), size, "ef" * 32))
    with pytest.raises(DatasetUnavailableError, match="sha256"):
        get_dataset("mini", progress=False)
    home = registry.config.home()
    assert not list(home.rglob("*.tgz")) and not list(home.rglob("*.part"))
    assert not (home / "datasets" / "mini").exists()


def test_get_dataset_archive_without_its_folder(monkeypatch, tmp_path):
    path, size, sha = flowers_archive(tmp_path / "mirror" / "mini.tgz")
    spec = DatasetSpec(name="mini", url=path.as_uri(), size=size, sha256=sha,
                       license="CC0", credit="tests", subdir="flower_photos")
    monkeypatch.setitem(registry.DATASETS, "mini", spec)
    with pytest.raises(ArchiveError, match="flower_photos"):
        get_dataset("mini", progress=False)
    assert not (registry.dataset_root("mini") / ".complete").exists()


def test_get_dataset_folder_and_unknown_name(tmp_path):
    root = imagefactory.make_folder(tmp_path / "mine", per_class=1)
    assert get_dataset(root) == root.resolve()
    with pytest.raises(ValueError, match="registered: .*flowers"):
        get_dataset(tmp_path / "typo")


def test_host_reachable_file_urls(tmp_path):
    src = tmp_path / "a.tgz"
    assert not registry.host_reachable(src.as_uri())
    src.write_bytes(b"x")
    assert registry.host_reachable(src.as_uri())
