"""`lab`: start JupyterLab on the course's notebooks, as `make lab` does.

Taught in the README's Quick start. Adds only what the machine needs and
keeps the user's own Jupyter settings otherwise: `--allow-root` when the
user id is 0 (containers, cloud notebooks), `--no-browser` where no browser
can open (then the URL with its token, printed by JupyterLab, is the way
in), and the port and address a workshop asks for.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import subprocess
import sys
from pathlib import Path

from .. import config
from . import UsageError

NOTEBOOKS = config.PROJECT_ROOT / "notebooks"


def add_arguments(parser) -> None:
    parser.add_argument("--port", default=None,
                        help="port to serve on, e.g. 8899 (default: Jupyter's own, 8888)")
    parser.add_argument("--ip", default=None,
                        help="address to listen on; 0.0.0.0 serves other machines "
                             "(default: Jupyter's own, localhost)")


def browser_available(env: dict | None = None, system: str | None = None) -> bool:
    """Whether a browser can open here; taught in the README's Quick start."""
    env = os.environ if env is None else env
    system = platform.system() if system is None else system
    if system in ("Darwin", "Windows"):
        return True
    # Without a display Python's webbrowser falls back to a text browser
    # (www-browser, lynx) that takes over the terminal JupyterLab logs to.
    return any(env.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER"))


def build_argv(port: int | None = None, ip: str | None = None, *,
               uid: int | None = None, env: dict | None = None,
               system: str | None = None, python: str = sys.executable,
               notebooks: Path = NOTEBOOKS) -> list[str]:
    """The JupyterLab command `make lab` runs; taught in the README's Quick start."""
    if uid is None:
        uid = os.geteuid() if hasattr(os, "geteuid") else -1
    # The same interpreter as the course, so the kernel sees tlhelpers.
    argv = [python, "-m", "jupyterlab"]
    if port is not None:
        # An explicit port means that port: a busy one fails loudly instead of
        # moving to the next, which learners given the address would not find.
        argv += [f"--ServerApp.port={port}", "--ServerApp.port_retries=0"]
    if ip:
        argv.append(f"--ServerApp.ip={ip}")
    if not browser_available(env, system):
        argv.append("--no-browser")
    if uid == 0:
        argv.append("--allow-root")
    if Path(notebooks).is_dir():
        argv.append(str(notebooks))
    return argv


def notes(argv: list[str]) -> list[str]:
    """One line per option added for this machine, printed before JupyterLab starts."""
    lines = []
    if "--allow-root" in argv:
        lines.append("Running as root (user id 0): "
                     "starting JupyterLab with --allow-root.")
    if "--no-browser" in argv:
        lines.append("No display found: no browser will open; "
                     "copy the URL with ?token= printed below.")
    return lines


def parse_port(text: str | None) -> int | None:
    """`--port` as an integer in 1..65535, or None for Jupyter's default."""
    if text is None or text == "":
        return None
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise UsageError(f"--port={text!r} is not valid; expected an integer in "
                         f"1..65535, e.g. make lab PORT=8899")
    return port


def execute(args) -> int:
    port = parse_port(args.port)
    if importlib.util.find_spec("jupyterlab") is None:
        print(f"JupyterLab is not installed for {sys.executable}: run `make bootstrap` "
              "(or `pip install -e .`) in the course folder, then `make lab` again.",
              file=sys.stderr)
        return 1
    argv = build_argv(port, args.ip)
    for line in notes(argv):
        print(line)
    sys.stdout.flush()  # exec replaces the process: unflushed lines would be lost
    if os.name == "nt":
        return subprocess.call(argv)
    # Replace this process, so Ctrl-C and kill reach JupyterLab itself.
    os.execv(argv[0], argv)
    return 0  # not reached
