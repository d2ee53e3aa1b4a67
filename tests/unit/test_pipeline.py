"""split_files, make_dataset and load_splits on tiny folders."""

from __future__ import annotations

import os

import imagefactory
import numpy as np
import pytest

from tlhelpers.data import load_splits, make_dataset, scan_folder, split_files


def as_set(items):
    return {(p, label) for p, label in items}


# --- split_files -------------------------------------------------------------------

def test_seeded_split_is_fixed_disjoint_and_per_class(flat_folder):
    scan = scan_folder(flat_folder)
    first = split_files(scan, val_fraction=0.3, seed=7)
    second = split_files(scan_folder(flat_folder), val_fraction=0.3, seed=7)
    assert first.train == second.train and first.val == second.val
    assert first.test == second.test and first.test_source == "held out"
    sides = [{p for p, _ in side} for side in (first.train, first.val, first.test)]
    assert not sides[0] & sides[1] and not sides[0] & sides[2]
    assert not sides[1] & sides[2]
    assert len(first.train) + len(first.val) + len(first.test) == 30
    # Each image's side comes from a hash of its name, so a class holds out
    # about 30% for validation and 20% for test, not exactly 3 and 2 of 10;
    # every class holds out some of each.
    counts = first.counts()
    assert all(1 <= n <= 6 for n in counts["val"].values()), counts
    assert all(1 <= n <= 5 for n in counts["test"].values()), counts
    assert 5 <= len(first.val) <= 14, counts
    for path, label in first.train + first.val + first.test:
        assert path.parent.name == first.class_names[label]


def test_another_seed_gives_another_split(flat_folder):
    scan = scan_folder(flat_folder)
    a = split_files(scan, seed=1)
    b = split_files(scan, seed=2)
    assert as_set(a.val) != as_set(b.val)
    assert as_set(a.train + a.val + a.test) == as_set(b.train + b.val + b.test)


def test_the_test_part_leaves_the_validation_part_as_it_was(flat_folder):
    # Validation is the same slice of the hash as before test photos were
    # held out: adding the test split moved no validation photo.
    scan = scan_folder(flat_folder)
    three = split_files(scan, seed=42)
    two_way = split_files(scan, seed=42, test_fraction=1e-9)
    assert three.val == two_way.val
    assert as_set(three.train + three.test) == as_set(two_way.train + two_way.test)


@pytest.mark.parametrize("fractions", [(0.5, 0.5), (0.9, 0.3)])
def test_fractions_that_leave_no_training_photos_are_refused(flat_folder, fractions):
    with pytest.raises(ValueError, match="leaves no training"):
        split_files(scan_folder(flat_folder), val_fraction=fractions[0],
                    test_fraction=fractions[1])


def add_images(folder, n, seed=500):
    """`n` new JPEGs spread over the class folders, sorting among the old ones."""
    classes = sorted(p for p in folder.iterdir() if p.is_dir())
    added = set()
    for i in range(n):
        cls = classes[i % len(classes)]
        path = cls / f"{cls.name}_all_{i // len(classes):03d}b.jpg"
        added.add(imagefactory.write_jpeg(path, (20, 20), seed + i))
    return added


def test_adding_images_moves_none_between_train_and_val(flat_folder):
    scan = scan_folder(flat_folder)
    before = split_files(scan, seed=42)
    added = add_images(flat_folder, 40)
    after = split_files(scan_folder(flat_folder), seed=42)
    old = [{p for p, _ in side} for side in (before.train, before.val, before.test)]
    new = [{p for p, _ in side} for side in (after.train, after.val, after.test)]
    for i, j in ((0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)):
        assert not old[i] & new[j], f"images moved from split {i} to split {j}"
    assert all(o <= n for o, n in zip(old, new))
    assert set.union(*new) - set.union(*old) == added
    assert all(side & added for side in new)  # new images go to every side


def test_caps_keep_their_images_when_images_are_added(flat_folder):
    before = split_files(scan_folder(flat_folder), 3, 1, seed=5)
    added = add_images(flat_folder, 30)
    after = split_files(scan_folder(flat_folder), 3, 1, seed=5)
    assert after.counts() == {"train": {"cats": 3, "dogs": 3, "fish": 3},
                              "val": {"cats": 1, "dogs": 1, "fish": 1},
                              "test": {"cats": 1, "dogs": 1, "fish": 1}}
    # A capped image leaves only for a new one: no old image comes in instead.
    for old, new in ((before.train, after.train), (before.val, after.val),
                     (before.test, after.test)):
        newcomers = {p for p, _ in new} - {p for p, _ in old}
        assert newcomers <= added, sorted(p.name for p in newcomers - added)
    kept = {p for p, _ in before.train} & {p for p, _ in after.train}
    assert kept, "adding images replaced every capped training image"


@pytest.mark.parametrize("n", [3, 4, 5])
@pytest.mark.parametrize("val_fraction", [0.05, 0.2, 0.95])
def test_every_class_of_two_or_more_has_train_and_val(tmp_path, n, val_fraction):
    classes = tuple(f"c{i}" for i in range(8))
    root = imagefactory.make_folder(tmp_path / "d", classes, per_class=n)
    imagefactory.write_jpeg(root / "single" / "only.jpg")
    files = split_files(scan_folder(root), val_fraction=val_fraction, seed=3,
                        test_fraction=0.04)
    counts = files.counts()
    for name in classes:
        assert counts["val"][name] >= 1 and counts["train"][name] >= 1, counts
        if n >= 3:  # a class of three or more also has a test photo
            assert counts["test"][name] >= 1, counts
            assert sum(counts[s][name] for s in ("train", "val", "test")) == n
    assert counts["train"]["single"] == 1 and counts["val"]["single"] == 0
    assert counts["test"]["single"] == 0


def test_too_few_photos_for_a_test_split_grade_on_validation_and_warn(tmp_path):
    root = imagefactory.make_folder(tmp_path / "d", ("a", "b"), per_class=2)
    with pytest.warns(UserWarning, match="too few photos for a test split"):
        files = split_files(scan_folder(root))
    assert files.test == files.val and files.test_source == "validation"


def test_split_layout_cuts_its_own_val_into_validation_and_test(split_folder):
    files = split_files(scan_folder(split_folder))
    assert all(p.parts[-3] == "train" for p, _ in files.train)
    assert all(p.parts[-3] == "val" for p, _ in files.val + files.test)
    assert not as_set(files.val) & as_set(files.test)
    counts = files.counts()
    assert counts["train"] == {"cats": 6, "dogs": 6}
    for name in ("cats", "dogs"):
        assert counts["val"][name] >= 1 and counts["test"][name] >= 1, counts
        assert counts["val"][name] + counts["test"][name] == 3
    assert files.test_source == "held out"


def test_split_layout_with_a_test_folder_keeps_all_three(split_folder):
    for name in ("cats", "dogs"):
        for i in range(2):
            imagefactory.write_jpeg(split_folder / "test" / name / f"t{i}.jpg",
                                    seed=900 + i)
    files = split_files(scan_folder(split_folder))
    assert files.counts() == {"train": {"cats": 6, "dogs": 6},
                              "val": {"cats": 3, "dogs": 3},
                              "test": {"cats": 2, "dogs": 2}}
    assert all(p.parts[-3] == "test" for p, _ in files.test)
    assert files.test_source == "folder"


def test_a_test_class_that_train_lacks_is_refused(split_folder):
    imagefactory.write_jpeg(split_folder / "test" / "birds" / "b.jpg")
    scan = scan_folder(split_folder)
    assert any("test/ has classes that train/ lacks: birds" in p
               for p in scan.problems)


def test_split_layout_without_val_is_split_and_warns(tmp_path):
    root = imagefactory.make_folder(tmp_path / "d", per_class=5, layout="split",
                                    val_per_class=0)
    with pytest.warns(UserWarning, match="no val/"):
        files = split_files(scan_folder(root), val_fraction=0.4)
    counts = files.counts()
    for name in ("cats", "dogs"):
        assert 1 <= counts["val"][name] <= 4, counts
        assert sum(counts[s][name] for s in ("train", "val", "test")) == 5
    assert all(p.parts[-3] == "train"
               for p, _ in files.train + files.val + files.test)


def test_per_class_caps(flat_folder):
    scan = scan_folder(flat_folder)
    files = split_files(scan, train_per_class=3, val_per_class=1, seed=5)
    assert files.counts() == {"train": {"cats": 3, "dogs": 3, "fish": 3},
                              "val": {"cats": 1, "dogs": 1, "fish": 1},
                              "test": {"cats": 1, "dogs": 1, "fish": 1}}
    # A cap takes a subset of the uncapped split, and the same one every time.
    full = split_files(scan, seed=5)
    assert as_set(files.train) <= as_set(full.train)
    assert as_set(files.val) <= as_set(full.val)
    assert files.train == split_files(scan, 3, 1, seed=5).train


@pytest.mark.filterwarnings("ignore:class folder empty class")
def test_bad_files_never_reach_the_split(zoo):
    files = split_files(scan_folder(zoo.root), seed=0)
    used = {p for p, _ in files.train + files.val + files.test}
    assert used == set(zoo.good.values())
    assert not used & set(zoo.bad) and not used & set(zoo.junk)


def test_unusable_folder_is_refused(tmp_path):
    root = imagefactory.make_folder(tmp_path / "d", ("cats",), per_class=3)
    with pytest.raises(ValueError, match="at least two classes"):
        split_files(scan_folder(root))


@pytest.mark.parametrize("kwargs, name", [
    ({"train_per_class": 0}, "train_per_class"),
    ({"val_per_class": -1}, "val_per_class"),
    ({"train_per_class": 2.5}, "train_per_class"),
    ({"train_per_class": True}, "train_per_class"),
    ({"val_fraction": 0.0}, "val_fraction"),
    ({"val_fraction": 1.0}, "val_fraction"),
    ({"val_fraction": "0.2"}, "val_fraction"),
])
def test_split_files_bad_parameters(flat_folder, kwargs, name):
    with pytest.raises(ValueError, match=f"{name}=.* is not valid"):
        split_files(scan_folder(flat_folder), **kwargs)


# --- make_dataset -------------------------------------------------------------------

def test_make_dataset_shapes_and_dtypes(flat_folder):
    files = split_files(scan_folder(flat_folder))
    ds = make_dataset(files.train, image_size=24, batch_size=5)
    images, labels = next(iter(ds))
    assert images.shape == (5, 24, 24, 3)
    assert images.dtype.name == "float32" and labels.dtype.name == "int32"
    values = images.numpy()
    assert values.min() >= 0.0 and values.max() <= 255.0 and values.max() > 1.0


@pytest.mark.filterwarnings("ignore:class folder empty class")
def test_an_epoch_over_the_zoo_finishes(zoo):
    files = split_files(scan_folder(zoo.root), seed=0)
    items = files.train + files.val
    ds = make_dataset(items, image_size=16, batch_size=4, shuffle=True)
    seen, labels = 0, []
    for images, batch_labels in ds:
        assert images.shape[1:] == (16, 16, 3)
        assert np.isfinite(images.numpy()).all()
        seen += int(images.shape[0])
        labels += batch_labels.numpy().tolist()
    assert seen == len(items)
    assert sorted(labels) == sorted(label for _, label in items)


def stages(ds):
    """Every dataset of a tf.data pipeline, from the output back to the source."""
    yield ds
    for parent in ds._inputs():
        yield from stages(parent)


def test_the_cache_holds_uint8_and_the_output_is_float32(flat_folder):
    import tensorflow as tf

    from tlhelpers.data import load_rgb

    files = split_files(scan_folder(flat_folder))
    ds = make_dataset(files.train, image_size=24, batch_size=4)
    caches = [d for d in stages(ds) if "Cache" in type(d).__name__]
    assert len(caches) == 1, [type(d).__name__ for d in stages(ds)]
    # A quarter of the memory of float32: the cast comes after the cache.
    assert caches[0].element_spec[0].dtype == tf.uint8
    assert ds.element_spec[0].dtype == tf.float32
    images = np.concatenate([x.numpy() for x, _ in ds])
    expected = np.stack([load_rgb(p, 24) for p, _ in files.train])
    assert images.dtype == np.float32
    np.testing.assert_array_equal(images, expected.astype(np.float32))


def test_unshuffled_dataset_keeps_order_and_shuffled_covers_all(flat_folder):
    files = split_files(scan_folder(flat_folder))
    plain = make_dataset(files.train, 16, 8, shuffle=False, cache=False)
    labels = np.concatenate([y.numpy() for _, y in plain])
    assert labels.tolist() == [label for _, label in files.train]
    mixed = make_dataset(files.train, 16, 8, shuffle=True, seed=3)
    mixed_labels = np.concatenate([y.numpy() for _, y in mixed])
    assert sorted(mixed_labels.tolist()) == sorted(labels.tolist())


def test_non_utf8_file_name_loads(tmp_path):
    root = imagefactory.make_folder(tmp_path / "d", per_class=2)
    odd = imagefactory.write_non_utf8_name(root / "cats")
    if odd is None:
        pytest.skip("this file system refuses non-UTF-8 names")
    broken = os.path.join(os.fsencode(root / "dogs"), b"bro\xefken.jpg")
    open(broken, "wb").close()
    scan = scan_folder(root)
    assert odd in scan.good["all"]["cats"]
    # The report must print (it goes to a UTF-8 terminal) and name the file.
    report = scan.report()
    report.encode("utf-8")
    assert "bro" in report and "ken.jpg" in report
    items = [(p, 0) for p in scan.good["all"]["cats"]]
    batch = next(iter(make_dataset(items, 16, 8)))
    assert batch[0].shape == (3, 16, 16, 3)


@pytest.mark.parametrize("kwargs, name", [
    ({"image_size": 3}, "image_size"),
    ({"image_size": 0}, "image_size"),
    ({"image_size": None}, "image_size"),
    ({"image_size": 16.0}, "image_size"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": None}, "batch_size"),
])
def test_make_dataset_bad_parameters(flat_folder, kwargs, name):
    files = split_files(scan_folder(flat_folder))
    args = {"image_size": 16, "batch_size": 4, **kwargs}
    with pytest.raises(ValueError, match=f"{name}=.* is not valid"):
        make_dataset(files.train, **args)


def test_make_dataset_needs_items():
    with pytest.raises(ValueError, match="items"):
        make_dataset([], 16, 4)


# --- load_splits --------------------------------------------------------------------

def test_load_splits_unpacks_and_carries_files_and_scan(split_folder):
    splits = load_splits(split_folder, image_size=16, batch_size=4,
                         train_per_class=None, val_per_class=None)
    train_ds, val_ds, class_names = splits
    assert class_names == ["cats", "dogs"] == splits.class_names
    assert splits.train_ds is train_ds and splits.val_ds is val_ds
    assert splits.scan.root == split_folder.resolve()
    # val/ (3 per class) is cut in two: validation picks, test grades.
    assert len(splits.files.train) == 12
    assert len(splits.files.val) + len(splits.files.test) == 6
    n_val = sum(int(x.shape[0]) for x, _ in val_ds)
    assert n_val == len(splits.files.val)
    n_test = sum(int(x.shape[0]) for x, _ in splits.test_ds)
    assert n_test == len(splits.files.test) >= 2
    x, y = next(iter(train_ds))
    assert x.shape == (4, 16, 16, 3) and set(y.numpy()) <= {0, 1}


def test_load_splits_reads_the_profile(monkeypatch, flat_folder):
    from tlhelpers import config

    monkeypatch.setenv("TLH_PROFILE", "quick")
    profile = config.get_profile()
    splits = load_splits(flat_folder, train_per_class=4, val_per_class=2)
    x, _ = next(iter(splits.val_ds))
    assert x.shape[1:] == profile.image_shape
    assert splits.files.counts()["train"] == {"cats": 4, "dogs": 4, "fish": 4}


def test_load_splits_uses_tlh_dataset(monkeypatch, flat_folder):
    monkeypatch.setenv("TLH_DATASET", str(flat_folder))
    splits = load_splits(image_size=16, batch_size=4)
    assert splits.class_names == ["cats", "dogs", "fish"]


@pytest.mark.parametrize("kwargs, name", [
    ({"train_per_class": 0}, "train_per_class"),
    ({"val_per_class": 0}, "val_per_class"),
    ({"image_size": 3}, "image_size"),
    ({"image_size": 0}, "image_size"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": -4}, "batch_size"),
    ({"val_fraction": 1.5}, "val_fraction"),
])
def test_load_splits_bad_parameters(flat_folder, kwargs, name):
    with pytest.raises(ValueError, match=f"{name}=.* is not valid"):
        load_splits(flat_folder, **{"image_size": 16, "batch_size": 4, **kwargs})


def test_load_splits_bad_parameters_fail_before_the_scan(monkeypatch, flat_folder):
    from tlhelpers.data import pipeline

    def no_scan(*args, **kwargs):
        raise AssertionError("scanned before checking the parameters")

    monkeypatch.setattr(pipeline, "scan_folder", no_scan)
    with pytest.raises(ValueError, match="train_per_class"):
        load_splits(flat_folder, train_per_class=0)


def test_load_splits_with_a_scan_needs_no_path(offline, monkeypatch, flat_folder):
    # With `scan=` and no path the scanned folder is used, not TLH_DATASET or
    # the (offline, undownloaded) default dataset.
    monkeypatch.delenv("TLH_DATASET", raising=False)
    scan = scan_folder(flat_folder)
    splits = load_splits(image_size=16, batch_size=4, scan=scan)
    assert splits.scan is scan
    assert splits.class_names == ["cats", "dogs", "fish"]


def test_rebuild_starts_the_shuffle_over_on_the_same_cache(flat_folder, monkeypatch):
    import keras

    from tlhelpers.data import pipeline

    decoded = []
    real = pipeline.load_rgb
    monkeypatch.setattr(pipeline, "load_rgb",
                        lambda path, size=None: decoded.append(path) or real(path, size))
    files = split_files(scan_folder(flat_folder))
    keras.utils.set_random_seed(0)
    ds = make_dataset(files.train, 16, 4, shuffle=True, seed=3)

    def order(d):
        return np.concatenate([y.numpy() for _, y in d]).tolist()

    first, second = order(ds), order(ds)
    assert first != second  # each epoch reshuffles
    assert len(decoded) == len(files.train)  # the second epoch read the cache
    keras.utils.set_random_seed(0)
    again = ds.tlh_rebuild()
    assert again.skipped is ds.skipped and callable(again.tlh_rebuild)
    assert order(again) == first
    assert len(decoded) == len(files.train)  # the same cache: nothing decoded twice
