"""`python -m tlhelpers run`: each strategy succeeds on a tiny folder; an interrupt
in the first epoch is reported, not a crash.

In-process (TensorFlow is already imported), with random weights at 32x32.
"""

from __future__ import annotations

import json
import re

import imagefactory
import keras  # noqa: E402
import pytest

from tlhelpers.cli import main  # noqa: E402

FAST = ["--profile", "quick", "--image-size", "32", "--epochs", "1"]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TLH_PROFILE", "quick")  # `run --profile` sets it
    return imagefactory.make_folder(tmp_path / "d", ("red", "blue"), per_class=6,
                                    layout="split", val_per_class=3)


def summary_of(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_run_scratch_succeeds(folder, capsys):
    assert main(["run", "scratch", "--data", str(folder), *FAST, "--json"]) == 0
    out = capsys.readouterr().out
    summary = summary_of(out)
    assert summary["strategy"] == "scratch" and summary["backbone"] == "small_cnn"
    assert summary["weights"] == "none" and summary["epochs"] == 1
    # val/ (3 per class) is cut in two: validation picks, test grades.
    assert summary["train_images"] == 12
    assert summary["val_images"] + summary["test_images"] == 6
    assert summary["test_source"] == "held out"
    assert 0.0 <= summary["val_accuracy"] <= 1.0
    assert f"best validation accuracy {summary['val_accuracy']:.3f}" in out
    assert f"test accuracy {summary['test_accuracy']:.3f} on " \
        f"{summary['test_images']} held-out test photos" in out


def test_run_hides_keras_reminders_as_the_notebooks_do(folder):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # what a terminal would show
        assert main(["run", "scratch", "--data", str(folder), *FAST]) == 0
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if "shuffle=True" in m or "ran out of data" in m]


def test_run_fine_tuning_json(folder, capsys):
    status = main(["run", "fine-tuning", "--data", str(folder), *FAST,
                   "--weights", "random", "--unfreeze", "4", "--lr", "1e-4",
                   "--json"])
    assert status == 0
    summary = summary_of(capsys.readouterr().out)
    assert summary["strategy"] == "fine-tuning" and summary["backbone"] == "vgg16"
    assert summary["weights"] == "random"
    assert summary["epochs"] == 2  # one head epoch, one fine-tuning epoch
    assert summary["classes"] == ["blue", "red"]
    assert 0.0 <= summary["val_accuracy"] <= 1.0
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    assert 0.0 <= summary["head_test_accuracy"] <= 1.0
    assert summary["lr"] == 1e-4 and summary["image_size"] == 32
    assert summary["peak_memory_mb"] > 100  # TensorFlow alone takes more


def test_the_seed_changes_training_and_not_the_split(folder, capsys):
    """`--seed`: the three-seed measurements of the full profile come from it."""
    runs = []
    for seed in ("1", "2", "1"):
        assert main(["run", "feature-extraction", "--data", str(folder), *FAST,
                     "--weights", "random", "--seed", seed, "--json"]) == 0
        out = capsys.readouterr().out
        # Keras' epoch lines: "... loss: 0.6931 - val_accuracy: ..."
        runs.append((summary_of(out), re.findall(r"\bloss: ([0-9.]+)", out)))
    assert [run["seed"] for run, _ in runs] == [1, 2, 1]
    assert {run["test_images"] for run, _ in runs} == {runs[0][0]["test_images"]}
    first, other, again = (losses for _, losses in runs)
    assert first and first == again and first != other


def test_run_fine_tuning_uses_the_profiles_rate_by_default(folder, capsys):
    from tlhelpers import config

    assert main(["run", "fine-tuning", "--data", str(folder), *FAST,
                 "--weights", "random", "--json"]) == 0
    assert summary_of(capsys.readouterr().out)["lr"] == \
        config.get_profile("quick").fine_tune_lr


@pytest.fixture
def passes(monkeypatch, tmp_path):
    """(images, layers, view, precision) of every pass of the frozen base."""
    from tlhelpers import features

    monkeypatch.setenv("TLH_HOME", str(tmp_path / "home"))
    recorded = []
    real = features.compute_layers

    def recording(base, items, image_size, batch_size, layers, progress=True,
                  view=None, precision="float32"):
        recorded.append((len(items), list(layers), view, precision))
        return real(base, items, image_size, batch_size, layers, progress, view,
                    precision)

    monkeypatch.setattr(features, "compute_layers", recording)
    return recorded


def test_run_fine_tuning_runs_the_frozen_layers_once(folder, capsys, passes,
                                                     monkeypatch, tmp_path):
    argv = ["run", "fine-tuning", "--data", str(folder), *FAST, "--weights",
            "random", "--unfreeze", "4", "--precision", "float32", "--json"]
    assert main(argv) == 0
    # One pass of the base over the training photos, their mirror images, the
    # validation and the test photos (val/ cut in two), storing both the
    # head's input (the base's output) and block4_pool's from it.
    both = [None, "block4_pool"]
    assert [p[:3] for p in passes[:2]] == [(12, both, None), (12, both, "flip")]
    assert [p[1:3] for p in passes[2:]] == [(both, None)] * 2
    assert sum(p[0] for p in passes[2:]) == 6
    summary = summary_of(capsys.readouterr().out)
    assert summary["epochs"] == 2
    assert (summary["flip"], summary["precision"]) == (True, "float32")
    passes.clear()
    monkeypatch.setenv("TLH_HOME", str(tmp_path / "empty"))  # nothing stored
    assert main([*argv, "--no-flip"]) == 0
    assert [view for _, _, view, _ in passes] == [None, None, None]
    assert summary_of(capsys.readouterr().out)["flip"] is False


def test_run_feature_extraction_passes_as_notebook_02_does(folder, capsys, passes):
    argv = ["run", "feature-extraction", "--data", str(folder), *FAST,
            "--weights", "random", "--json"]
    assert main([*argv, "--precision", "bfloat16"]) == 0
    # The base's output of the training photos, their mirror images, the
    # validation and the test photos, in the precision asked for.
    assert passes[:2] == [(12, [None], None, "bfloat16"),
                          (12, [None], "flip", "bfloat16")]
    assert [p[1:] for p in passes[2:]] == [([None], None, "bfloat16")] * 2
    assert sum(p[0] for p in passes[2:]) == 6
    summary = summary_of(capsys.readouterr().out)
    assert (summary["flip"], summary["precision"]) == (True, "bfloat16")
    assert summary["epochs"] == 1 and "lr" not in summary
    passes.clear()
    assert main([*argv, "--no-flip", "--precision", "float32"]) == 0
    assert [view for _, _, view, _ in passes] == [None, None, None]
    assert summary_of(capsys.readouterr().out)["flip"] is False


@pytest.mark.parametrize("profile, given, flip", [
    ("quick", [], True), ("full", [], False),
    ("full", ["--flip"], True), ("quick", ["--no-flip"], False)])
def test_run_stores_the_profiles_views_unless_told(profile, given, flip,
                                                   monkeypatch):
    import argparse

    from tlhelpers import config
    from tlhelpers.cli import run

    # `--profile` sets TLH_PROFILE; monkeypatch puts it back afterwards.
    monkeypatch.setenv("TLH_PROFILE", "quick")
    parser = argparse.ArgumentParser()
    run.add_arguments(parser)
    opts = run.validate(parser.parse_args(["fine-tuning", "--profile", profile,
                                           *given]))
    assert opts["flip"] is flip
    assert opts["image_size"] == config.get_profile(profile).image_size


@pytest.mark.parametrize("option", [["--precision", "bfloat16"], ["--no-flip"],
                                    ["--flip"]])
def test_run_scratch_refuses_the_options_of_a_frozen_pass(option, folder, capsys):
    assert main(["run", "scratch", "--data", str(folder), *FAST, *option]) == 2
    err = capsys.readouterr().err
    assert option[0].lstrip("-").replace("no-", "") in err
    assert "feature-extraction and fine-tuning" in err


@pytest.mark.parametrize("strategy", ["scratch", "fine-tuning"])
def test_an_interrupt_in_the_first_epoch_is_reported(strategy, folder, capsys,
                                                     monkeypatch):
    calls = []

    def interrupted_fit(self, *args, **kwargs):
        calls.append(self.name)
        raise KeyboardInterrupt  # as Ctrl-C in the first batch

    monkeypatch.setattr(keras.Model, "fit", interrupted_fit)
    status = main(["run", strategy, "--data", str(folder), *FAST,
                   "--weights", "random", "--json"])
    out = capsys.readouterr().out
    assert status == 130
    assert "best validation accuracy n/a" in out and "interrupted" in out
    assert summary_of(out)["val_accuracy"] is None
    assert summary_of(out)["test_accuracy"] is None
    assert summary_of(out)["epochs"] == 0
    assert len(calls) == 1  # fine-tuning does not start after an interrupted head


def test_run_with_a_precision_the_cpu_cannot_run_exits_2_with_the_fix(
        folder, capsys, monkeypatch):
    from tlhelpers import features

    def pass_that_cannot_run(*args, **kwargs):
        with features.bfloat16_errors_explained():
            import tensorflow as tf
            raise tf.errors.AbortedError(None, None, "could not create a primitive "
                                         "descriptor for the convolution")

    monkeypatch.setattr(features, "extract", pass_that_cannot_run)
    status = main(["run", "feature-extraction", "--data", str(folder), *FAST,
                   "--weights", "random", "--precision", "bfloat16"])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "error: --precision bfloat16: this CPU cannot run" in err
    assert "--precision float32" in err and "Traceback" not in err
