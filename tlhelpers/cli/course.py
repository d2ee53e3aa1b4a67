"""`course`: run every notebook headless and report seconds and status per notebook.

Used by `make course`. Executed copies and HTML go to `build/course/`; any
failing notebook makes the command exit 1.
"""

from __future__ import annotations

import sys
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


def run_notebook(path: Path, out: Path, timeout: int) -> tuple[float, str]:
    """Execute one notebook; save the executed copy and its HTML."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from nbconvert import HTMLExporter

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
    out.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out / path.name)
    body, _ = HTMLExporter().from_notebook_node(nb)
    (out / path.with_suffix(".html").name).write_text(body, encoding="utf-8")
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
    profile = config.get_profile()
    out = Path(args.out)
    print(f"Running {len(notebooks)} notebook(s) under the {profile.name} profile; "
          f"executed copies in {out}")
    rows = []
    for nb in notebooks:
        seconds, status = run_notebook(nb, out, args.timeout)
        rows.append((nb.name, seconds, status))
        print(f"  {nb.name:<36} {seconds:7.1f} s  {status}", flush=True)
    total = sum(r[1] for r in rows)
    print(f"\n| notebook | seconds | status |\n|---|---:|---|")
    for name, seconds, status in rows:
        print(f"| {name} | {seconds:.0f} | {status} |")
    print(f"| total | {total:.0f} | |")
    return 0 if all(r[2] == "ok" for r in rows) else 1
