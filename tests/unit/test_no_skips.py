"""Under TLH_NO_SKIPS=1 (CI) a skipped test fails the run and is named."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("no_skips, code", [("1", 1), ("", 0)])
def test_a_skip_fails_the_run_only_under_no_skips(tmp_path, no_skips, code):
    for name in ("conftest.py", "imagefactory.py"):
        shutil.copy(TESTS / name, tmp_path / name)
    (tmp_path / "test_some.py").write_text(
        "import pytest\n"
        "def test_runs():\n    pass\n"
        "def test_cannot_run_here():\n    pytest.skip('chromium missing')\n")
    env = {**os.environ, "TLH_NO_SKIPS": no_skips}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p",
                           "no:cacheprovider", str(tmp_path)], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == code, done.stdout
    named = "test_some.py::test_cannot_run_here: Skipped: chromium missing"
    assert (named in done.stdout) == (code == 1), done.stdout
