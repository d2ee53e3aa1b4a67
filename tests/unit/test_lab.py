"""`make lab`: the JupyterLab command, as root or not, with or without a display."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tlhelpers.cli import UsageError, lab
from tlhelpers.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[2]
HEADLESS = {"PATH": "/usr/bin"}
DESKTOP = {"DISPLAY": ":0"}


def test_root_gets_allow_root_and_a_note():
    argv = lab.build_argv(uid=0, env=DESKTOP, system="Linux")
    assert "--allow-root" in argv
    assert any("--allow-root" in line and "root" in line for line in lab.notes(argv))
    user = lab.build_argv(uid=1000, env=DESKTOP, system="Linux")
    assert "--allow-root" not in user and lab.notes(user) == []


def test_no_display_means_no_browser_and_a_note_about_the_token():
    argv = lab.build_argv(uid=1000, env=HEADLESS, system="Linux")
    assert "--no-browser" in argv
    assert any("token" in line for line in lab.notes(argv))
    for env in (DESKTOP, {"WAYLAND_DISPLAY": "wayland-0"}, {"BROWSER": "firefox"}):
        assert "--no-browser" not in lab.build_argv(uid=1000, env=env, system="Linux")
    # macOS opens a browser without DISPLAY.
    assert "--no-browser" not in lab.build_argv(uid=1000, env=HEADLESS, system="Darwin")


def test_port_and_ip_pass_through_and_nothing_else_overrides_user_settings():
    argv = lab.build_argv(8899, "0.0.0.0", uid=1000, env=DESKTOP, system="Linux",
                          python="py", notebooks=ROOT / "notebooks")
    assert argv == ["py", "-m", "jupyterlab", "--ServerApp.port=8899",
                    "--ServerApp.port_retries=0", "--ServerApp.ip=0.0.0.0",
                    str(ROOT / "notebooks")]
    bare = lab.build_argv(uid=1000, env=DESKTOP, system="Linux", python="py",
                          notebooks=ROOT / "notebooks")
    assert bare == ["py", "-m", "jupyterlab", str(ROOT / "notebooks")]


def test_bad_port_is_a_usage_error(capsys):
    assert lab.parse_port(None) is None and lab.parse_port("8899") == 8899
    for text in ("abc", "0", "70000", "-1"):
        with pytest.raises(UsageError, match="--port"):
            lab.parse_port(text)
    assert cli_main(["lab", "--port", "http"]) == 2
    assert "1..65535" in capsys.readouterr().err


def test_makefile_lab_runs_the_subcommand_and_passes_port_and_ip_only_when_set():
    if shutil.which("make") is None:
        pytest.skip("make is not installed")

    def recipe(*assignments: str) -> str:
        # --no-print-directory: under `make test` this is a sub-make, which
        # would print "Entering directory" lines around the recipe.
        done = subprocess.run(["make", "-n", "--no-print-directory", "-o", "bootstrap",
                               "lab", *assignments],
                              cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    env_free = recipe("PORT=", "IP=")
    assert env_free.endswith("-m tlhelpers lab") and "--port" not in env_free
    both = recipe("PORT=8899", "IP=0.0.0.0")
    assert both.endswith("-m tlhelpers lab --port 8899 --ip 0.0.0.0")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies waiting for a reaper do not)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the whole group (make and JupyterLab), SIGKILL what is left after 15 s."""
    for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if proc.poll() is not None and not group_alive(proc.pid):
                return
            time.sleep(0.2)
    assert not group_alive(proc.pid), f"processes of group {proc.pid} survived SIGKILL"


@pytest.mark.skipif(os.name != "posix", reason="process groups are POSIX")
def test_make_lab_serves_and_prints_the_url_with_its_token(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("no .venv: run `make bootstrap` first")
    port = free_port()
    # The user's Jupyter settings stay untouched: server files go to a temp folder.
    env = {key: value for key, value in os.environ.items()
           if key not in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER", "PORT", "IP")}
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "config")
    log_path = tmp_path / "lab.log"
    started = time.monotonic()
    with open(log_path, "w") as log:
        # `-o bootstrap`: never reinstall .venv from a test (it is a no-op when
        # .venv is current, but pyproject.toml may be mid-edit).
        proc = subprocess.Popen(["make", "-s", "-o", "bootstrap", "lab", f"PORT={port}"],
                                cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        pattern = re.compile(rf"http://127\.0\.0\.1:{port}/lab\?token=([0-9a-f]+)")
        answered, output = None, ""
        while time.monotonic() - started < 60 and proc.poll() is None:
            output = log_path.read_text(errors="replace")
            match = pattern.search(output)
            if match:
                url = f"http://127.0.0.1:{port}/api/status?token={match.group(1)}"
                try:
                    with urllib.request.urlopen(url, timeout=2) as reply:
                        if reply.status == 200:
                            answered = time.monotonic() - started
                            break
                except (urllib.error.URLError, OSError):
                    pass
            time.sleep(0.25)
        output = log_path.read_text(errors="replace")
        assert answered is not None, (
            f"JupyterLab did not answer on port {port} within 60 s "
            f"(exit code {proc.poll()}); its output:\n{output[-3000:]}")
        print(f"JupyterLab answered on port {port} after {answered:.1f} s")
        assert pattern.search(output), output[-3000:]
        assert "No display" in output and "token" in output
        if os.geteuid() == 0:
            assert "Running as root (user id 0): starting JupyterLab with --allow-root." \
                in output
        assert "Running as root is not recommended" not in output
    finally:
        stop_group(proc)
    assert not group_alive(proc.pid)
