"""Notebook 00's exercises: hashed-split fractions and the last batch's shape."""

from __future__ import annotations

import imagefactory
import pytest

from tlhelpers.checks import nb00
from tlhelpers.data import scan_folder, split_files


@pytest.fixture(scope="module")
def flat_scan(tmp_path_factory):
    root = imagefactory.make_folder(tmp_path_factory.mktemp("nb00") / "photos",
                                    ("cats", "dogs", "fish"), per_class=40)
    return scan_folder(root)


def _fractions(scan, **kwargs):
    return nb00.held_out_fractions(split_files(scan, **kwargs))


def _verdict(answer, scan):
    return nb00.check_val_fractions(answer, scan, val_fraction=0.3,
                                    test_fraction=0.1)


def test_right_fractions_pass_also_rounded(flat_scan):
    right = _fractions(flat_scan, val_fraction=0.3, test_fraction=0.1)
    # The hash holds out about 30%, not exactly, on these 40 per class.
    assert any(abs(v - 0.3) > 0.01 for v in right.values())
    assert _verdict(right, flat_scan)
    rounded = {name: round(value, 2) for name, value in right.items()}
    verdict = _verdict(rounded, flat_scan)
    assert verdict and "above or below it by chance" in verdict.message


def test_placeholder_is_your_turn(flat_scan):
    verdict = _verdict(None, flat_scan)
    assert not verdict and not verdict.answered


@pytest.mark.parametrize("make, words", [
    (lambda right, scan: {name: 0.3 for name in right}, "fraction you asked for"),
    (lambda right, scan: {name: round(v * 40) for name, v in right.items()},
     "look like counts"),
    (lambda right, scan: _fractions(scan), "default fractions"),
    (lambda right, scan: {name: v + 0.1 for name, v in right.items()},
     "divide by its photos in train, val and test"),
    (lambda right, scan: {"cats": 0.3}, "class names as keys"),
    (lambda right, scan: [0.3, 0.3, 0.3], "Use a dict"),
    (lambda right, scan: {name: "0.3" for name in right}, "one number"),
])
def test_each_wrong_answer_gets_its_own_hint(flat_scan, make, words):
    right = _fractions(flat_scan, val_fraction=0.3, test_fraction=0.1)
    verdict = _verdict(make(right, flat_scan), flat_scan)
    assert not verdict and verdict.answered
    assert words in verdict.message, verdict.message


def test_dividing_by_training_photos_or_giving_test_shares_is_named(flat_scan):
    files = split_files(flat_scan, val_fraction=0.3, test_fraction=0.1)
    counts = files.counts()
    over_train = {name: counts["val"][name] / counts["train"][name]
                  for name in files.class_names}
    verdict = _verdict(over_train, flat_scan)
    assert not verdict and "training photos only" in verdict.message
    test_share = {name: counts["test"][name] / 40 for name in files.class_names}
    verdict = _verdict(test_share, flat_scan)
    assert not verdict and "test photos" in verdict.message


# --- exercise 2: the last batch ------------------------------------------------

ITEMS = [(f"photo{i}.jpg", 0) for i in range(387)]


def _batch(answer, items=ITEMS):
    return nb00.check_last_batch_shape(answer, items, image_size=96,
                                       batch_size=32)


def test_last_batch_shape_is_computed_from_the_items():
    assert _batch((3, 96, 96, 3))
    assert _batch([3, 96, 96, 3])  # a list reads the same
    # 384 photos fill their last batch: any count works, not one number.
    full = _batch((32, 96, 96, 3), ITEMS[:384])
    assert full and "full too" in full.message
    assert not _batch((3, 96, 96, 3), ITEMS[:384])


def test_last_batch_placeholder_is_your_turn():
    verdict = _batch(None)
    assert not verdict and not verdict.answered


@pytest.mark.parametrize("answer, words", [
    ((32, 96, 96, 3), "full batch"),
    ((3, 150, 150, 3), "image_size"),
    ((3, 3, 96, 96), "channels last"),
    ((387, 96, 96, 3), "every photo at once"),
    ((3, 96, 96, 1), "3 channels"),
    ((3, 96, 64, 3), "square"),
    ((12, 96, 96, 3), "left over"),
    ((96, 96, 3), "four integers"),
    ("a batch", "four integers"),
])
def test_last_batch_wrong_answers_get_their_hint(answer, words):
    verdict = _batch(answer)
    assert not verdict and verdict.answered
    assert words in verdict.message, verdict.message
