"""Self-checks for the exercises of `02_feature_extraction.ipynb`."""

from __future__ import annotations

import math

from .core import Verdict, hint, passed, your_turn

# Filters of VGG16's five blocks; each block ends in a 2x2 max pooling
# (`block1_pool` ... `block5_pool`) that halves height and width.
VGG16_BLOCK_FILTERS = (64, 128, 256, 512, 512)
VGG16_POOLS = len(VGG16_BLOCK_FILTERS)
VGG16_CHANNELS = VGG16_BLOCK_FILTERS[-1]  # channels of the last block


def pool_shape(image_size: int, block: int) -> tuple[int, int, int]:
    """VGG16's `block{block}_pool` output shape for square `image_size` inputs."""
    side = image_size
    for _ in range(block):
        side //= 2  # a 2x2 pooling keeps only whole windows
    return (side, side, VGG16_BLOCK_FILTERS[block - 1])


def expected_feature_shape(image_size: int) -> tuple[int, int, int]:
    """VGG16's output shape without its top for square `image_size` inputs."""
    return pool_shape(image_size, VGG16_POOLS)


def _block_of(layer: str) -> int:
    names = [f"block{b}_pool" for b in range(1, VGG16_POOLS + 1)]
    if layer not in names:
        raise ValueError(f"layer={layer!r} is not valid; expected one of "
                         f"{', '.join(names)}")
    return names.index(layer) + 1


def check_feature_shape(answer, image_size: int = 150,
                        layer: str = "block5_pool") -> Verdict:
    """Exercise 1: the shape of one photo's `layer` map in VGG16 at `image_size`."""
    block = _block_of(layer)
    expected = pool_shape(image_size, block)
    if answer is None:
        return your_turn(f"Set `answer` to a tuple (height, width, channels): "
                         f"follow a {image_size}-pixel image through the "
                         f"poolings up to `{layer}`.")
    try:
        given = tuple(answer)
    except TypeError:
        return hint("Give a tuple of three numbers: (height, width, channels).")
    if len(given) == 4:
        return hint("Leave out the batch dimension: one image's map is "
                    "(height, width, channels).")
    if len(given) != 3:
        return hint("A feature map has three dimensions: height, width, channels.")
    if tuple(given) == expected:
        numbers = expected[0] * expected[1] * expected[2]
        final = expected_feature_shape(image_size)
        size = final[0] * final[1] * final[2]
        sides = " -> ".join(str(image_size // 2 ** k) for k in range(block + 1))
        compare = ("" if block == VGG16_POOLS else
                   f", {numbers / size:.0f} times the {size:,} of the final "
                   f"map {final}: why its stored file is that much larger")
        halvings = "one halving" if block == 1 else f"{block} halvings"
        return passed(f"{expected}: {halvings} ({sides}), and the "
                      f"{expected[2]} filters of block {block}. "
                      f"{numbers:,} numbers per photo{compare}. See it: "
                      f"`base_model.get_layer('{layer}').output.shape`.")
    if given[:2] == expected[:2]:
        return hint(f"Height and width are right. The channels are the filters "
                    f"of the block that ends in `{layer}` (block {block}), not "
                    "those of another block.")
    for other in range(1, VGG16_POOLS + 1):
        if other != block and tuple(given[:2]) == pool_shape(image_size, other)[:2]:
            where = ("the whole base's output, printed above" if other == VGG16_POOLS
                     else f"`block{other}_pool`")
            plural = "s" if other > 1 else ""
            return hint(f"Those are the height and width after {other} "
                        f"pooling{plural}, {where}. Count the poolings from "
                        f"the image up to `{layer}`: block {block}'s pooling "
                        "is the last of them.")
    exact = image_size / 2 ** block
    rounded_up = image_size
    for _ in range(block):
        rounded_up = math.ceil(rounded_up / 2)
    if given[0] == given[1] and given[0] in (exact, rounded_up) \
            and given[0] != expected[0]:
        return hint("Pooling rounds down: a 2x2 pooling keeps only whole "
                    "windows, so an odd side loses its last row and column. "
                    "Halve once per pooling and drop the fraction each time.")
    return hint(f"Every pooling up to `{layer}` halves height and width "
                "(rounding down); the convolutions in between keep the size.")


def flatten_head_params(feature_shape, n_classes: int, dense: int = 256) -> int:
    """Trainable parameters of Flatten -> Dense(dense) -> Dense(n_classes)."""
    inputs = math.prod(int(d) for d in feature_shape)
    return inputs * dense + dense + dense * n_classes + n_classes


def check_flatten_head(answer, epochs: int, dropout: float = 0.5,
                       lr: float = 1e-3, feature_shape=None,
                       n_classes: int | None = None, gap=None) -> Verdict:
    """Exercise 2: a `retrain_head` result with Flatten, the course's dropout and epochs.

    `feature_shape` and `n_classes` (optional) let it check the Dense layer's
    size; `gap`: the course's head trained the same way (`with_dropout`),
    for the comparison in the verdict.
    """
    if answer is None:
        return your_turn("Call `tlh.training.retrain_head(train_rows, "
                         "val_features, n_classes, ...)` and set `answer` to "
                         "what it returns.")
    needed = ("head", "dropout", "epochs_done", "best_val_accuracy",
              "trainable_params", "history")
    if not all(hasattr(answer, name) for name in needed):
        return hint("`answer` should be the result of `retrain_head(...)`, not a "
                    "number, a history or a model: it carries the head's "
                    "settings, which the comparison needs.")
    if answer.head != "flatten":
        return hint("That head averages the feature map. Choose the head that "
                    "keeps every position of the feature map: look at the valid "
                    "values of `head`.")
    if abs(float(answer.dropout) - dropout) > 1e-9:
        return hint(f"Keep the course head's dropout ({dropout}): with another "
                    "dropout, two things differ and the comparison cannot "
                    "tell which one made the difference.")
    if answer.epochs_done != epochs:
        return hint(f"Train for as many epochs as the course's head did "
                    f"(profile.head_epochs = {epochs}; `retrain_head`'s default "
                    "is another number): more epochs alone raise the training "
                    "accuracy.")
    if abs(float(getattr(answer, "lr", lr)) - lr) > 1e-12:
        return hint(f"Keep the course head's learning rate ({lr:g}): only the "
                    "pooling should differ.")
    if feature_shape is not None and n_classes is not None and \
            answer.trainable_params != flatten_head_params(feature_shape, n_classes):
        return hint("This Flatten head has another number of weights than the "
                    "course's would: keep `dense` at its default (256), so "
                    "only the pooling differs.")
    train = answer.history["accuracy"][-1]
    test = getattr(answer, "test_accuracy", None)
    graded = (f"test accuracy {test:.0%}" if test is not None else
              "not graded on the test photos yet (add `test=test_features`)")
    message = (f"Flatten: {answer.trainable_params:,} trainable parameters, "
               f"final training accuracy {train:.0%}, {graded}.")
    if gap is None:
        return passed(message + " Compare them with the GAP rows of the table "
                      "above.")
    gap_train = gap.history["accuracy"][-1]
    gap_test = getattr(gap, "test_accuracy", None)
    ratio = answer.trainable_params / gap.trainable_params
    message += (f" The course's GAP head: {gap.trainable_params:,} trainable "
                f"parameters ({ratio:.0f} times fewer), final training accuracy "
                f"{gap_train:.0%}")
    if test is None or gap_test is None:
        return passed(message + ".")
    return passed(message + f", test accuracy {gap_test:.0%}. Training minus "
                  f"test accuracy: {100 * (train - test):+.0f} points for "
                  f"Flatten, {100 * (gap_train - gap_test):+.0f} for GAP. The "
                  "larger gap is the head that learned more of the training "
                  "photos by heart, if the two differ by more than the test "
                  "photos' noise (a few points on a few hundred photos).")
