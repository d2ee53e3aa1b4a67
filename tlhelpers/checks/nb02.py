"""Self-checks for the exercises of `02_feature_extraction.ipynb`."""

from __future__ import annotations

from .core import Verdict, hint, passed, your_turn

VGG16_POOLS = 5       # each max-pooling layer halves height and width
VGG16_CHANNELS = 512  # channels of the last block


def expected_feature_shape(image_size: int) -> tuple[int, int, int]:
    """VGG16's output shape without its top for square `image_size` inputs."""
    side = image_size
    for _ in range(VGG16_POOLS):
        side //= 2
    return (side, side, VGG16_CHANNELS)


def check_feature_shape(answer, image_size: int = 150) -> Verdict:
    """Exercise 1: the shape of one feature map of VGG16 (no top) at `image_size`."""
    expected = expected_feature_shape(image_size)
    if answer is None:
        return your_turn("Set `answer` to a tuple (height, width, channels). Look at "
                    "how the shape shrank from the images to the stored features "
                    "above.")
    try:
        given = tuple(answer)
    except TypeError:
        return hint("Give a tuple of three numbers: (height, width, channels).")
    if len(given) == 4:
        return hint("Leave out the batch dimension: one image's map is "
                    "(height, width, channels).")
    if len(given) != 3:
        return hint("A feature map has three dimensions: height, width, channels.")
    if given[2] != VGG16_CHANNELS:
        return hint("The channels are those of VGG16's last convolution block; "
                    "they do not depend on the image size.")
    exact = image_size / 2 ** VGG16_POOLS
    if given[:2] == (exact, exact) and exact != expected[0]:
        return hint("Pooling rounds down: each of the five poolings keeps the "
                    "whole number of 2x2 windows.")
    if tuple(given) != expected:
        return hint("VGG16 has five max-pooling layers, and each halves height "
                    "and width.")
    return passed(f"{expected}: five halvings of {image_size} pixels. Flatten "
                  f"then feeds {expected[0] * expected[1] * expected[2]:,} "
                  "numbers to the Dense layer.")


def check_flatten_head(answer, epochs: int, dropout: float = 0.5) -> Verdict:
    """Exercise 2: a `retrain_head` result with Flatten, the course's dropout and epochs."""
    if answer is None:
        return your_turn("Call `tlh.training.retrain_head(train_features, "
                         "val_features, n_classes, ...)` and set `answer` to what "
                         "it returns.")
    needed = ("head", "dropout", "epochs_done", "best_val_accuracy",
              "trainable_params", "history")
    if not all(hasattr(answer, name) for name in needed):
        return hint("`answer` should be the result of `retrain_head(...)`, not a "
                    "number or a model.")
    if answer.head != "flatten":
        return hint("Choose the head that keeps every position of the feature "
                    "map: look at the valid values of `head`.")
    if abs(float(answer.dropout) - dropout) > 1e-9:
        return hint(f"Keep the course head's dropout ({dropout}): only the "
                    "pooling should differ.")
    if answer.epochs_done != epochs:
        return hint(f"Train for as many epochs as the course's head did "
                    f"(profile.head_epochs = {epochs}).")
    train = answer.history["accuracy"][-1]
    test = getattr(answer, "test_accuracy", None)
    graded = (f"test accuracy {test:.0%}" if test is not None else
              "not graded on the test photos yet (add `test=test_features`)")
    return passed(f"Flatten: {answer.trainable_params:,} trainable parameters, "
                  f"final training accuracy {train:.0%}, {graded}. Compare "
                  "them with the GAP rows of the table above.")
