"""Self-checks for the exercises of `00_setup_and_data.ipynb`."""

from __future__ import annotations

import math
import numbers

from .core import Verdict, hint, passed, your_turn


def held_out_fractions(files) -> dict[str, float]:
    """class -> the fraction of its photos in `files.val` (a FileSplit)."""
    counts = files.counts()
    out = {}
    for name in files.class_names:
        total = sum(counts[split][name] for split in counts)
        out[name] = counts["val"][name] / total if total else 0.0
    return out


def _all_close(given: dict, expected: dict, tol: float) -> bool:
    return all(math.isclose(float(given[k]), expected[k], abs_tol=tol)
               for k in expected)


def check_val_fractions(answer, scan, val_fraction: float = 0.3,
                        test_fraction: float = 0.1, seed: int = 42) -> Verdict:
    """Exercise 1: class -> fraction of its photos that a hashed split puts in validation.

    The split is `split_files(scan, val_fraction=..., test_fraction=...)` of a
    folder without val/ and test/; a fraction may be rounded to 2 decimals.
    """
    from ..data.pipeline import split_files

    files = split_files(scan, val_fraction=val_fraction,
                        test_fraction=test_fraction, seed=seed)
    expected = held_out_fractions(files)
    if answer is None:
        return your_turn("Set `answer` to a dict class name -> fraction, such "
                         "as {'daisy': 0.25, ...}. Split `flat` with "
                         "`tlh.data.split_files` first.")
    if not isinstance(answer, dict):
        return hint("Use a dict: class name -> fraction of that class's photos "
                    "in validation.")
    if set(answer) != set(expected):
        return hint(f"Use the class names as keys: {sorted(expected)}.")
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool)
               for v in answer.values()):
        return hint("Each value should be one number, a fraction between 0 "
                    "and 1.")
    if _all_close(answer, expected, 0.0051):
        spread = ", ".join(f"{name} {value:.0%}"
                           for name, value in expected.items())
        return passed(f"{spread}: {val_fraction:.0%} of the photos overall, "
                      "and each class above or below it by chance: each "
                      "photo's name decides its side on its own.")
    if any(float(v) > 1 for v in answer.values()):
        return hint("These look like counts: divide each class's validation "
                    "photos by all of its photos.")
    if all(math.isclose(float(v), val_fraction, abs_tol=1e-9)
           for v in answer.values()):
        return hint(f"{val_fraction} is the fraction you asked for. A hash "
                    "decides each photo's side on its own, so what you get is "
                    "only close to it: count the photos of each class in "
                    "`files.val`.")
    counts = files.counts()
    over_train = {name: counts["val"][name] / counts["train"][name]
                  for name in expected if counts["train"][name]}
    if set(over_train) == set(expected) and _all_close(answer, over_train, 0.005):
        return hint("You divided by the training photos only. The fraction "
                    "is of all the class's photos: training, validation and "
                    "test together.")
    default = held_out_fractions(split_files(scan, seed=seed))
    if _all_close(answer, default, 0.005):
        return hint("Those are the fractions of the split above, made with "
                    "the default fractions. Split again with "
                    f"val_fraction={val_fraction} and "
                    f"test_fraction={test_fraction}.")
    test_share = {name: counts["test"][name] / sum(counts[s][name] for s in counts)
                  for name in expected}
    if _all_close(answer, test_share, 0.005):
        return hint("Those are the test photos' fractions; the question asks "
                    "about validation.")
    return hint("Count, for each class, its photos in `files.val`, and divide "
                "by its photos in train, val and test together "
                "(`files.counts()` gives all three).")


def _as_shape(answer):
    try:
        return tuple(int(d) for d in answer)
    except (TypeError, ValueError):
        return None


def check_last_batch_shape(answer, items, image_size: int,
                           batch_size: int) -> Verdict:
    """Exercise 2: the shape of the last batch of a pipeline over `items`."""
    n = len(items)
    last = n % batch_size or batch_size
    expected = (last, image_size, image_size, 3)
    if answer is None:
        return your_turn("Set `answer` to a tuple of four integers, your "
                         "prediction; then check it by running the pipeline.")
    given = _as_shape(answer)
    if given is None or len(given) != 4:
        return hint("Give the shape as a tuple of four integers: "
                    "(batch, height, width, channels).")
    if given == expected:
        full = n // batch_size
        return passed(f"{n} photos make {full} full batch"
                      f"{'es' if full != 1 else ''} of {batch_size}"
                      + (f" and a last one of {last}" if last != batch_size
                         else ", the last one full too")
                      + f": {expected}. Nothing is dropped: the last batch "
                      "is simply smaller.")
    if given[1:] == (3, image_size, image_size):
        return hint("Keras puts the channels last: (batch, height, width, "
                    "channels).")
    if given[3] != 3:
        return hint("Colour photos have 3 channels (red, green, blue).")
    if given[1] != given[2]:
        return hint("The pipeline resizes every photo to a square.")
    if given[1] != image_size:
        return hint("Height and width are the `image_size` you build the "
                    "pipeline with, not the one printed above.")
    if given[0] == batch_size and last != batch_size:
        return hint(f"That is a full batch. Does {n} divide by {batch_size}? "
                    "The last batch holds what is left over.")
    if given[0] == n:
        return hint("That is every photo at once; the pipeline hands them "
                    f"out {batch_size} at a time.")
    return hint(f"The last batch holds the photos left over once the full "
                f"batches of {batch_size} are taken from the {n}.")
