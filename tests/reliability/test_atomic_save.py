"""A save killed halfway keeps the model saved before it; a cut-short file is named damaged.

The kill is driven: Keras' `save` is replaced by one that writes part of a
file at the path it is given and then raises KeyboardInterrupt, as Ctrl-C or
a kill between two writes would leave it.
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path

import keras
import numpy as np
import pytest
import tinymodel

from tlhelpers import atomic, models, predict, strategies, training

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return models.build_classifier(tinymodel.tiny_base(), 2, dense=8)


def interrupted_save(monkeypatch):
    """Every `keras.Model.save` writes 100 bytes of a zip, then is interrupted."""
    def save(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as out:
            out.write(b"PK\x03\x04" + b"\0" * 96)
        raise KeyboardInterrupt

    monkeypatch.setattr(keras.Model, "save", save)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if atomic.MARK in p.name)


def test_interrupted_take_home_save_keeps_the_previous_file(model, tmp_path,
                                                            monkeypatch):
    path = predict.save_take_home(model, tmp_path / "flowers.keras", ["a", "b"])
    good = path.read_bytes()
    interrupted_save(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        predict.save_take_home(model, path, ["a", "b"])
    assert path.read_bytes() == good
    assert leftovers(tmp_path) == []
    monkeypatch.undo()
    assert tuple(predict.load_model(path).class_names) == ("a", "b")


def test_interrupted_course_save_keeps_the_previous_file(model, tmp_path,
                                                         monkeypatch):
    path = training.save_model(model, tmp_path / "03_fine_tuned.keras")
    good = path.read_bytes()
    interrupted_save(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        training.save_model(model, path)
    assert path.read_bytes() == good
    assert leftovers(tmp_path) == []
    monkeypatch.undo()
    loaded = training.load_saved_model(path, n_classes=2)
    x = np.zeros((1, tinymodel.SIZE, tinymodel.SIZE, 3), "float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0),
                               model.predict(x, verbose=0), atol=1e-6)


def test_saved_file_is_readable_as_the_umask_allows(model, tmp_path):
    # The temporary file is private (mkstemp); the model file must not be.
    path = training.save_model(model, tmp_path / "m.keras")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_cut_short_keras_file_is_called_damaged(model, tmp_path):
    path = predict.save_take_home(model, tmp_path / "flowers.keras", ["a", "b"])
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 3])
    with pytest.raises(predict.ModelFileError, match="damaged.*cut short"):
        predict.load_model(path)


def test_notebooks_save_their_models_through_the_atomic_helper():
    def code_of(name):
        notebook = json.loads((NOTEBOOKS / name).read_text())
        return "".join("".join(cell["source"]) for cell in notebook["cells"]
                       if cell["cell_type"] == "code")

    # 03 writes the saving out where it is taught; 05 and 07 train and save
    # 03's models through the package's recipe when 03's cannot be used.
    assert "model.save(" not in code_of("03_fine_tuning.ipynb")
    assert code_of("03_fine_tuning.ipynb").count("tlh.training.save_model(model,") == 2
    for name in ("05_visualizing_features.ipynb", "07_looking_inside.ipynb"):
        assert "model.save(" not in code_of(name)
        assert "tlh.strategies.train_course_models(" in code_of(name)
    recipe = inspect.getsource(strategies.train_course_models)
    assert ".save(" not in recipe.replace("save_model(", "")
    assert recipe.count("save_model(model, paths[") == 2
