"""bench/onednn_rewrites.py: alternating settings, medians, ratios and the record.

The measurements themselves run VGG16 in fresh interpreters (the record is in
bench/results/); here a fake child stands in for them.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from benchscript import bench_script


@pytest.fixture(scope="module")
def script():
    with bench_script("onednn_rewrites") as module:
        yield module


def fake_run(setting: str, pass_speed: float, epoch: float) -> dict:
    return {"onednn_env": setting, "rewrites_on": setting == "1", "pass_photos": 256,
            "pass_seconds": round(256 / pass_speed, 2),
            "pass_photos_per_second": pass_speed, "epoch_rows": 640,
            "validation_rows": 387, "epoch_seconds": epoch}


def test_the_summary_takes_medians_per_setting_and_their_ratios(script):
    runs = [fake_run("1", 12.0, 22.0), fake_run("0", 9.0, 43.0),
            fake_run("0", 10.0, 28.0), fake_run("1", 13.0, 24.0),
            fake_run("1", 12.5, 21.0), fake_run("0", 9.5, 44.0)]
    found = script.summary(runs)
    assert found["1"]["median_pass_photos_per_second"] == 12.5
    assert found["0"]["median_epoch_seconds"] == 43.0
    assert found["1"]["rewrites_on"] == [True] and found["0"]["rewrites_on"] == [False]
    assert found["on_over_off"] == {"pass_speed": round(12.5 / 9.5, 3),
                                    "epoch_speed": round(43.0 / 22.0, 3)}


def test_the_largest_difference_is_relative_to_the_largest_activation(script, tmp_path):
    off = np.array([[0.0, 2.0], [4.0, 1.0]], np.float32)
    on = off + np.array([[0.0, 0.01], [-0.02, 0.0]], np.float32)
    kept = {"1": tmp_path / "on.npy", "0": tmp_path / "off.npy"}
    np.save(kept["1"], on)
    np.save(kept["0"], off)
    same = script.largest_difference(kept)
    assert same["rows"] == 2 and same["scale"] == 4.0
    assert same["max_abs_diff"] == pytest.approx(0.02, rel=1e-4)
    assert same["relative"] == pytest.approx(0.005, rel=1e-4)


def test_main_alternates_the_settings_and_writes_the_record(script, tmp_path,
                                                            monkeypatch):
    order = []

    def child(setting, args, keep):
        order.append(setting)
        np.save(keep, np.full((2, 3), 1.0 if setting == "0" else 1.001, np.float32))
        return fake_run(setting, 12.0 if setting == "1" else 9.0,
                        22.0 if setting == "1" else 43.0)

    monkeypatch.setattr(script, "measure_in_child", child)
    record = tmp_path / "record.json"
    assert script.main(["--repeats", "2", "--record", str(record)]) == 0
    assert order == ["1", "0", "0", "1"]
    written = json.loads(record.read_text())
    assert [r["repeat"] for r in written["runs"]] == [1, 1, 2, 2]
    assert written["on_over_off"]["epoch_speed"] == round(43.0 / 22.0, 3)
    assert written["activations_compared"]["relative"] == pytest.approx(0.001, rel=1e-3)
    # The parent's own oneDNN state is not the runs': each run records its own.
    assert not any(key.startswith("onednn") for key in written["machine"])


def test_a_failed_child_stops_with_its_error(script, tmp_path, monkeypatch):
    def failed(*args, **kwargs):
        return subprocess.CompletedProcess(args, 1, "", "AbortedError: no primitive")

    monkeypatch.setattr(script.subprocess, "run", failed)
    args = script.parse_args(["--photos", "8", "--rows", "16"])
    with pytest.raises(RuntimeError, match="TF_ENABLE_ONEDNN_OPTS=0 failed"):
        script.measure_in_child("0", args, tmp_path / "x.npy")
