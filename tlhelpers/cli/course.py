"""`course`: run every notebook headless; report seconds, peak memory and status.

Used by `make course`. Executed copies and HTML go to `build/course/`; any
failing notebook makes the command exit 1.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import threading
import time
from pathlib import Path

from .. import config


def add_arguments(parser) -> None:
    parser.add_argument("--notebooks", default=str(config.PROJECT_ROOT / "notebooks"),
                        help="folder of notebooks, or one notebook")
    parser.add_argument("--out", default=str(config.PROJECT_ROOT / "build" / "course"),
                        help="where executed copies and HTML go")
    parser.add_argument("--timeout", type=int, default=1800,
                        help="seconds allowed for one cell (default 1800)")
    parser.add_argument("--only", default="",
                        help="comma-separated notebook number prefixes, e.g. 00,03")
    parser.add_argument("--changed", action="store_true",
                        help="only the notebooks whose executed copy in --out is missing, "
                             "failed, or older than the notebook (as `make site` runs it)")
    parser.add_argument("--record", default="",
                        help="also write the measurements to this JSON file: per "
                             "notebook seconds, peak memory, status and the runs "
                             "it added to the run logs (bench/results/)")


def high_water_mark(pid: int) -> int:
    """The peak resident memory of a live process in bytes (VmHWM); 0 where unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # given in kB
    except (OSError, ValueError, IndexError):  # not Linux, or the process ended
        pass
    return 0


class PeakMemory:
    """The largest resident memory of the children this process starts while open.

    The kernel runs in a child process. Children alive before opening (another
    notebook's kernel, a server a caller started) are left out of the figure.
    Where Linux keeps each process's own peak (VmHWM) it counts too, so a peak
    between two samples is not missed;
    the children's sum is sampled every `interval` seconds, so the figure is
    a lower bound.
    """

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._before: set[int] = set()

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                if child.pid in self._before:
                    continue
                try:
                    total += child.memory_info().rss
                except psutil.Error:  # ended between listing and reading
                    continue
                self.peak_bytes = max(self.peak_bytes, high_water_mark(child.pid))
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        import psutil

        self._before = {child.pid for child in psutil.Process().children(recursive=True)}
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2 ** 20


# JupyterLab's look, with each solution folded under its exercise as in the lab.
SOLUTIONS_FOLDED = """{%- extends 'lab/index.html.j2' -%}
{% block any_cell %}
{%- if 'solution' in cell.metadata.get('tags', []) -%}
<details class="solution"><summary>Solution (open it after trying the exercise)</summary>
{{ super() }}
</details>
{%- else -%}
{{ super() }}
{%- endif -%}
{% endblock any_cell %}
"""


def notebook_html(nb) -> str:
    """The HTML copy of an executed notebook, its solutions collapsed."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(extra_loaders=[DictLoader({"course.html.j2": SOLUTIONS_FOLDED})],
                            template_file="course.html.j2")
    return exporter.from_notebook_node(nb)[0]


def run_notebook(path: Path, out: Path, timeout: int) -> tuple[float, str]:
    """Execute one notebook; save the executed copy and its HTML."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor
    from traitlets.config import Config

    nb = nbformat.read(path, as_version=4)
    # Encrypted when the kernel can do it: ipykernel 7 otherwise prints a
    # warning about plain TCP for every notebook (both ends are on this machine).
    config = Config({"KernelManager": {"transport_encryption": "auto"}})
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            config=config)
    started = time.perf_counter()
    status = "ok"
    try:
        client.execute()
    except CellExecutionError as err:
        first = str(err).strip().splitlines()
        status = "FAILED: " + (first[-1] if first else "cell error")[:120]
    except Exception as err:  # a dead kernel or timeout is a failed notebook too
        status = f"FAILED: {type(err).__name__}: {err}"[:140]
    seconds = time.perf_counter() - started
    # A progress bar is one stream write per update: merged, each output
    # keeps only what a terminal or JupyterLab shows last (the finished bar).
    nb, _ = CoalesceStreamsPreprocessor().preprocess(nb, {})
    out.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out / path.name)
    (out / path.with_suffix(".html").name).write_text(notebook_html(nb), encoding="utf-8")
    return seconds, status


def execute(args) -> int:
    source = Path(args.notebooks)
    notebooks = [source] if source.is_file() else sorted(source.glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        prefixes = tuple(p.strip() for p in args.only.split(",") if p.strip())
        notebooks = [nb for nb in notebooks if nb.name.startswith(prefixes)]
    if not notebooks:
        print(f"no notebooks found in {source}", file=sys.stderr)
        return 1
    if args.changed:
        from ..coursesite.pages import copy_problem

        notebooks = [nb for nb in notebooks if copy_problem(nb, Path(args.out) / nb.name)]
        if not notebooks:
            print(f"every executed copy in {args.out} is current: nothing to run")
            return 0
    profile = config.get_profile()
    out = Path(args.out)
    print(f"Running {len(notebooks)} notebook(s) under the {profile.name} profile; "
          f"executed copies in {out}")
    rows, windows = [], []
    home_was_empty = not any(config.home().glob("*/*"))
    for nb in notebooks:
        started = dt.datetime.now().replace(microsecond=0)
        with PeakMemory() as memory:
            seconds, status = run_notebook(nb, out, args.timeout)
        rows.append((nb.name, seconds, memory.peak_mb, status))
        windows.append((started, dt.datetime.now()))
        print(f"  {nb.name:<36} {seconds:7.1f} s  {memory.peak_mb:6.0f} MB  {status}",
              flush=True)
    total = sum(r[1] for r in rows)
    print("\n| notebook | seconds | peak memory (MB) | status |\n|---|---:|---:|---|")
    for name, seconds, peak, status in rows:
        print(f"| {name} | {seconds:.0f} | {peak:.0f} | {status} |")
    print(f"| total | {total:.0f} | {max(r[2] for r in rows):.0f} | |")
    if args.record:
        write_record(Path(args.record), profile.name, rows, windows, home_was_empty)
        print(f"measurements written to {args.record}")
    return 0 if all(r[3] == "ok" for r in rows) else 1


# A run-log row's fields that place it (when, which process) rather than
# describe the run: the record keeps the rest.
BOOKKEEPING = ("started", "host", "pid")


def logged_runs(windows) -> list[list[dict]]:
    """For each (started, ended) window, the run-log rows under TLH_HOME that started in it.

    Times are whole seconds, so a row logged as one notebook ended can fall
    in the next one's first second too: it goes to the first window only.
    """
    found = [[] for _ in windows]
    for path in sorted((config.home() / "runs").glob("*.json")):
        if path.name.endswith(".broken.json"):
            continue
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # unreadable, not UTF-8, not JSON
            continue
        for row in rows if isinstance(rows, list) else []:
            if not isinstance(row, dict):
                continue  # a log of another shape: the run log moves it aside
            try:
                when = dt.datetime.fromisoformat(str(row.get("started")))
            except ValueError:
                continue
            for runs, (started, ended) in zip(found, windows):
                if started <= when <= ended:
                    runs.append({"log": path.stem, **{
                        k: v for k, v in row.items()
                        if k not in BOOKKEEPING and v is not None}})
                    break
    return found


def write_record(path: Path, profile: str, rows, windows, home_was_empty: bool) -> None:
    """The course's measurements as JSON, with the machine and the data they ran on."""
    from ..bench.machine import machine_info

    dataset = os.environ.get(config.DATASET_ENV, "")
    record = {
        "date": dt.date.today().isoformat(),
        "what": "python -m tlhelpers course",
        "profile": profile,
        # The folder's name only: a machine's paths mean nothing elsewhere.
        "dataset": Path(dataset).name if dataset else "the profile's default",
        "tlh_home": "empty at the start" if home_was_empty else "already filled",
        "machine": machine_info(),
        "total_seconds": round(sum(r[1] for r in rows), 1),
        "notebooks": [
            {"notebook": name, "seconds": round(seconds, 1),
             "peak_memory_mb": round(peak), "status": status, "runs": runs}
            for (name, seconds, peak, status), runs in zip(rows, logged_runs(windows))],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")

