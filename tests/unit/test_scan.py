"""scan_folder: layouts, good and bad files, junk, problems, the JSON contract."""

from __future__ import annotations

import json
import shutil
import warnings

import imagefactory
import numpy as np
import pytest

from tlhelpers.data import images, scan_folder
from tlhelpers.data.scan import image_problem


def bad_by_path(scan):
    return {b.path: b.reason for b in scan.bad}


# --- the zoo: every bad file reported, no good file lost ---------------------

def test_every_bad_file_is_reported_with_its_reason(zoo):
    scan = scan_folder(zoo.root)
    reported = bad_by_path(scan)
    assert set(reported) == set(zoo.bad), "bad files reported != bad files made"
    for path, expected in zoo.bad.items():
        assert expected in reported[path], (path.name, reported[path])


@pytest.mark.parametrize("name, reason", [
    ("empty.jpg", "empty file"),
    ("truncated.jpg", "truncated"),
    ("notes.jpg", "text or HTML"),
    ("bomb.png", "too large: 9000x9000"),
    ("noise.png", "format not recognised"),
])
def test_reason_wording(zoo, name, reason):
    assert reason in image_problem(zoo.root / imagefactory.FORMATS_CLASS / name)


def test_html_and_utf8_text_are_called_text(zoo):
    names_dir = zoo.root / imagefactory.NAMES_CLASS
    for name in ("page.jpg", "résumé.jpg"):
        assert "text or HTML" in image_problem(names_dir / name), name


def test_no_good_file_is_lost(zoo):
    scan = scan_folder(zoo.root)
    found = {p for per_class in scan.good.values() for files in per_class.values()
             for p in files}
    assert found == set(zoo.good.values())
    counts = scan.counts()
    for name, n in zoo.good_per_class.items():
        assert counts[name]["good"] == n, name
    bad_per_class = {}
    for path in zoo.bad:
        name = path.relative_to(zoo.root).parts[0]
        bad_per_class[name] = bad_per_class.get(name, 0) + 1
    for name, n in bad_per_class.items():
        assert counts[name]["bad"] == n, name


def test_zoo_is_usable_with_a_warning_for_the_empty_class(zoo):
    scan = scan_folder(zoo.root)
    assert scan.layout == "flat"
    assert scan.usable, scan.problems
    assert scan.class_names == zoo.classes
    assert zoo.empty_class not in scan.class_names
    assert any(zoo.empty_class in w for w in scan.warnings), scan.warnings


@pytest.mark.parametrize("kind", imagefactory.GOOD_KINDS)
def test_every_format_is_good_and_loads_as_uint8_rgb(zoo, kind):
    path = zoo.good[kind]
    assert image_problem(path) is None
    array = images.load_rgb(path)
    assert array.dtype == np.uint8
    assert array.ndim == 3 and array.shape[2] == 3
    assert imagefactory.MIN_SIDE <= min(array.shape[:2])
    resized = images.load_rgb(path, 20)
    assert resized.shape == (20, 20, 3) and resized.dtype == np.uint8


def test_zoo_kinds_all_covered(zoo):
    # The parametrized list above must track the zoo, or formats go untested.
    assert tuple(zoo.good) == imagefactory.GOOD_KINDS


def test_animated_gif_gives_its_first_frame(zoo):
    # Frames are solid red, green, blue: only red may come out.
    array = images.load_rgb(zoo.good["gif animated"])
    assert (array.reshape(-1, 3) == (255, 0, 0)).all()


def test_cmyk_jpeg_keeps_its_colours(zoo):
    # The zoo's CMYK JPEG was drawn as rgb_image(size, 11) and converted.
    array = images.load_rgb(zoo.good["jpeg CMYK"]).astype(int)
    height, width = array.shape[:2]
    source = np.asarray(imagefactory.rgb_image((width, height), 11)).astype(int)
    # JPEG is lossy: close per pixel on average, very close on the mean colour.
    # Inverted channels (a CMYK decoding bug) would be about 175 off.
    assert np.abs(array - source).mean() < 12
    assert np.abs(array.mean(axis=(0, 1)) - source.mean(axis=(0, 1))).max() < 3


def test_exif_orientation_is_applied(zoo):
    # Saved 32 wide and 18 high with "rotate 90": it must load 32 high.
    assert images.load_rgb(zoo.good["jpeg exif rotated"]).shape == (32, 18, 3)


def test_transparency_becomes_white(tmp_path):
    from PIL import Image

    clear = Image.new("RGBA", (16, 16), (255, 0, 0, 0))
    path = imagefactory.save(clear, tmp_path / "clear.png")
    assert (images.load_rgb(path) == 255).all()


def test_16_bit_png_keeps_its_range(zoo):
    array = images.load_rgb(zoo.good["png I;16"])
    assert array.min() == 0 and array.max() == 255


def test_junk_is_ignored_not_bad(zoo):
    scan = scan_folder(zoo.root)
    assert set(scan.ignored) == set(zoo.junk)
    assert not set(zoo.junk) & {b.path for b in scan.bad}


# --- too large: the real limit and a lowered one ------------------------------

def test_lowered_limit_reports_too_large_and_load_refuses(monkeypatch, tmp_path):
    path = imagefactory.write_jpeg(tmp_path / "c" / "big.jpg", (40, 30))
    assert image_problem(path) is None
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    assert image_problem(path).startswith("too large: 40x30 = 1,200 pixels")
    with pytest.raises(ValueError, match="too large"):
        images.load_rgb(path, 16)


def test_pillow_own_bomb_limit_is_a_bad_file(monkeypatch, tmp_path):
    from PIL import Image

    path = imagefactory.write_jpeg(tmp_path / "c" / "big.jpg", (40, 40))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # raises above 200
    assert image_problem(path).startswith("too large")


# --- layouts and problems ------------------------------------------------------

def test_flat_layout(flat_folder):
    scan = scan_folder(flat_folder)
    assert scan.layout == "flat" and scan.usable
    assert scan.class_names == ["cats", "dogs", "fish"]
    assert {c: n["good"] for c, n in scan.counts().items()} == \
        {"cats": 10, "dogs": 10, "fish": 10}
    assert scan.bad == [] and scan.warnings == []


def test_split_layout(split_folder):
    scan = scan_folder(split_folder)
    assert scan.layout == "split" and scan.usable
    assert set(scan.good) == {"train", "val"}
    assert {c: len(f) for c, f in scan.good["train"].items()} == {"cats": 6, "dogs": 6}
    assert {c: len(f) for c, f in scan.good["val"].items()} == {"cats": 3, "dogs": 3}


@pytest.mark.parametrize("layout", ["flat", "split", "train only"])
def test_good_files_reads_the_same_in_every_layout(tmp_path, layout):
    root = imagefactory.make_folder(
        tmp_path / "d", per_class=4, layout="flat" if layout == "flat" else "split",
        val_per_class=2 if layout == "split" else 0)
    scan = scan_folder(root)
    for name in ("cats", "dogs"):
        on_disk = sorted(p.resolve() for p in root.rglob(f"{name}/*.jpg"))
        assert scan.good_files(name) == on_disk
        assert len(on_disk) == (6 if layout == "split" else 4)
    with pytest.raises(KeyError, match="'birds'.*classes: cats, dogs"):
        scan.good_files("birds")


def test_validation_folder_name_is_accepted(split_folder):
    (split_folder / "val").rename(split_folder / "Validation")
    scan = scan_folder(split_folder)
    assert scan.layout == "split" and set(scan.good) == {"train", "val"}


def test_split_without_val_warns(tmp_path):
    root = imagefactory.make_folder(tmp_path / "d", per_class=4, layout="split",
                                    val_per_class=0)
    scan = scan_folder(root)
    assert scan.usable
    assert any("no val/" in w for w in scan.warnings)


def test_single_class_is_a_problem(tmp_path):
    root = imagefactory.make_folder(tmp_path / "d", ("cats",), per_class=4)
    scan = scan_folder(root)
    assert not scan.usable
    assert any("at least two classes" in p and "cats" in p for p in scan.problems)


def test_class_with_only_bad_files_does_not_count(tmp_path):
    root = imagefactory.make_folder(tmp_path / "d", ("cats",), per_class=4)
    (root / "dogs").mkdir()
    (root / "dogs" / "a.jpg").write_bytes(b"")
    scan = scan_folder(root)
    assert not scan.usable
    assert scan.counts()["dogs"] == {"good": 0, "bad": 1}


def test_val_class_missing_from_train_is_a_problem(split_folder):
    imagefactory.write_jpeg(split_folder / "val" / "birds" / "b.jpg")
    scan = scan_folder(split_folder)
    assert not scan.usable
    assert any("train/ lacks" in p and "birds" in p for p in scan.problems)


def test_train_class_missing_from_val_is_a_warning(split_folder):
    shutil.rmtree(split_folder / "val" / "dogs")
    imagefactory.write_jpeg(split_folder / "val" / "cats" / "extra.jpg")
    scan = scan_folder(split_folder)
    assert scan.usable
    assert any("no validation images" in w and "dogs" in w for w in scan.warnings)


def test_val_without_train_is_a_problem(split_folder):
    (split_folder / "train").rename(split_folder / "training-set")
    scan = scan_folder(split_folder)
    assert not scan.usable
    assert any("val/ but no train/" in p for p in scan.problems)


@pytest.mark.parametrize("workers", [0, -1, 2.0, True])
def test_bad_workers(flat_folder, workers):
    with pytest.raises(ValueError, match=r"workers=.* is not valid"):
        scan_folder(flat_folder, workers=workers)


def test_missing_folder_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        scan_folder(tmp_path / "nowhere")


# --- the JSON contract ---------------------------------------------------------

def test_to_json_contract(zoo):
    scan = scan_folder(zoo.root)
    data = json.loads(json.dumps(scan.to_json()))
    for key in ("path", "layout", "classes", "bad_files", "ignored", "usable",
                "problems", "warnings"):
        assert key in data, key
    assert data["path"] == str(zoo.root.resolve())
    assert data["layout"] == "flat"
    assert data["usable"] is True and data["problems"] == []
    assert set(data["classes"]) == set(zoo.good_per_class)
    for name, counts in data["classes"].items():
        assert set(counts) == {"good", "bad"}
        assert counts["good"] == zoo.good_per_class[name]
    expected_bad = {p.relative_to(zoo.root).as_posix(): r for p, r in zoo.bad.items()}
    assert {b["path"] for b in data["bad_files"]} == set(expected_bad)
    for entry in data["bad_files"]:
        assert set(entry) == {"path", "reason"}
        assert not entry["path"].startswith("/")
        assert expected_bad[entry["path"]] in entry["reason"]
    assert set(data["ignored"]) == {p.relative_to(zoo.root).as_posix()
                                    for p in zoo.junk}


def test_report_names_bad_files_and_counts(zoo):
    text = scan_folder(zoo.root).report()
    assert "truncated.jpg" in text and imagefactory.NAMES_CLASS in text
    assert "usable" in text
    assert "<pre>" in scan_folder(zoo.root)._repr_html_()


# --- the scan leaves the process as it found it ---------------------------------

def test_scan_leaves_warning_filters_alone(tmp_path):
    # catch_warnings() inside worker threads once left an "ignore everything"
    # filter behind; with many small files the threads overlap.
    root = imagefactory.make_folder(tmp_path / "d", per_class=60, fmt="PNG")
    before = list(warnings.filters)
    for _ in range(3):
        scan_folder(root, workers=4)
        assert list(warnings.filters) == before


def test_where_shows_a_folder_from_the_project_or_tlh_home(tmp_path, monkeypatch):
    from tlhelpers import config
    from tlhelpers.data.scan import where

    monkeypatch.setenv("TLH_HOME", str(tmp_path))
    assert where(tmp_path / "demo" / "my_photos") == "$TLH_HOME/demo/my_photos"
    assert where(tmp_path) == "$TLH_HOME"
    assert where(config.PROJECT_ROOT / "data" / "flowers-small") == "data/flowers-small"
    assert where("/no/such/place") == "/no/such/place"
