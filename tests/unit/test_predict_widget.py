"""The photo panel driven headless: set the upload's value, read what it shows."""

from __future__ import annotations

import datetime as dt
import io

import imagefactory
import keras
import pytest
import tinymodel

from tlhelpers import models
from tlhelpers.widgets import predict as predict_widget
from tlhelpers.widgets import predict_panel


@pytest.fixture(scope="module")
def two_models():
    keras.utils.set_random_seed(0)
    head = models.build_classifier(tinymodel.tiny_base(), 2, dense=8)
    keras.utils.set_random_seed(1)
    tuned = models.build_classifier(tinymodel.tiny_base(), 2, dense=8)
    return {"head trained": head, "fine-tuned": tuned}


def upload(name: str, data: bytes, kind: str = "image/jpeg") -> dict:
    """One entry as ipywidgets 8's FileUpload puts it in `.value`."""
    return {"name": name, "type": kind, "size": len(data),
            "content": memoryview(data),
            "last_modified": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)}


def photo(seed: int = 0, fmt: str = "JPEG", size=(40, 30)) -> bytes:
    buffer = io.BytesIO()
    imagefactory.rgb_image(size, seed).save(buffer, fmt)
    return buffer.getvalue()


def test_panel_parts_and_defaults(two_models):
    panel = predict_panel(two_models, ["red", "blue"])
    assert panel.upload.multiple
    assert ".jpg" in panel.upload.accept and ".webp" in panel.upload.accept
    assert list(panel.model.options) == ["head trained", "fine-tuned"]
    assert panel.model.value == "fine-tuned"
    assert not panel.shows_image and panel.results == []


def test_uploading_photos_shows_each_with_its_chart(two_models):
    panel = predict_panel(two_models, ["red", "blue"])
    panel.upload.value = (upload("a.jpg", photo(1)),
                          upload("b.png", photo(2, "PNG"), "image/png"),
                          upload("c.webp", photo(3, "WEBP"), "image/webp"))
    assert [r.source for r in panel.results] == ["a.jpg", "b.png", "c.webp"]
    assert all(r.ok for r in panel.results)
    assert len(panel.output.children) == 3
    assert panel.shows_image
    assert len(panel.figures) == 3
    # Photo with its heatmap, and the bar chart of the top classes.
    assert len(panel.figures[0].axes) == 2
    assert "3 photo(s) predicted by the fine-tuned model" in panel.status.value


def test_bad_files_get_a_message_and_the_rest_are_shown(two_models):
    panel = predict_panel(two_models, ["red", "blue"])
    panel.upload.value = (upload("notes.jpg", b"shopping list: milk\n"),
                          upload("ok.jpg", photo()),
                          upload("half.jpg", imagefactory.truncated_jpeg_bytes()))
    assert [r.ok for r in panel.results] == [False, True, False]
    shown = " ".join(panel.messages())
    assert "notes.jpg: cannot use this file: not an image" in shown
    assert "half.jpg: cannot use this file: truncated" in shown
    assert panel.shows_image
    assert "2 file(s) could not be used" in panel.status.value
    assert "Traceback" not in shown


def test_grayscale_and_cmyk_uploads_are_converted(two_models):
    panel = predict_panel(two_models)
    gray, cmyk = io.BytesIO(), io.BytesIO()
    imagefactory.rgb_image((30, 30), 4).convert("L").save(gray, "PNG")
    imagefactory.rgb_image((30, 30), 5).convert("CMYK").save(cmyk, "JPEG")
    panel.upload.value = (upload("gray.png", gray.getvalue()),
                          upload("cmyk.jpg", cmyk.getvalue()))
    assert all(r.ok and r.image.shape == (32, 32, 3) for r in panel.results)


def test_changing_the_model_predicts_again(two_models):
    panel = predict_panel(two_models, ["red", "blue"])
    panel.upload.value = (upload("a.jpg", photo(1)),)
    tuned = panel.results[0].probabilities
    panel.model.value = "head trained"
    assert "head trained model" in panel.status.value
    assert not (panel.results[0].probabilities == tuned).all()


def test_low_confidence_note_is_shown():
    inputs = keras.Input(shape=(32, 32, 3))
    x = keras.layers.Conv2D(2, 3, name="block1_conv1")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax",
                                 kernel_initializer="zeros")(x)
    panel = predict_panel(keras.Model(inputs, outputs))
    panel.upload.value = (upload("sky.jpg", photo()),)
    assert any("not sure: maybe none of these classes" in m
               for m in panel.messages())


def test_an_unexpected_failure_is_a_message_not_a_traceback(two_models,
                                                            monkeypatch):
    panel = predict_panel(two_models)

    def broken(*args, **kwargs):
        raise RuntimeError("the model file went away")

    monkeypatch.setattr(predict_widget, "predict_images", broken)
    panel.upload.value = (upload("a.jpg", photo()),)  # must not raise
    assert "Could not predict: the model file went away" in panel.status.value
    assert panel.output.children == ()


def test_bad_models_argument():
    with pytest.raises(ValueError, match="models"):
        predict_panel({})


def test_predict_from_code_takes_paths_and_bytes(two_models, tmp_path):
    # What notebook 06's demonstration cell does: a photo on disk and bytes
    # that are not a photo, handed over without an upload.
    path = imagefactory.write_jpeg(tmp_path / "tulip.jpg", seed=4)
    panel = predict_panel(two_models, ["red", "blue"])
    results = panel.predict([path, b"not a photo either"])
    assert results is panel.results
    assert [r.ok for r in results] == [True, False]
    assert [r.source for r in results] == ["tulip.jpg", "image 2"]
    assert panel.shows_image and len(panel.figures) == 1
    assert panel.messages() == [
        "image 2: cannot use this file: " + results[1].error]
    assert "1 photo(s) predicted by the fine-tuned model" in panel.status.value
