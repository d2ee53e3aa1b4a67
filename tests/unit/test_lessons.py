"""tlh.checks.lesson: asserted on the course's photos, explained on a learner's."""

from __future__ import annotations

import numpy as np
import pytest

from tlhelpers import checks
from tlhelpers.checks import LessonNotShown, lesson, on_course_data

ARGS = dict(claim="fine-tuning beats the head phase", expected="+3 points or more",
            got="-1 point", why="On few photos a gain hides in the noise.")


@pytest.fixture
def course_data(monkeypatch):
    monkeypatch.setenv("TLH_PROFILE", "quick")
    monkeypatch.delenv("TLH_DATASET", raising=False)


def test_the_shipped_default_is_the_course_data(course_data, monkeypatch):
    assert on_course_data()
    monkeypatch.setenv("TLH_DATASET", "flowers-small")  # named, still the same
    assert on_course_data()


@pytest.mark.parametrize("dataset", ["flowers", "/some/folder/of/mine"])
def test_another_dataset_is_not_the_course_data(course_data, monkeypatch, dataset):
    monkeypatch.setenv("TLH_DATASET", dataset)
    assert not on_course_data()


def test_the_full_profile_downloads_so_it_is_not_the_shipped_data(monkeypatch):
    monkeypatch.setenv("TLH_PROFILE", "full")
    monkeypatch.delenv("TLH_DATASET", raising=False)
    assert not on_course_data()


def test_a_lesson_that_shows_passes_with_the_numbers(course_data):
    shown = lesson(True, **{**ARGS, "got": "+4.9 points"})
    assert shown and "+4.9 points" in shown.message
    assert "Shown" in shown._repr_html_()


def test_on_course_data_a_lesson_that_does_not_show_stops_the_notebook(course_data):
    with pytest.raises(LessonNotShown, match="course's own photos") as err:
        lesson(False, **ARGS)
    assert "+3 points or more" in str(err.value) and "-1 point" in str(err.value)
    assert isinstance(err.value, AssertionError)  # nbval reports it as a failure


def test_on_a_learners_photos_it_explains_and_goes_on(course_data, monkeypatch):
    monkeypatch.setenv("TLH_DATASET", "/photos/of/my/garden")
    verdict = lesson(False, **ARGS)
    assert not verdict
    for part in ("fine-tuning beats the head phase", "+3 points or more",
                 "-1 point", "hides in the noise"):
        assert part in verdict.message
    assert "Not shown in this run" in verdict._repr_html_()


def test_every_verdict_goes_to_the_lessons_run_log(course_data, monkeypatch):
    from tlhelpers.training import RunLog

    lesson(True, **{**ARGS, "got": "+4.9 points"})
    monkeypatch.setenv("TLH_DATASET", "/photos/of/my/garden")
    lesson(False, **ARGS)
    rows = RunLog("lessons").rows
    assert [(r["claim"], r["got"], r["shown"]) for r in rows] == [
        (ARGS["claim"], "+4.9 points", True), (ARGS["claim"], "-1 point", False)]


def test_a_read_only_home_does_not_stop_a_lesson(course_data, monkeypatch, tmp_path):
    blocker = tmp_path / "a file, not a folder"
    blocker.write_text("")
    monkeypatch.setenv("TLH_HOME", str(blocker))
    assert lesson(True, **{**ARGS, "got": "+4.9 points"})


def test_with_random_weights_it_explains_that_nothing_was_pretrained(course_data):
    verdict = lesson(False, **ARGS, weights="random")
    assert not verdict and "random weights" in verdict.message


def test_test_accuracy_grades_arrays_and_datasets():
    import keras
    import tensorflow as tf

    from tlhelpers import training

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, "softmax")])
    x = np.random.default_rng(0).normal(size=(10, 3)).astype("float32")
    y = np.argmax(model.predict(x, verbose=0), axis=1)
    y[:3] = 1 - y[:3]  # three of ten wrong
    assert training.test_accuracy(model, (x, y)) == pytest.approx(0.7)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    assert training.test_accuracy(model, ds) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="empty"):
        training.test_accuracy(model, (x[:0], y[:0]))
    assert checks.lesson is lesson
