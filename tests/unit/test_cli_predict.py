"""`python -m tlhelpers predict`: a take-home file in a new process; exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import imagefactory
import keras
import numpy as np
import pytest
import tinymodel

from tlhelpers import config, models, predict
from tlhelpers.cli import main

NAMES = ["reddish", "bluish"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(model in memory, its take-home file, three photos) made once."""
    folder = tmp_path_factory.mktemp("take_home")
    keras.utils.set_random_seed(0)
    model, *_ = tinymodel.head_trained()
    path = predict.save_take_home(model, folder / "flowers.keras", NAMES)
    photos = [imagefactory.write_jpeg(folder / f"photo {i}.jpg", (40, 30), i)
              for i in range(3)]
    return model, path, photos


def test_predict_shows_no_start_up_logs(saved):
    _, path, photos = saved
    # As a terminal starts it: no log level chosen by the test suite.
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "TLH_TF_LOGS", "PYTEST_CURRENT_TEST")}
    done = subprocess.run(
        [sys.executable, "-m", "tlhelpers", "predict", str(path), str(photos[0])],
        capture_output=True, text=True, env=env, cwd=config.PROJECT_ROOT,
        timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr


def test_a_new_process_predicts_what_the_notebook_predicts(saved):
    model, path, photos = saved
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "tlhelpers", "predict", str(path),
         *map(str, photos), "--top", "2", "--json"],
        capture_output=True, text=True, env=env, cwd=config.PROJECT_ROOT,
        timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["classes"] == NAMES
    here = predict.predict_images(model, photos, NAMES, top=2)
    assert len(report["predictions"]) == len(photos)
    for mine, theirs, photo in zip(here, report["predictions"], photos):
        assert theirs["image"] == str(photo) and theirs["error"] is None
        assert [t["class"] for t in theirs["top"]] == [c for c, _ in mine.top]
        np.testing.assert_allclose([t["probability"] for t in theirs["top"]],
                                   [p for _, p in mine.top], atol=1e-5)


def test_lines_name_each_photo(saved, capsys):
    _, path, photos = saved
    assert main(["predict", str(path), str(photos[0])]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{photos[0]}: ")
    assert "reddish" in out and "bluish" in out


def test_bad_photos_are_named_and_the_rest_predicted(saved, tmp_path, capsys):
    _, path, photos = saved
    text = tmp_path / "notes.jpg"
    text.write_text("shopping list\n")
    half = tmp_path / "half.jpg"
    half.write_bytes(imagefactory.truncated_jpeg_bytes())
    code = main(["predict", str(path), str(text), str(photos[1]), str(half),
                 "--json"])
    assert code == 1
    captured = capsys.readouterr()
    assert f"error: {text}: not an image" in captured.err
    assert f"error: {half}: truncated" in captured.err
    report = json.loads(captured.out)
    assert [p["error"] is None for p in report["predictions"]] == [False, True,
                                                                    False]


@pytest.mark.parametrize("top", ["0", "-1", "two", "3"])
def test_bad_top_is_a_usage_error(saved, top, capsys):
    _, path, photos = saved
    assert main(["predict", str(path), str(photos[0]), "--top", top]) == 2
    assert "--top" in capsys.readouterr().err


def test_missing_paths_are_all_named(saved, tmp_path, capsys):
    _, path, photos = saved
    code = main(["predict", str(path), str(photos[0]), str(tmp_path / "a.jpg"),
                 str(tmp_path / "b.png")])
    assert code == 2
    err = capsys.readouterr().err
    assert "a.jpg" in err and "b.png" in err and "no such file" in err
    assert main(["predict", str(tmp_path / "model.keras"), str(photos[0])]) == 2
    assert main(["predict", str(path)]) == 2  # no IMAGE at all


def test_a_file_that_is_not_a_model_is_refused(saved, tmp_path, capsys):
    _, _, photos = saved
    fake = tmp_path / "model.keras"
    fake.write_text("hello")
    assert main(["predict", str(fake), str(photos[0])]) == 1
    assert "not a Keras model file" in capsys.readouterr().err
    assert main(["predict", str(photos[0]), str(photos[1])]) == 1
    assert "not a Keras model file" in capsys.readouterr().err


def test_safe_mode_refusal_is_exit_1(saved, tmp_path, capsys):
    _, _, photos = saved
    inputs = keras.Input(shape=(32, 32, 3))
    outputs = keras.layers.Lambda(lambda x: x[:, 0, 0, :2])(inputs)
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    assert main(["predict", str(path), str(photos[0])]) == 1
    assert "refused" in capsys.readouterr().err


def test_a_course_model_without_names_uses_class_numbers(tmp_path, capsys):
    keras.utils.set_random_seed(0)
    model = models.build_classifier(tinymodel.tiny_base(), 2, dense=8)
    path = tmp_path / "plain.keras"
    model.save(path)
    photo = imagefactory.write_png(tmp_path / "p.png")
    assert main(["predict", str(path), str(photo), "--top", "1"]) == 0
    assert "class " in capsys.readouterr().out
