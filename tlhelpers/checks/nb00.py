"""Self-checks for the exercises of `00_setup_and_data.ipynb`."""

from __future__ import annotations

from .core import Verdict, hint, passed, your_turn


def check_train_images_per_class(answer, splits) -> Verdict:
    """Exercise 1: a dict class -> number of training images the pipeline yields."""
    expected = splits.files.counts()["train"]
    if answer is None:
        return your_turn("Set `answer` to a dict such as {'daisy': 40, ...}. "
                         "`splits.files.train` lists (path, label) pairs.")
    if not isinstance(answer, dict):
        return hint("Use a dict: class name -> count.")
    if set(answer) != set(expected):
        return hint(f"Use the class names as keys: {sorted(expected)}.")
    wrong = [name for name in expected if answer[name] != expected[name]]
    if wrong:
        return hint(f"The counts for {', '.join(wrong)} differ. Count the labels "
                    "in `splits.files.train`, not the files on disk: only the "
                    "training side of the split counts.")
    return passed("these are the images per class that one epoch sees.")


def check_batch_shape(answer, train_ds) -> Verdict:
    """Exercise 2: the shape of one batch of images, as a tuple."""
    if answer is None:
        return your_turn("Take one batch with `next(iter(train_ds))` and look "
                         "at `images.shape`.")
    images, _ = next(iter(train_ds))
    expected = tuple(int(d) for d in images.shape)
    try:
        given = tuple(int(d) for d in answer)
    except (TypeError, ValueError):
        return hint("Give the shape as a tuple of four integers.")
    if len(given) != 4:
        return hint("A batch has four dimensions: batch, height, width, channels.")
    if given[1:] != expected[1:]:
        return hint("Height and width come from the profile's image size; "
                    "colour images have 3 channels.")
    if given[0] != expected[0]:
        return hint("The first dimension is the batch size of the profile.")
    return passed(f"a batch is {expected}: (batch, height, width, channels).")
