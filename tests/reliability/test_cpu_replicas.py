"""TLH_CPU_REPLICAS in `run` and `doctor`: used when valid, a setting to fix when not.

`run` gets a fresh process: the CPU can be split only before TensorFlow starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import imagefactory

from tlhelpers.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run_command(folder, replicas: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tlhelpers", "run", "feature-extraction", "--data",
         str(folder), "--profile", "quick", "--image-size", "32", "--epochs", "1",
         "--weights", "random", "--no-flip", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "TLH_CPU_REPLICAS": replicas})


def test_run_trains_under_the_replicas_asked_for(tmp_path):
    folder = imagefactory.make_folder(tmp_path / "d", ("red", "blue"), per_class=6,
                                      layout="split", val_per_class=3)
    done = run_command(folder, "2")
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["replicas"] == "MirroredStrategy, 2 replicas"
    assert 0.0 <= summary["val_accuracy"] <= 1.0


def test_run_with_a_bad_value_is_a_usage_error(tmp_path, monkeypatch, capsys):
    folder = imagefactory.make_folder(tmp_path / "d", ("red", "blue"), per_class=3)
    monkeypatch.setenv("TLH_CPU_REPLICAS", "lots")
    status = main(["run", "scratch", "--data", str(folder), "--profile", "quick"])
    assert status == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("error:") == 1 and "TLH_CPU_REPLICAS='lots'" in err


def test_doctor_names_the_setting_not_a_reinstall(monkeypatch, capsys, offline):
    monkeypatch.setenv("TLH_CPU_REPLICAS", "lots")
    assert main(["doctor", "--timeout", "0.1"]) == 1
    out = capsys.readouterr().out
    device = [line for line in out.splitlines() if "device" in line][0]
    fix = out.splitlines()[out.splitlines().index(device) + 1]
    assert "TLH_CPU_REPLICAS='lots'" in device
    assert "fix:" in fix and "TLH_CPU_REPLICAS" in fix and "reinstall" not in fix
