"""The package as `pip install .` or a wheel ships it, not as the checkout has it.

Every documented path installs with `-e`, which reads the checkout and hides a
wheel that lacks subpackages (`packages = ["tlhelpers"]` once shipped only the
top-level modules). Here a wheel is built from the repository, installed with
its dependencies into a fresh virtual environment, and used from outside the
checkout: every submodule imports, `doctor` and `tlh --help` run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tlhelpers import config

ROOT = config.PROJECT_ROOT

IMPORT_ALL = """
import importlib, pkgutil, sys, tlhelpers
print(tlhelpers.__file__)
names = [m.name for m in pkgutil.walk_packages(tlhelpers.__path__, "tlhelpers.")
         if not m.name.endswith("__main__")]  # importing those runs a command
for name in names:
    importlib.import_module(name)
print(len(names), "modules")
"""


def run(argv, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=900,
                          **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                str(ROOT), "-w", str(out)])
    assert done.returncode == 0, done.stderr[-3000:]
    (path,) = out.glob("tlhelpers-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel and its dependencies."""
    env_dir = tmp_path_factory.mktemp("fresh") / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    done = run([str(python), "-m", "pip", "install", "-q",
                f"{wheel}[offline-weights]"])
    assert done.returncode == 0, done.stderr[-3000:]
    return env_dir


def test_the_wheel_holds_every_module(wheel):
    in_wheel = {name for name in zipfile.ZipFile(wheel).namelist()
                if name.startswith("tlhelpers/") and name.endswith(".py")}
    in_checkout = {path.relative_to(ROOT).as_posix()
                   for path in (ROOT / "tlhelpers").rglob("*.py")}
    assert in_checkout - in_wheel == set()


@pytest.mark.slow
def test_a_fresh_environment_imports_every_module_and_runs_the_commands(
        installed, tmp_path):
    python, tlh = installed / "bin" / "python", installed / "bin" / "tlh"
    # Outside the checkout, so that nothing can be imported from it.
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "TLH_PROFILE", "VIRTUAL_ENV")}
    env.update(TLH_HOME=str(tmp_path / "home"),
               TLH_DATASET=str(ROOT / "data" / "flowers-small"))
    done = run([str(python), "-c", IMPORT_ALL], cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    where, count = done.stdout.splitlines()[:2]
    assert where.startswith(str(installed)), where
    assert int(count.split()[0]) >= 40, count

    done = run([str(python), "-m", "tlhelpers", "doctor", "--timeout", "1"],
               cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "The course can run here" in done.stdout, done.stdout

    done = run([str(tlh), "--help"], cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    for command in ("doctor", "run", "predict", "course", "bench"):
        assert command in done.stdout, done.stdout
