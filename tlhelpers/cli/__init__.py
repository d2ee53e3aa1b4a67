"""Command line: `python -m tlhelpers COMMAND`, one module per command.

Commands: doctor, prefetch, check-data, run, bench, course, lab, predict, site.

Taught in `00_setup_and_data.ipynb` and the site's command pages. Exit codes: 0 success,
1 the task could not be done (the message says why and how to fix it),
2 a usage error (an option's value is out of range: the message names it).
"""

from __future__ import annotations

import argparse
import sys

COMMANDS = {
    "doctor": ("doctor", "check the environment, data and weights; print fixes"),
    "prefetch": ("prefetch", "download datasets and weights for offline machines"),
    "check-data": ("check_data", "scan an image folder: good and bad files"),
    "run": ("run", "run a strategy of the course end to end"),
    "bench": ("bench", "measure the caches and the input pipeline"),
    "course": ("course", "run every notebook headless and report"),
    "lab": ("lab", "start JupyterLab on the notebooks (as root, or with no display)"),
    "predict": ("predict", "classify photos with a saved .keras model"),
    "site": ("site", "build the course site from a course run's executed copies"),
}


class UsageError(Exception):
    """A bad option value: printed with the option's name, exit code 2."""


def shown(text) -> str:
    """Text for a terminal: file names that are not UTF-8 and escape codes made harmless.

    `data.scan.shown`, imported when needed: the quick commands load no data code.
    """
    from ..data.scan import shown as _shown

    return _shown(text)


def json_text(value) -> str:
    """One line of JSON that is valid UTF-8, whatever the file names on disk hold.

    A name that is not UTF-8 (`caf\xe9.jpg`) reaches Python as a lone
    surrogate, which no UTF-8 writer accepts: it is written as U+FFFD.
    """
    import json

    def valid(item):
        if isinstance(item, str):
            return item.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        if isinstance(item, dict):
            return {valid(k): valid(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [valid(v) for v in item]
        return item

    return json.dumps(valid(value), ensure_ascii=False)


def quiet_tensorflow() -> None:
    """TensorFlow's C++ start-up logs would bury the command's own output.

    As `tlh.setup()` does in a notebook, before TensorFlow loads: the quiet
    start, and oneDNN's rewrites on (off for `TLH_CPU_REPLICAS`, which `run`
    trains under). Kernels that `course` starts inherit the log level;
    `TLH_TF_LOGS=1` keeps the logs everywhere.
    """
    from .. import distribute

    distribute.prepare_environment()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tlhelpers",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    import importlib

    for name, (module, help_text) in COMMANDS.items():
        if name == "bench":
            sub.add_parser(name, help=help_text, add_help=False)
            continue
        mod = importlib.import_module(f".{module}", __name__)
        mod.add_arguments(sub.add_parser(name, help=help_text,
                                         description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse and dispatch; never lets a traceback reach the user for known errors."""
    quiet_tensorflow()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench":
        from .. import bench
        return bench.main(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    import importlib

    module = importlib.import_module(f".{COMMANDS[args.command][0]}", __name__)
    try:
        return int(module.execute(args) or 0)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        # A read-only or full TLH_HOME, a folder that cannot be read: the
        # message names the folder and the fix; a traceback would bury it.
        print(f"error: {shown(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
