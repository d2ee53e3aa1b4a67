"""A learner's own messy folder: bad files are reported and skipped, never fatal.

The whole path is exercised: scan, split, tf.data epoch. Counts are compared
with what `imagefactory` wrote, so no file can vanish without a test failing.
"""

from __future__ import annotations

import os
import shutil
import warnings

import imagefactory
import pytest

from tlhelpers.data import load_splits, make_dataset, scan_folder

pytestmark = pytest.mark.filterwarnings("ignore:class folder")


def epoch_count(ds) -> int:
    return sum(int(images.shape[0]) for images, _ in ds)


def test_zoo_trains_end_to_end(zoo):
    splits = load_splits(zoo.root, image_size=16, batch_size=8,
                         train_per_class=None, val_per_class=None, seed=1)
    assert splits.class_names == zoo.classes
    assert {b.path for b in splits.scan.bad} == set(zoo.bad)
    n_train = epoch_count(splits.train_ds)
    n_val = epoch_count(splits.val_ds)
    n_test = epoch_count(splits.test_ds)
    assert n_train + n_val + n_test == len(zoo.good)
    assert n_train == len(splits.files.train) and n_val == len(splits.files.val)
    assert n_test == len(splits.files.test)
    # A second epoch reads the in-memory cache and sees the same images.
    assert epoch_count(splits.train_ds) == n_train


def test_zoo_in_split_layout(tmp_path, zoo):
    # The zoo as train/, and the same mess again as val/: bad files in both.
    root = tmp_path / "split"
    shutil.copytree(zoo.root, root / "train", symlinks=True)
    shutil.copytree(zoo.root, root / "val", symlinks=True)
    scan = scan_folder(root)
    assert scan.layout == "split" and scan.usable, scan.problems
    assert len(scan.bad) == 2 * len(zoo.bad)
    good = sum(len(f) for per in scan.good.values() for f in per.values())
    assert good == 2 * len(zoo.good)
    splits = load_splits(root, image_size=16, batch_size=8, train_per_class=None,
                         val_per_class=None, scan=scan)
    # val/ is cut in two: validation picks, test grades.
    assert epoch_count(splits.val_ds) + epoch_count(splits.test_ds) == len(zoo.good)
    assert epoch_count(splits.train_ds) == len(zoo.good)


def test_workers_do_not_change_the_verdict(zoo):
    one = scan_folder(zoo.root, workers=1).to_json()
    many = scan_folder(zoo.root, workers=8).to_json()
    assert one == many


def test_broken_link_is_reported_not_lost(zoo_copy):
    link = zoo_copy.root / imagefactory.FORMATS_CLASS / "gone.jpg"
    os.symlink(zoo_copy.root / "does-not-exist.jpg", link)
    scan = scan_folder(zoo_copy.root)
    reasons = {b.path: b.reason for b in scan.bad}
    assert "missing" in reasons[link]


def test_link_to_a_good_image_is_good(zoo_copy):
    link = zoo_copy.root / imagefactory.NAMES_CLASS / "alias.jpg"
    os.symlink(zoo_copy.good["jpeg rgb"], link)
    scan = scan_folder(zoo_copy.root)
    assert link in scan.good["all"][imagefactory.NAMES_CLASS]


def test_folder_named_like_an_image_is_not_a_file(zoo_copy):
    (zoo_copy.root / imagefactory.FORMATS_CLASS / "album.jpg").mkdir()
    scan = scan_folder(zoo_copy.root)
    assert scan.counts()[imagefactory.FORMATS_CLASS]["good"] == \
        zoo_copy.good_per_class[imagefactory.FORMATS_CLASS]


def test_every_file_bad_is_not_usable_and_says_why(tmp_path):
    for name in ("cats", "dogs"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.jpg").write_bytes(b"")
        (tmp_path / name / "b.jpg").write_bytes(imagefactory.truncated_jpeg_bytes())
    scan = scan_folder(tmp_path)
    assert not scan.usable
    assert len(scan.bad) == 4
    with pytest.raises(ValueError, match="at least two classes"):
        load_splits(tmp_path, image_size=16, batch_size=2, scan=scan)


def test_one_class_all_bad_is_not_usable(tmp_path):
    imagefactory.make_folder(tmp_path, ("cats",), per_class=3)
    (tmp_path / "dogs").mkdir()
    (tmp_path / "dogs" / "a.jpg").write_bytes(b"<html></html>")
    scan = scan_folder(tmp_path)
    assert not scan.usable
    assert any("dogs" in w for w in scan.warnings)


def test_file_corrupted_after_a_scan_is_caught_by_the_next(zoo_copy):
    victim = zoo_copy.good["png rgb"]
    assert victim not in {b.path for b in scan_folder(zoo_copy.root).bad}
    victim.write_bytes(victim.read_bytes()[:60])
    bad = {b.path: b.reason for b in scan_folder(zoo_copy.root).bad}
    assert "truncated" in bad[victim] or "cannot be decoded" in bad[victim]


def test_real_decompression_bomb_is_refused_on_its_header(zoo, monkeypatch):
    # Decoding the 9000x9000 bomb would allocate it; the size check must come
    # first, on the header alone.
    from PIL import ImageFile, PngImagePlugin

    original = ImageFile.ImageFile.load

    def guarded_load(self, *args, **kwargs):
        if self.size == (9000, 9000):
            raise AssertionError("the bomb was decoded")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", guarded_load,
                        raising=False)
    bomb = next(p for p, r in zoo.bad.items() if r == imagefactory.REASON_TOO_LARGE)
    scan = scan_folder(zoo.root)
    assert any(b.path == bomb and "too large: 9000x9000" in b.reason
               for b in scan.bad)
    good = sum(len(f) for per in scan.good.values() for f in per.values())
    assert good == len(zoo.good)


@pytest.mark.parametrize("what", ["missing", "file"])
def test_load_splits_on_a_path_that_is_not_a_folder(tmp_path, what):
    path = tmp_path / "photos"
    if what == "file":
        path.write_bytes(b"x")
    with pytest.raises(ValueError, match="neither a folder nor a registered"):
        load_splits(path, image_size=16, batch_size=2)


# --- a file that breaks after the scan ------------------------------------------

@pytest.mark.parametrize("damage", ["truncate", "overwrite", "delete"])
def test_file_broken_after_the_scan_is_skipped_with_a_warning(tmp_path, damage):
    root = imagefactory.make_folder(tmp_path / "d", per_class=5, fmt="PNG")
    splits = load_splits(root, image_size=16, batch_size=4, train_per_class=None,
                         val_per_class=None, seed=1)
    victim = splits.files.train[3][0]
    if damage == "truncate":
        victim.write_bytes(victim.read_bytes()[:60])
    elif damage == "overwrite":
        victim.write_text("<html>403 Forbidden</html>")
    else:
        victim.unlink()
    with pytest.warns(UserWarning) as caught:
        n_train = epoch_count(splits.train_ds)
    assert n_train == len(splits.files.train) - 1
    named = [w for w in caught if victim.name in str(w.message)]
    assert len(named) == 1, [str(w.message) for w in caught]
    assert "check-data" in str(named[0].message)  # says how to find the rest
    assert splits.train_ds.skipped.count == 1
    assert victim in splits.train_ds.skipped.files
    # The next epoch reads the cache: the same images, no second warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert epoch_count(splits.train_ds) == n_train
    assert epoch_count(splits.val_ds) == len(splits.files.val)
    assert splits.val_ds.skipped.count == 0


def test_file_broken_after_the_scan_warns_once_without_a_cache(tmp_path):
    root = imagefactory.make_folder(tmp_path / "d", per_class=4)
    items = [(p, 0) for p in sorted((root / "cats").iterdir())]
    ds = make_dataset(items, 16, 2, cache=False, skip_unreadable=True)
    items[1][0].write_bytes(b"")
    with pytest.warns(UserWarning, match=items[1][0].name):
        assert epoch_count(ds) == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert epoch_count(ds) == 3  # read again, skipped again, said once
    assert ds.skipped.count == 1


def test_without_skipping_a_broken_file_fails_and_names_it(tmp_path):
    # Stored features need one row per item: there a missing image must stop.
    import tensorflow as tf

    root = imagefactory.make_folder(tmp_path / "d", per_class=3)
    items = [(p, 0) for p in sorted((root / "dogs").iterdir())]
    items[0][0].write_bytes(b"not an image")
    ds = make_dataset(items, 16, 2, cache=False)
    with pytest.raises(tf.errors.OpError, match=items[0][0].name):
        epoch_count(ds)
