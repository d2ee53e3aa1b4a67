"""File names that are not UTF-8 and class names holding terminal escape codes.

`caf\\xe9.jpg` (Latin-1 bytes) is a legal name on Linux that Python holds as a
lone surrogate: it must neither stop a run nor make a command's output
invalid UTF-8. A class name is text from a folder or a model file: printed
raw, `\\x1b[2J` would clear the learner's terminal.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import imagefactory
import keras
import pytest
import tinymodel

from tlhelpers import features, models, predict
from tlhelpers.cli import main

ROOT = Path(__file__).resolve().parents[2]
LATIN1 = b"caf\xe9.jpg"


def rename_to_latin1(folder: Path) -> Path:
    """Give the first photo of `folder` a name that is not UTF-8; its new path."""
    first = sorted(folder.iterdir())[0]
    target = os.path.join(os.fsencode(folder), LATIN1)
    os.rename(first, target)
    return Path(os.fsdecode(target))


@pytest.fixture
def latin1_folder(tmp_path) -> Path:
    root = imagefactory.make_folder(tmp_path / "d", ("red", "blue"), per_class=6,
                                    layout="split", val_per_class=3)
    rename_to_latin1(root / "train" / "red")
    return root


def test_fingerprint_and_ids_take_a_name_that_is_not_utf8(latin1_folder):
    items = [(p, 0) for p in sorted((latin1_folder / "train" / "red").iterdir())]
    assert any("\udce9" in str(p) for p, _ in items)
    assert len(features.files_fingerprint(items)) == 64
    assert len(set(features.item_ids(items).tolist())) == len(items)


def test_utf8_names_keep_the_keys_stored_files_have(tmp_path):
    # Feature files stored before this change must still be found.
    path = imagefactory.save(imagefactory.rgb_image((20, 20), 1),
                             tmp_path / "été 🌻.jpg", "JPEG")
    stat = os.stat(path)
    before = hashlib.sha256(
        f"{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}|"
        f"{stat.st_ctime_ns}|3\n".encode()).hexdigest()
    assert features.files_fingerprint([(path, 3)]) == before
    old_id = int.from_bytes(hashlib.blake2b(str(Path(path).resolve()).encode(),
                                            digest_size=8).digest(), "little")
    assert features.item_ids([(path, 3)]).tolist() == [old_id]


def test_run_feature_extraction_trains_with_such_a_name(latin1_folder, capsys,
                                                        monkeypatch):
    monkeypatch.setenv("TLH_PROFILE", "quick")
    status = main(["run", "feature-extraction", "--data", str(latin1_folder),
                   "--profile", "quick", "--image-size", "32", "--epochs", "1",
                   "--weights", "random", "--json"])
    assert status == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["train_images"] == 12


def cli(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlhelpers", *args], cwd=ROOT,
                          capture_output=True, timeout=300,
                          env={**os.environ, **(env or {})})


def assert_one_valid_json_line(done: subprocess.CompletedProcess) -> dict:
    assert b"Traceback" not in done.stderr, done.stderr.decode("utf-8", "replace")
    return json.loads(done.stdout.decode("utf-8"))  # strict: valid UTF-8


@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
def test_check_data_json_is_valid_utf8(latin1_folder, locale):
    # A bad file is listed by name: make the one with the Latin-1 name bad.
    bad = rename_to_latin1(latin1_folder / "val" / "blue")
    bad.write_bytes(b"\x00 not an image")
    done = cli("check-data", str(latin1_folder), "--json",
               env={"LC_ALL": locale, "LANG": locale})
    assert done.returncode == 0
    report = assert_one_valid_json_line(done)
    assert report["classes"]["red"]["good"] == 6 + 3
    assert [b["path"] for b in report["bad_files"]] == ["val/blue/caf\ufffd.jpg"]


def test_check_data_report_escapes_a_class_name_with_escape_codes(tmp_path,
                                                                  capsys):
    root = imagefactory.make_folder(tmp_path / "d", ("red\x1b[2J", "blue"),
                                    per_class=3)
    assert main(["check-data", str(root)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "red\\x1b[2J" in out


@pytest.fixture(scope="module")
def take_home(tmp_path_factory) -> Path:
    keras.utils.set_random_seed(0)
    model = models.build_classifier(tinymodel.tiny_base(), 2, dense=8)
    path = tmp_path_factory.mktemp("model") / "m.keras"
    return predict.save_take_home(model, path, ["red\x1b[2J\x1b[31m", "blue"])


def test_predict_json_is_valid_utf8(take_home, latin1_folder):
    photo = rename_to_latin1(latin1_folder / "val" / "blue")
    done = cli("predict", str(take_home), os.fsdecode(os.fsencode(photo)),
               "--json", env={"LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"})
    assert done.returncode == 0, done.stderr
    result = assert_one_valid_json_line(done)
    assert result["predictions"][0]["image"].endswith("caf\ufffd.jpg")
    assert result["classes"][0] == "red\x1b[2J\x1b[31m"  # JSON escapes it


def test_predict_prints_class_names_with_escape_codes_escaped(take_home,
                                                              latin1_folder,
                                                              capsys):
    photos = sorted(str(p) for p in (latin1_folder / "val" / "red").iterdir())
    assert main(["predict", str(take_home), *photos, "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert out.count("red\\x1b[2J\\x1b[31m") == len(photos)
