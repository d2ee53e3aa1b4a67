"""Verified downloads and safe archive extraction; used by `get_dataset` and `prefetch`.

Taught in `00_setup_and_data.ipynb` (where the data comes from). A download is
written to a `.part` file, checked against its size and sha256, and only then
renamed into place; a mismatch deletes it. Extraction refuses members with
absolute paths, `..`, or links that point outside the target folder.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from ..progress import progress_bar

CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download failed or did not match its size or checksum."""


class ArchiveError(RuntimeError):
    """An archive holds a member that would land outside its target folder."""


def sha256_of(path: Path) -> str:
    """The file's sha256, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, size: int | None, sha256: str | None) -> None:
    """Raise DownloadError (and delete the file) when size or sha256 differ."""
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        path.unlink(missing_ok=True)
        raise DownloadError(
            f"{path.name}: expected {size:,} bytes, got {actual_size:,}; "
            "the partial or corrupt file was deleted, run again to retry")
    if sha256 is not None:
        actual = sha256_of(path)
        if actual != sha256.lower():
            path.unlink(missing_ok=True)
            raise DownloadError(
                f"{path.name}: sha256 {actual} does not match the expected "
                f"{sha256}; the corrupt file was deleted, run again to retry")


def download(url: str, dest: Path, size: int | None = None,
             sha256: str | None = None, timeout: float = 30.0,
             progress: bool = True) -> Path:
    """Download `url` to `dest` once, verified; an existing verified file is reused."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        verify(dest, size, sha256)  # deletes and raises when it was corrupt
        return dest
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, \
                open(part, "wb") as out:
            announced = int(response.headers.get("Content-Length") or 0)
            bar = _progress_bar(announced or size, dest.name) if progress else None
            received = 0
            for block in iter(lambda: response.read(CHUNK), b""):
                out.write(block)
                received += len(block)
                if bar is not None:
                    bar.update(len(block))
            if bar is not None:
                bar.close()
        # A server that hangs up early ends the stream without an error; with
        # no size or checksum to compare, only its own Content-Length tells.
        if announced and received != announced:
            raise DownloadError(
                f"could not download {url}: the server announced {announced:,} "
                f"bytes and sent {received:,}; run again to retry")
    except (urllib.error.URLError, OSError, TimeoutError,
            http.client.HTTPException) as err:
        part.unlink(missing_ok=True)
        raise DownloadError(f"could not download {url}: {err}") from err
    except BaseException:  # interrupted (Ctrl-C) or refused: leave no .part
        part.unlink(missing_ok=True)
        raise
    verify(part, size, sha256)
    os.replace(part, dest)
    return dest


def _progress_bar(total, name):
    return progress_bar(total=total, unit="B", unit_scale=True, desc=name)


def _check_member_path(name: str, target: Path) -> Path:
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or name.startswith(("/", "\\")) or \
            (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"refused archive member with an absolute path: {name!r}")
    if ".." in posix.parts:
        raise ArchiveError(f"refused archive member with '..' in its path: {name!r}")
    resolved = (target / posix).resolve()
    if not resolved.is_relative_to(target.resolve()):
        raise ArchiveError(f"refused archive member outside the target: {name!r}")
    return resolved


def _check_link(member: tarfile.TarInfo, target: Path) -> None:
    if member.issym():
        link = PurePosixPath(member.linkname)
        base = PurePosixPath(member.name).parent
        if link.is_absolute() or not (target / base / link).resolve() \
                .is_relative_to(target.resolve()):
            raise ArchiveError(
                f"refused link {member.name!r} -> {member.linkname!r}: it leaves "
                "the target folder")
    elif member.islnk():
        _check_member_path(member.linkname, target)
    elif not (member.isfile() or member.isdir()):
        raise ArchiveError(f"refused special file in archive: {member.name!r}")


def extract(archive: Path, target: Path) -> Path:
    """Extract a .tar(.gz) or .zip into `target`, refusing unsafe members.

    Every member is checked before anything is written; extraction goes to a
    temporary folder beside `target` that is renamed when complete, so an
    interrupted extraction never leaves a half-filled dataset.
    """
    archive, target = Path(archive), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    _check_member_path(info.filename, staging)
                    mode = (info.external_attr >> 16) & 0o170000
                    if mode == 0o120000:  # a symlink stored in the zip
                        raise ArchiveError(
                            f"refused link in zip archive: {info.filename!r}")
                zf.extractall(staging)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                members = tf.getmembers()
                for member in members:
                    _check_member_path(member.name, staging)
                    _check_link(member, staging)
                tf.extractall(staging, members=members, filter="data")
        else:
            raise ArchiveError(f"{archive.name} is neither a tar nor a zip archive")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except tarfile.FilterError as err:
        # tarfile's data filter sees what the checks above cannot: a link that
        # leaves the folder only through another link extracted before it.
        shutil.rmtree(staging, ignore_errors=True)
        raise ArchiveError(f"refused archive member in {archive.name}: {err}") from err
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise ArchiveError(f"cannot extract {archive.name}, it is damaged: "
                           f"{err}") from err
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
