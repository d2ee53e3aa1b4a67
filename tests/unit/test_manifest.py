"""A saved course model carries what it was trained on; a loader refuses it on anything else."""

from __future__ import annotations

import json

import keras
import pytest
import tinymodel

from tlhelpers import models, training
from tlhelpers.data import scan_folder, split_files
from tlhelpers.training import manifest


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return models.build_classifier(tinymodel.tiny_base(), 2, dense=8)


@pytest.fixture
def files(flat_folder):
    return split_files(scan_folder(flat_folder))


def test_save_model_writes_what_the_model_was_trained_on(model, files, tmp_path):
    path = training.save_model(model, tmp_path / "03_fine_tuned.keras",
                               class_names=["cats", "dogs"], files=files)
    saved = json.loads(manifest.manifest_path(path).read_text())
    assert manifest.manifest_path(path).name == "03_fine_tuned.manifest.json"
    assert saved["profile"] == "quick" and saved["classes"] == ["cats", "dogs"]
    assert saved["weights"] == "random"  # the tiny base's, read from the model
    assert saved["image_size"] == tinymodel.SIZE and len(saved["photos"]) == 16
    now = manifest.describe(model, ["cats", "dogs"], files)
    manifest.check(path, now, retrain="03_fine_tuning.ipynb")  # the same run: accepted


def test_other_data_other_classes_or_weights_are_named(model, files, tmp_path,
                                                       monkeypatch):
    path = training.save_model(model, tmp_path / "m.keras",
                               class_names=["cats", "dogs"], files=files)
    monkeypatch.setenv("TLH_DATASET", str(tmp_path / "elsewhere"))
    now = manifest.describe(model, ["cats", "fish"], files)
    now["weights"] = "imagenet"
    with pytest.raises(manifest.ModelMismatchError) as raised:
        manifest.check(path, now, retrain="03_fine_tuning.ipynb")
    message = str(raised.value)
    for field in ("dataset:", "classes:", "weights: saved for 'random'"):
        assert field in message
    assert "run 03_fine_tuning.ipynb again" in message


def test_a_changed_photo_changes_the_fingerprint(model, files, tmp_path):
    import imagefactory

    path = training.save_model(model, tmp_path / "m.keras", files=files)
    imagefactory.write_jpeg(files.train[0][0], size=(20, 20), seed=7)
    with pytest.raises(manifest.ModelMismatchError, match="photos:"):
        manifest.check(path, manifest.describe(model, files=files), retrain="03")


def test_a_moved_copy_of_the_same_photos_keeps_the_fingerprint(files, tmp_path):
    import shutil

    moved = shutil.copytree(files.root, tmp_path / "moved")  # new paths, new times
    again = split_files(scan_folder(moved))
    assert manifest.photos_fingerprint(again) == manifest.photos_fingerprint(files)
    (moved / again.train[0][0].relative_to(moved)).unlink()
    assert manifest.photos_fingerprint(split_files(scan_folder(moved))) != \
        manifest.photos_fingerprint(files)


def test_a_model_without_a_manifest_is_refused_and_an_interrupted_save_leaves_none(
        model, tmp_path, monkeypatch):
    path = training.save_model(model, tmp_path / "m.keras")
    manifest.manifest_path(path).unlink()
    with pytest.raises(manifest.ModelMismatchError, match="no record"):
        manifest.check(path, manifest.describe(model), retrain="03")
    training.save_model(model, path)

    def interrupted(self, filepath, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(keras.Model, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        training.save_model(model, path)
    assert path.exists() and not manifest.manifest_path(path).exists()


def test_a_saved_course_model_holds_no_optimizer_and_loads_without_warnings(tmp_path):
    import warnings

    import numpy as np

    keras.utils.set_random_seed(0)
    trained = models.build_classifier(tinymodel.tiny_base(), 2, dense=8)
    trained.compile(optimizer=keras.optimizers.Adam(1e-3),
                    loss="sparse_categorical_crossentropy")
    x, y = np.full((4, tinymodel.SIZE, tinymodel.SIZE, 3), 100.0), np.array([0, 1, 0, 1])
    trained.fit(x, y, epochs=1, verbose=0)  # an optimizer built for the head only
    path = training.save_model(trained, tmp_path / "m.keras")
    assert trained.compiled  # the model in memory is left as it was
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = keras.saving.load_model(path, safe_mode=True)
    assert not [w for w in caught if "optimizer" in str(w.message)]
    assert not loaded.compiled
