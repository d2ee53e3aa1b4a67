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
from pathlib import Path

from .. import atomic, config

# "note" is what a notebook says about a run (its size, its phases); a log
# shown without it would leave the learner reading bare epoch counts.
COLUMNS = ["run", "strategy", "backbone", "weights", "n_unfrozen", "lr", "epochs",
           "epochs_done", "best_val_accuracy", "test_accuracy", "seconds", "status",
           "note", "started"]


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


def _shape_problem(rows) -> str | None:
    """What keeps `rows` (read from a log file) from being a run log, or None."""
    if not isinstance(rows, list):
        return f"a JSON {type(rows).__name__}, not a list of runs"
    for row in rows:
        if not isinstance(row, dict):
            return f"a list holding {type(row).__name__}, not runs"
        run = row.get("run")
        if isinstance(run, bool) or not isinstance(run, int):
            return f"run number {run!r} is not an integer"
    return None


def _free_name(path: Path) -> Path:
    """NAME.broken.json, else NAME.2.broken.json, ...: one no file has yet."""
    candidate, n = path.with_suffix(".broken.json"), 1
    while candidate.exists():
        n += 1
        candidate = path.with_suffix(f".{n}.broken.json")
    return candidate


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
            rows = json.loads(self.path.read_bytes().decode("utf-8"))
            problem = _shape_problem(rows)
        except UnicodeDecodeError:
            problem = "not UTF-8 text"
        except (OSError, ValueError) as err:  # ValueError: not JSON
            problem = str(err)
        if problem is None:
            for row in rows:
                # A run whose process was killed (or whose kernel died) is
                # not running any more; "pid" and "host" say whose it was.
                if row.get("status") == "running" and atomic.owner_gone(
                        row.get("host"), row.get("pid")):
                    row["status"] = "killed"
            return rows
        # Anything else is kept aside under a name of its own (a second
        # broken file must not replace the first one's copy), never overwritten.
        backup = _free_name(self.path)
        os.replace(self.path, backup)
        import warnings
        warnings.warn(f"run log {self.path} was unreadable ({problem}); moved to "
                      f"{backup.name} and started a new one", stacklevel=3)
        return []

    def save(self) -> None:
        """Write all rows through a temporary file and a rename (call under the lock)."""
        with atomic.replacing(self.path) as tmp:
            tmp.write_text(json.dumps(self.rows, indent=1, default=str),
                           encoding="utf-8")

    def add(self, **fields) -> int:
        """Append a run and save; returns its run number (unique across kernels)."""
        with _locked(self.path):
            self.rows = self._read()  # rows other kernels added meanwhile
            run = max((r.get("run") or 0 for r in self.rows), default=0) + 1
            row = {c: None for c in COLUMNS}
            row.update(fields, run=run, status=fields.get("status", "running"),
                       started=_dt.datetime.now().isoformat(timespec="seconds"),
                       host=atomic.host(), pid=os.getpid())
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
        shown = self._shown().drop(columns=["started"])
        return shown.to_html(index=False, float_format=_number, na_rep="",
                             classes="tlh-runlog-table")

    def __repr__(self) -> str:
        if not self.rows:
            return "RunLog(empty)"
        return self._shown().to_string(index=False, float_format=_number, na_rep="")

    def _shown(self):
        # Both views alike: a rate reads 5e-05 (not 0.00005), and a field a
        # run did not set stays blank (not NaN in one column, None in another).
        frame = self.frame()
        return frame.astype(object).where(frame.notna(), None).fillna(float("nan")) \
            .infer_objects()


def _number(value: float) -> str:
    return f"{value:.4g}"
