"""The run log: one row per training run, saved after every epoch.

Taught in `03_fine_tuning.ipynb`. Rows live in a JSON file under
`TLH_HOME/runs/`, rewritten through a temporary file and a rename, so a kernel
restart (or an interrupt mid-write) never loses or breaks it. Every change
reads the file again under a lock and merges into it, so two kernels writing
the same log (02 and 04 both write "course") keep each other's rows.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import html
import json
import os
import tempfile
from pathlib import Path

from .. import config

COLUMNS = ["run", "strategy", "backbone", "weights", "n_unfrozen", "lr", "epochs",
           "epochs_done", "best_val_accuracy", "seconds", "status", "started"]


@contextlib.contextmanager
def _locked(path: Path):
    """Hold an exclusive lock on `path` + ".lock" (waits for other processes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+b") as handle:
        if os.name == "nt":
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if os.name == "nt":
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class RunLog:
    """A persistent table of runs; shows as HTML in a notebook."""

    def __init__(self, name: str = "runs", path: str | Path | None = None):
        self.path = Path(path) if path else config.cache_dir("runs") / f"{name}.json"
        with _locked(self.path):
            self.rows: list[dict] = self._read()

    def _read(self) -> list[dict]:
        if not self.path.exists():
            return []
        try:
            rows = json.loads(self.path.read_text())
            return rows if isinstance(rows, list) else []
        except (OSError, json.JSONDecodeError) as err:
            # A broken file is kept aside, not silently overwritten.
            backup = self.path.with_suffix(".broken.json")
            os.replace(self.path, backup)
            import warnings
            warnings.warn(f"run log {self.path} was unreadable ({err}); moved to "
                          f"{backup.name} and started a new one")
            return []

    def save(self) -> None:
        """Write all rows through a temporary file and a rename (call under the lock)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(prefix=self.path.name, suffix=".tmp",
                                       dir=self.path.parent)
        try:
            with os.fdopen(handle, "w") as out:
                json.dump(self.rows, out, indent=1, default=str)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def add(self, **fields) -> int:
        """Append a run and save; returns its run number (unique across kernels)."""
        with _locked(self.path):
            self.rows = self._read()  # rows other kernels added meanwhile
            run = max((r.get("run") or 0 for r in self.rows), default=0) + 1
            row = {c: None for c in COLUMNS}
            row.update(fields, run=run, status=fields.get("status", "running"),
                       started=_dt.datetime.now().isoformat(timespec="seconds"))
            self.rows.append(row)
            self.save()
        return run

    def update(self, run: int, **fields) -> None:
        """Change fields of a run and save."""
        with _locked(self.path):
            mine = next((r for r in self.rows if r.get("run") == run), None)
            self.rows = self._read()
            row = next((r for r in self.rows if r.get("run") == run), None)
            if row is None and mine is None:
                raise KeyError(f"run {run} is not in {self.path}")
            if row is None:  # cleared by another kernel while this run went on
                row = mine
                self.rows.append(row)
            row.update(fields)
            self.save()

    def clear(self) -> None:
        """Forget all runs (the file is rewritten empty)."""
        with _locked(self.path):
            self.rows = []
            self.save()

    def __len__(self) -> int:
        return len(self.rows)

    def frame(self):
        """The runs as a pandas DataFrame (columns in COLUMNS order)."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=COLUMNS)

    def _repr_html_(self) -> str:
        if not self.rows:
            return f"<p><i>No runs yet ({html.escape(self.path.name)}).</i></p>"
        shown = self.frame().drop(columns=["started"])
        return shown.to_html(index=False, float_format=lambda v: f"{v:.4g}",
                             na_rep="", classes="tlh-runlog-table")

    def __repr__(self) -> str:
        return self.frame().to_string(index=False) if self.rows else "RunLog(empty)"
