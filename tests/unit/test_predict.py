"""`predict_images` on tiny models: shapes, probabilities, every kind of bad photo."""

from __future__ import annotations

import datetime as dt
import io
import warnings
import zipfile

import imagefactory
import keras
import numpy as np
import pytest
import tinymodel
from PIL import Image

from tlhelpers import models, predict
from tlhelpers.data import images as images_mod
from tlhelpers.data import load_rgb, make_dataset

SIZE = tinymodel.SIZE


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return models.build_classifier(tinymodel.tiny_base(), 2, dense=8)


def constant_model(n_classes: int = 4, logits: bool = False):
    """Every image gets the same output: uniform probabilities, or zero scores."""
    inputs = keras.Input(shape=(SIZE, SIZE, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    outputs = keras.layers.Dense(n_classes, kernel_initializer="zeros",
                                 activation=None if logits else "softmax")(x)
    return keras.Model(inputs, outputs)


def jpeg_bytes(size=(40, 30), seed=0, fmt="JPEG") -> bytes:
    buffer = io.BytesIO()
    imagefactory.rgb_image(size, seed).save(buffer, fmt)
    return buffer.getvalue()


def test_paths_and_bytes_give_one_result_each(model, tmp_path):
    path = imagefactory.write_jpeg(tmp_path / "red.jpg", (40, 30), 1)
    results = predict.predict_images(model, [path, jpeg_bytes(seed=2),
                                             ("mine.png", jpeg_bytes(fmt="PNG"))],
                                     top=2)
    assert [r.source for r in results] == ["red.jpg", "image 2", "mine.png"]
    for result in results:
        assert result.ok, result.error
        assert result.image.shape == (SIZE, SIZE, 3)
        assert result.image.dtype == np.uint8
        assert result.probabilities.shape == (2,)
        assert result.probabilities.sum() == pytest.approx(1.0, abs=1e-6)
        assert len(result.top) == 2
        assert result.top[0][1] >= result.top[1][1]
        assert {name for name, _ in result.top} == {"class 0", "class 1"}
        assert result.label == result.top[0][0]


def test_one_photo_alone_and_class_names(model, tmp_path):
    path = imagefactory.write_png(tmp_path / "one.png")
    (result,) = predict.predict_images(model, str(path), ["red", "blue"], top=1)
    assert result.label in ("red", "blue") and len(result.top) == 1
    assert str(result).startswith("one.png: ")


def test_an_upload_entry_is_read_by_name(model):
    entry = {"name": "garden.jpg", "type": "image/jpeg", "size": 10,
             "content": memoryview(jpeg_bytes()),
             "last_modified": dt.datetime.now(dt.timezone.utc)}
    (result,) = predict.predict_images(model, [entry])
    assert result.ok and result.source == "garden.jpg"


def test_the_photo_is_read_as_the_training_pipeline_reads_it(model, zoo):
    # Every good file of the zoo (grayscale, CMYK, palette, RGBA, 16-bit, EXIF
    # rotated, ...) becomes the very pixels `make_dataset` feeds the model.
    paths = list(zoo.good.values())
    results = predict.predict_images(model, paths)
    assert all(r.ok for r in results), [str(r) for r in results if not r.ok]
    for path, result in zip(paths, results):
        np.testing.assert_array_equal(result.image, load_rgb(path, SIZE))
    ds = make_dataset([(p, 0) for p in paths], SIZE, batch_size=8, cache=False)
    expected = model.predict(ds, verbose=0)
    got = np.stack([r.probabilities for r in results])
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_exif_orientation_is_applied(model, zoo):
    (result,) = predict.predict_images(model, zoo.good["jpeg exif rotated"],
                                       image_size=None)
    # The file is 32x18 with "rotate 90": upright it is 18 wide and 32 high,
    # so its left column (from the top row of the stored pixels) differs.
    plain = Image.open(zoo.good["jpeg exif rotated"]).convert("RGB")
    unrotated = np.asarray(plain.resize((SIZE, SIZE), Image.Resampling.BILINEAR))
    assert not np.array_equal(result.image, unrotated)


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"shopping list: milk, eggs\n", "not an image (the file holds text"),
    (b"\x89" + bytes(range(256)) * 2, "not an image (format not recognised"),
    (imagefactory.truncated_jpeg_bytes(), "truncated"),
    (imagefactory.truncated_png_bytes(), "truncated"),
])
def test_bad_bytes_get_a_reason_and_the_rest_are_predicted(model, data, reason):
    results = predict.predict_images(model, [jpeg_bytes(), data, jpeg_bytes(seed=3)])
    assert [r.ok for r in results] == [True, False, True]
    assert reason in results[1].error
    assert results[1].image is None and results[1].top == []
    assert "error" in str(results[1])


def test_bad_paths_and_objects(model, tmp_path):
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    results = predict.predict_images(
        model, [tmp_path / "missing.jpg", folder, empty, 42,
                np.zeros((SIZE, SIZE, 3))])
    errors = [r.error for r in results]
    assert "no such file" in errors[0]
    assert "folder" in errors[1]
    assert "empty" in errors[2]
    assert "int is not a photo" in errors[3]
    assert "ndarray is not a photo" in errors[4]


def test_every_bad_file_of_the_zoo_is_refused_with_the_scan_reason(model, zoo):
    paths = list(zoo.bad)
    results = predict.predict_images(model, paths)
    for path, result in zip(paths, results):
        assert not result.ok, path
        assert zoo.bad[path] in result.error, (path, result.error)


def test_too_large_png_is_refused_without_decoding(model, tmp_path):
    bomb = imagefactory.write_bomb(tmp_path / "bomb.png")  # 81 Mpx > MAX_PIXELS
    (result,) = predict.predict_images(model, bomb)
    assert "too large" in result.error and "smaller copy" in result.error


def test_pillow_bomb_limit_is_a_message_not_an_exception(model, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    small = jpeg_bytes((12, 12))    # 144 px: past Pillow's warning, no error
    big = jpeg_bytes((40, 40))      # 1600 px: past twice the limit, an error
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning escapes
        results = predict.predict_images(model, [small, big])
    assert results[0].ok
    assert "too large" in results[1].error


def test_a_large_jpeg_is_downscaled_but_a_large_png_is_refused(model, monkeypatch):
    monkeypatch.setattr(images_mod, "MAX_PIXELS", 3000)
    big_jpeg = jpeg_bytes((200, 200))  # 40,000 px; at 1/4 scale 2,500
    big_png = jpeg_bytes((200, 200), fmt="PNG")
    results = predict.predict_images(model, [big_jpeg, big_png])
    assert results[0].ok and results[0].image.shape == (SIZE, SIZE, 3)
    assert "too large" in results[1].error


def test_low_top_probability_gets_the_note():
    (result,) = predict.predict_images(constant_model(4), jpeg_bytes())
    np.testing.assert_allclose(result.probabilities, 0.25)
    assert result.note == predict.NOT_SURE
    assert "not sure" in str(result)


def test_confident_answer_has_no_note(model):
    sure = keras.Sequential([keras.Input(shape=(SIZE, SIZE, 3)),
                             keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(2, activation="softmax")])
    sure.layers[-1].set_weights([np.zeros((3, 2)), np.array([5.0, 0.0])])
    (result,) = predict.predict_images(sure, jpeg_bytes())
    assert result.probability > 0.99 and result.note is None


def test_a_model_without_softmax_gets_probabilities():
    (result,) = predict.predict_images(constant_model(3, logits=True), jpeg_bytes())
    assert result.probabilities.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(result.probabilities, 1 / 3)


def test_scores_that_happen_to_sum_to_one_still_get_a_softmax():
    # Zero kernel, bias (1, 0, 0): raw scores 1, 0, 0 look like probabilities.
    inputs = keras.Input(shape=(SIZE, SIZE, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    dense = keras.layers.Dense(3, kernel_initializer="zeros", activation=None)
    scores = keras.Model(inputs, dense(x))
    dense.set_weights([np.zeros((3, 3)), np.array([1.0, 0.0, 0.0])])
    (result,) = predict.predict_images(scores, jpeg_bytes())
    expected = np.exp([1.0, 0.0, 0.0]) / np.exp([1.0, 0.0, 0.0]).sum()
    np.testing.assert_allclose(result.probabilities, expected, rtol=1e-5)


def test_a_softmax_is_found_at_the_end_of_a_nested_model():
    assert predict.ends_in_softmax(keras.Sequential([constant_model(3)]))
    assert not predict.ends_in_softmax(keras.Sequential([constant_model(3, logits=True)]))
    assert predict.ends_in_softmax(keras.Sequential([
        keras.Input(shape=(4,)), keras.layers.Dense(3), keras.layers.Softmax()]))


@pytest.mark.parametrize("kwargs, word", [
    ({"top": 0}, "top"), ({"top": 3}, "top"), ({"top": True}, "top"),
    ({"class_names": ["only one"]}, "class_names"),
    ({"image_size": 64}, "image_size"), ({"image_size": "big"}, "image_size"),
])
def test_bad_parameters_raise_naming_them(model, kwargs, word):
    with pytest.raises(ValueError, match=word):
        predict.predict_images(model, jpeg_bytes(), **kwargs)


def test_take_home_file_keeps_class_names_and_predictions(model, tmp_path):
    path = predict.save_take_home(model, tmp_path / "flowers.keras", ["red", "blue"])
    loaded = predict.load_model(path)
    assert tuple(loaded.class_names) == ("red", "blue")
    photos = [jpeg_bytes(seed=s) for s in range(3)]
    before = predict.predict_images(model, photos, ["red", "blue"])
    after = predict.predict_images(loaded, photos)  # names from the file
    for a, b in zip(before, after):
        assert a.top[0][0] == b.top[0][0]
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-6)
    # Keras' own loader works too, in safe mode.
    again = keras.saving.load_model(path, safe_mode=True)
    assert tuple(again.class_names) == ("red", "blue")


def test_take_home_refuses_a_bad_name(model, tmp_path):
    with pytest.raises(ValueError, match=r"\.keras"):
        predict.save_take_home(model, tmp_path / "flowers.h5", ["a", "b"])
    with pytest.raises(ValueError, match="class_names"):
        predict.save_take_home(model, tmp_path / "f.keras", ["a", "b", "c"])


def test_load_model_refuses_what_is_not_a_model(tmp_path):
    text = tmp_path / "notes.keras"
    text.write_text("not a model")
    with pytest.raises(predict.ModelFileError, match="not a Keras model file"):
        predict.load_model(text)
    archive = tmp_path / "photos.keras"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(predict.ModelFileError, match="not a model Keras can load"):
        predict.load_model(archive)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        predict.load_model(tmp_path / "missing.keras")


def test_load_model_refuses_python_code_in_safe_mode(tmp_path):
    inputs = keras.Input(shape=(4,))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(predict.ModelFileError, match="refused"):
        predict.load_model(path)


def test_course_models_missing_says_run_03_first():
    with pytest.raises(FileNotFoundError, match="03_fine_tuning.ipynb"):
        predict.course_models(SIZE)


def test_course_models_refuse_models_trained_on_something_else(model, flat_folder,
                                                                monkeypatch):
    from tlhelpers import training
    from tlhelpers.data import scan_folder, split_files
    from tlhelpers.training import manifest

    files = split_files(scan_folder(flat_folder))
    for name in ("03_head_trained", "03_fine_tuned"):
        training.save_model(model, training.saved_model_path(name),
                            class_names=["cats", "dogs"], files=files)
    found = predict.course_models(SIZE, class_names=["cats", "dogs"], files=files,
                                  weights="random")
    assert set(found) == {"head trained", "fine-tuned"}
    with pytest.raises(manifest.ModelMismatchError, match="classes: saved for"):
        predict.course_models(SIZE, class_names=["cats", "fish"], files=files)
    with pytest.raises(manifest.ModelMismatchError, match="weights: saved for 'random'"):
        predict.course_models(SIZE, weights="imagenet")
    monkeypatch.setenv("TLH_DATASET", str(flat_folder))
    with pytest.raises(manifest.ModelMismatchError, match="dataset: saved for"):
        predict.course_models(SIZE)
    manifest.manifest_path(training.saved_model_path("03_fine_tuned")).unlink()
    monkeypatch.delenv("TLH_DATASET")
    with pytest.raises(manifest.ModelMismatchError, match="no record"):
        predict.course_models(SIZE)
