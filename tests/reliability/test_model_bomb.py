"""A `.keras` zip bomb is refused from its declared sizes, before Keras unpacks it."""

from __future__ import annotations

import resource
import zipfile

import keras
import pytest
import tinymodel

from tlhelpers import models, predict, training
from tlhelpers.cli import main


def bomb(path, member: str = "config.json", mib: int = 1024):
    """A small file whose `member` unpacks to `mib` MiB (deflated zeros)."""
    chunk = b"\0" * 2 ** 20
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", '{"keras_version": "3.15.1"}')
        with archive.open(member, "w", force_zip64=True) as out:
            for _ in range(mib):
                out.write(chunk)
    return path


@pytest.fixture
def never_unpacked(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("Keras was asked to open the bomb")

    monkeypatch.setattr(keras.saving, "load_model", refuse)


@pytest.mark.parametrize("member", ["config.json", "model.weights.h5"])
def test_predict_refuses_a_bomb_before_keras_opens_it(tmp_path, member,
                                                     never_unpacked):
    path = bomb(tmp_path / "m.keras", member)
    assert path.stat().st_size < 4 * 2 ** 20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(predict.ModelFileError, match="1,024 MiB.*refused"):
        predict.load_model(path)
    # Nothing was unpacked: the process grew by far less than the member.
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    assert grown_kib < 256 * 1024


def test_the_course_loader_refuses_it_too(tmp_path, never_unpacked):
    path = bomb(tmp_path / "03_fine_tuned.keras")
    with pytest.raises(ValueError, match="zip bomb"):
        training.load_saved_model(path)


def test_predict_command_says_one_line(tmp_path, capsys):
    path = bomb(tmp_path / "m.keras", mib=200)
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"not read")
    assert main(["predict", str(path), str(photo)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("error:") == 1 and "200 MiB" in err


def test_a_real_model_passes_the_check(tmp_path):
    keras.utils.set_random_seed(0)
    model = models.build_classifier(tinymodel.tiny_base(), 2, dense=8)
    path = predict.save_take_home(model, tmp_path / "m.keras", ["a", "b"])
    models.check_model_archive(path)
    assert tuple(predict.load_model(path).class_names) == ("a", "b")
