"""bench/full_run_seeds.py: what it passes to `run`, and the record it keeps of each seed."""

from __future__ import annotations

import json

import pytest
from benchscript import bench_script


@pytest.fixture(scope="module")
def seeds_script():
    with bench_script("full_run_seeds") as module:
        yield module


def fake_run(results):
    """A runner that answers for each seed from `results` instead of training."""
    calls = []

    def runner(run_args, seed):
        calls.append((list(run_args), seed))
        test, head = results[seed]
        if test is None:
            return {"returncode": 3, "stdout": "", "wall_seconds": 4.0,
                    "stderr": "Traceback ...\nOSError: no space left on device"}
        summary = {"test_accuracy": test, "head_test_accuracy": head, "seconds": 600.0}
        printed = f"fine-tuning: test accuracy {test:.3f} (head phase {head:.3f})"
        return {"returncode": 0, "stdout": f"epoch 1\n{printed}\n{json.dumps(summary)}\n",
                "stderr": "", "wall_seconds": 612.5}
    runner.calls = calls
    return runner


def test_the_run_options_pass_through_and_seed_and_json_are_the_scripts(seeds_script, capsys):
    args = seeds_script.parse_args(["--out", "r.json", "--seeds", "2,3", "--",
                                    "fine-tuning", "--profile", "full", "--no-flip"])
    assert args.seeds == [2, 3]
    assert args.run_args == ["fine-tuning", "--profile", "full", "--no-flip"]
    assert seeds_script.command(args.run_args, 2)[-3:] == ["--seed", "2", "--json"]
    for own in (["--seed", "5"], ["--json"], ["--seed=5"]):
        with pytest.raises(SystemExit):
            seeds_script.parse_args(["--out", "r.json", "--", "fine-tuning", *own])
        assert "this script sets --seed and --json" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        seeds_script.parse_args(["--out", "r.json", "--", "--profile", "full"])
    assert "name the strategy" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        seeds_script.parse_args(["--out", "r.json", "--seeds", "1,two", "--", "scratch"])
    assert "--seeds '1,two'" in capsys.readouterr().err


def test_an_absolute_data_path_is_recorded_from_the_projects_root(seeds_script):
    inside = str(seeds_script.ROOT / "data" / "flowers-small")
    beside = str(seeds_script.ROOT.parent / "shared" / "datasets" / "tf_flowers_full")
    args = seeds_script.parse_args(["--out", "r.json", "--", "fine-tuning",
                                    "--data", inside, "--data", beside])
    assert args.run_args == ["fine-tuning", "--data", "data/flowers-small",
                             "--data", "../shared/datasets/tf_flowers_full"]


def test_each_seed_runs_once_and_the_record_keeps_every_run(seeds_script, tmp_path,
                                                            capsys):
    runner = fake_run({1: (0.891, 0.826), 2: (0.909, 0.818)})
    out = tmp_path / "record.json"
    code = seeds_script.main(["--out", str(out), "--seeds", "1,2", "--note", "alone",
                              "--", "fine-tuning", "--profile", "full"], runner=runner)
    assert code == 0
    assert runner.calls == [(["fine-tuning", "--profile", "full"], 1),
                            (["fine-tuning", "--profile", "full"], 2)]
    record = json.loads(out.read_text())
    assert record["note"] == "alone" and record["seeds"] == [1, 2]
    assert [r["seed"] for r in record["runs"]] == [1, 2]
    first = record["runs"][0]
    assert first["command"] == ("TLH_HOME=<empty> python -m tlhelpers run fine-tuning "
                                "--profile full --seed 1 --json")
    assert first["printed"].startswith("fine-tuning: test accuracy 0.891")
    assert first["wall_seconds"] == 612.5 and len(first["load_average_1min"]) == 2
    assert record["summary"]["test_accuracy"] == [0.891, 0.909]
    assert record["summary"]["mean_test_accuracy"] == pytest.approx(0.9)
    assert record["summary"]["min_test_accuracy"] == 0.891
    assert "seed 2: test 0.909" in capsys.readouterr().out


def test_a_failed_run_stops_the_seeds_and_keeps_the_runs_before_it(seeds_script, tmp_path,
                                                                    capsys):
    runner = fake_run({1: (0.9, 0.8), 2: (None, None), 3: (0.9, 0.8)})
    out = tmp_path / "record.json"
    code = seeds_script.main(["--out", str(out), "--", "fine-tuning"], runner=runner)
    assert code == 1
    assert [seed for _, seed in runner.calls] == [1, 2]  # seed 3 never started
    record = json.loads(out.read_text())
    assert [r["status"] for r in record["runs"]] == ["done", "failed"]
    assert record["runs"][1]["exit_code"] == 3
    assert "no space left on device" in record["runs"][1]["error"]
    assert record["summary"]["runs_done"] == 1 and record["summary"]["runs_failed"] == 1
    assert "seed 2: failed (exit 3)" in capsys.readouterr().err


def test_a_run_on_a_shared_machine_is_marked(seeds_script):
    outcome = {"returncode": 0, "stderr": "", "wall_seconds": 1.0,
               "stdout": 'line\n{"test_accuracy": 0.9}\n'}
    alone = seeds_script.run_entry(["scratch"], 1, outcome, [0.3, 2.1], cores=2)
    shared = seeds_script.run_entry(["scratch"], 1, outcome, [3.4, 4.0], cores=2)
    assert not alone["shared_machine"] and shared["shared_machine"]
