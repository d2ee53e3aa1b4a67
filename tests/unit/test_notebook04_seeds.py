"""bench/notebook04_seeds.py: its command line, and the leads it records per size."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from benchscript import bench_script


@pytest.fixture(scope="module")
def seeds_script():
    with bench_script("notebook04_seeds") as module:
        yield module


def test_the_command_keeps_the_options_but_not_the_output(seeds_script, capsys):
    args = seeds_script.parse_args(["--out", "r.json"])
    assert args.seeds == [1, 2, 3] and args.extraction_epochs is None
    assert seeds_script.command_line(args) == "bench/notebook04_seeds.py --seeds 1,2,3"
    args = seeds_script.parse_args(["--out", "r.json", "--seeds", "4",
                                    "--extraction-epochs", "5"])
    assert seeds_script.command_line(args) == (
        "bench/notebook04_seeds.py --seeds 4 --extraction-epochs 5")
    for bad in (["--seeds", "1,x"], ["--extraction-epochs", "0"]):
        with pytest.raises(SystemExit):
            seeds_script.parse_args(["--out", "r.json", *bad])
    assert "--extraction-epochs must be at least 1" in capsys.readouterr().err


def test_both_leads_are_taken_from_the_comparison(seeds_script):
    frame = pd.DataFrame([
        {"strategy": "scratch", "images_per_class": 5, "test_accuracy": 0.30,
         "start_test_accuracy": float("nan"), "seconds": 2.0},
        {"strategy": "feature-extraction", "images_per_class": 5,
         "test_accuracy": 0.60, "start_test_accuracy": float("nan"), "seconds": 1.0},
        {"strategy": "fine-tuning", "images_per_class": 5, "test_accuracy": 0.58,
         "start_test_accuracy": 0.55, "seconds": 9.0}])
    size = seeds_script.leads_by_size(frame, n_test=400)["5"]
    assert size["lead_over_extraction"] == pytest.approx(-0.02)
    assert size["lead_over_its_start"] == pytest.approx(0.03)
    assert size["noise"] == pytest.approx(2 * (0.6 * 0.4 / 400) ** 0.5, abs=1e-4)
    assert size["seconds"] == {"scratch": 2.0, "feature-extraction": 1.0,
                               "fine-tuning": 9.0}


def test_the_chart_is_redrawn_from_a_record_without_training(seeds_script, tmp_path,
                                                              capsys):
    size = {"noise": 0.05, "lead_over_extraction": -0.02, "lead_over_its_start": 0.03}
    record = {"sizes": [5, 30], "head_epochs": 5, "extraction_epochs": 8,
              "test_photos": 384,
              "runs": [{"seed": s, "by_size": {"5": size, "30": size}} for s in (1, 2)]}
    out = tmp_path / "record.json"
    out.write_text(json.dumps(record))
    chart = tmp_path / "leads.png"
    assert seeds_script.main(["--out", str(out), "--chart", str(chart), "--redraw"]) == 0
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit):
        seeds_script.parse_args(["--out", str(out), "--redraw"])
    assert "give --chart PNG" in capsys.readouterr().err
