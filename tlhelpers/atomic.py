"""Replace a file all at once: write a temporary file beside it, then rename it.

Used by every file the package writes over (models, feature files, the run
log, weights; `01`-`06`). A kill or a full disk mid-write leaves the old file
as it was: `os.replace` in one folder is atomic, so a reader sees the old
file or the new one, never half of one. A temporary file that a killed
process left behind is removed by the next write into its folder.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import time
from pathlib import Path

MARK = ".tlh-tmp"  # in every temporary name: what `remove_stale` may delete
# A temporary file this old is stale even when its owner cannot be checked
# (written from another machine into a shared folder).
STALE_SECONDS = 24 * 3600


def host() -> str:
    """This machine's name as written into temporary names and run-log rows."""
    # It goes into file names: keep only what every file system takes.
    name = "".join(c for c in socket.gethostname() if c.isalnum() or c in "-_")
    return name[:32] or "host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by another user (PermissionError)
        return True
    return True


def owner_gone(machine, pid) -> bool:
    """True when process `pid` of `machine` has ended (False when unknown).

    Only this machine's processes can be checked; a writer elsewhere (a
    shared folder) is assumed alive.
    """
    return (machine == host() and isinstance(pid, int)
            and not isinstance(pid, bool) and pid > 0 and not _alive(pid))


def _stale(path: Path, now: float) -> bool:
    """True for a temporary file whose writer is gone (or that is a day old)."""
    # .NAME.HOST-PID.RANDOM.tlh-tmp[SUFFIX]
    parts = path.name.split(MARK)[0].split(".")
    machine, _, pid = parts[-2].rpartition("-") if len(parts) >= 3 else ("", "", "")
    try:
        if now - path.lstat().st_mtime > STALE_SECONDS:
            return True
    except OSError:  # removed meanwhile
        return False
    return pid.isdigit() and owner_gone(machine, int(pid))


def remove_stale(folder: Path) -> list[Path]:
    """Delete the temporary files that killed writers left in `folder`."""
    removed, now = [], time.time()
    try:
        names = [p for p in Path(folder).iterdir() if MARK in p.name]
    except OSError:
        return removed
    for path in names:
        if path.is_file() and _stale(path, now):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


@contextlib.contextmanager
def replacing(path: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path beside `path`; renamed to `path` when the block succeeds.

    `suffix` ends the temporary name (Keras wants `.keras` or `.weights.h5`).
    On an exception (a full disk, an interrupt) the temporary file is
    deleted and `path` keeps what it held.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent)
    handle, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{host()}-{os.getpid()}.", suffix=MARK + suffix,
        dir=path.parent)
    os.close(handle)
    try:
        yield Path(tmp)
        # mkstemp makes the file private; the file it replaces was not.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
