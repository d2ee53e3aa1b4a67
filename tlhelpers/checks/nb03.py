"""Self-checks for the exercises of `03_fine_tuning.ipynb`; hints, never the answer.

Each check returns a `Verdict` (green or orange box in the notebook, truthy
when passed). Solutions are the collapsed cells under each exercise.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..models import layer_blocks, layer_table, stale_layers, unfrozen_flags
from ..training.lr_finder import edge
from .core import Verdict, hint, passed, your_turn


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _top_blocks_n(base_model, blocks: int) -> int:
    """Layers from the top down to the start of the `blocks`-th block from the top."""
    groups = list(reversed(layer_blocks(base_model)))
    return sum(len(layers) for _, layers in groups[:blocks])


def check_unfreeze_depth(n, base_model) -> Verdict:
    """Exercise 1: the N that unfreezes the top two blocks (block4 and block5)."""
    if n is None:
        return your_turn("Set the answer to a whole number: how many layers, "
                         "counted from the top of base_model.layers, must train?")
    if not _is_int(n):
        return hint("Set the answer to a whole number: how many layers, counted "
                    "from the top of base_model.layers, must train?")
    groups = list(reversed(layer_blocks(base_model)))
    top, second = groups[0], groups[1]
    target = _top_blocks_n(base_model, 2)
    if n == target:
        return passed(f"N={n} unfreezes {second[0]} and {top[0]} and nothing "
                      "below them.")
    if n < 0 or n > len(base_model.layers):
        return hint(f"N must lie between 0 and {len(base_model.layers)} (the "
                    "number of layers in the base).")
    if n <= len(top[1]):
        return hint(f"N={n} does not reach {second[0]} at all. Count the layers "
                    f"of {top[0]} first: pooling layers count too, even without "
                    "weights.")
    if n < target:
        return hint(f"N={n} stops inside {second[0]}: part of it stays frozen. "
                    "Look at the layer table: the pooling layer at the end of a "
                    "block counts as a layer.")
    return hint(f"N={n} reaches below {second[0]}, into the block under it. "
                "Count again from the top of base_model.layers.")


def check_block_params(value, base_model, n_unfrozen: int = 4) -> Verdict:
    """Exercise 2: the trainable parameters the top N layers of the base add."""
    if value is None:
        return your_turn("Set the answer to a number of parameters (an integer).")
    if not isinstance(value, numbers.Number) or isinstance(value, bool):
        return hint("Set the answer to a number of parameters (an integer).")
    table = layer_table(base_model, unfrozen_flags(base_model, n_unfrozen))
    target = table.trainable_params
    if value == target:
        return passed(f"{value:,} parameters of the base train with "
                      f"N={n_unfrozen}.")
    conv_only = sum(
        int(np.prod(w.shape))
        for layer, flag in zip(base_model.layers,
                               unfrozen_flags(base_model, n_unfrozen))
        if flag for w in layer.weights if len(w.shape) > 1)
    if value == conv_only:
        return hint("Close: you counted the kernels only. Each filter also has a "
                    "bias.")
    if value > target:
        return hint("Too many: count only the layers that train with this N "
                    "(the green rows of tlh.models.layer_table), not the head.")
    return hint("Too few. A conv layer has kernel_h * kernel_w * channels_in * "
                "filters weights plus one bias per filter.")


def check_ready_to_fine_tune(model, base_model, n_unfrozen: int = 8,
                             max_lr: float = 1e-4) -> Verdict:
    """Exercise 3: flags set for N layers AND a fresh compile with a low rate."""
    want = unfrozen_flags(base_model, n_unfrozen)
    have = [bool(base_model.trainable and layer.trainable)
            for layer in base_model.layers]
    if have != want:
        wrong = [layer.name for layer, w, h in zip(base_model.layers, want, have)
                 if w != h and layer.weights]
        shown = ", ".join(wrong[:4]) + (" ..." if len(wrong) > 4 else "")
        advice = (f"The trainable flags are not those of N={n_unfrozen} yet "
                  f"(check {shown or 'the pooling layers'}). Remember what "
                  "happens when the recipe's two freezing lines are repeated "
                  "with a larger N.")
        # Block5 unfrozen is how the notebook leaves the base before the
        # exercise: most likely nothing was tried yet (or the trap was hit).
        if have == unfrozen_flags(base_model, 4):
            return your_turn(advice)
        return hint(advice)
    if not getattr(model, "compiled", False) or stale_layers(model):
        return hint("The flags are right, but Keras would still train the old "
                    "set of weights. What must follow every change of "
                    "`trainable`?")
    optimizer = getattr(model, "optimizer", None)
    try:
        lr = float(np.asarray(optimizer.learning_rate))
    except (AttributeError, TypeError, ValueError):
        return hint("Compile with an optimizer that has a learning rate, e.g. "
                    "keras.optimizers.Adam(...).")
    if not math.isfinite(lr) or lr > max_lr:
        return hint(f"Compiled, but the learning rate {lr:g} is high enough to "
                    "wreck pretrained filters. Fine-tuning uses a much lower one.")
    return passed(f"Ready: the top {n_unfrozen} layers train, the compile is "
                  f"fresh and the rate is {lr:.0e}.")


def check_lr_choice(lr, result) -> Verdict:
    """Exercise 4: a rate read from a range test (`LRRangeResult`) curve."""
    if lr is None:
        return your_turn("Set the answer to a positive number, e.g. 3e-4.")
    if not isinstance(lr, numbers.Real) or isinstance(lr, bool) \
            or not math.isfinite(lr) or lr <= 0:
        return hint("Set the answer to a positive number, e.g. 3e-4.")
    climbs = edge(result.lrs, result.losses)
    if lr > climbs:
        return hint(f"At {lr:.1e} the loss is already climbing: training "
                    "diverges there. Find where the curve leaves its floor.")
    if lr > climbs / 3:
        return hint(f"{lr:.1e} sits right at the edge, where the loss starts to "
                    "climb: one unlucky batch tips it over. Stay about ten "
                    "times below the edge.")
    if lr < climbs / 100:
        return hint(f"At {lr:.1e} the weights hardly move: training would "
                    "crawl. Stay within a hundred times below the edge.")
    return passed(f"{lr:.1e}: below the rate where the loss starts to climb "
                  f"({climbs:.1e}), with room to spare.")


def check_disagreements(only_tuned, only_head, head_right, tuned_right) -> Verdict:
    """Exercise 5: the photos only one of two models gets right (McNemar's counts).

    `head_right`, `tuned_right`: one True/False per test photo, same order.
    """
    if only_tuned is None and only_head is None:
        return your_turn("Set only_tuned and only_head to two whole numbers: "
                         "photos one model gets right and the other gets wrong.")
    if not (_is_int(only_tuned) and _is_int(only_head)):
        return hint("Set only_tuned and only_head to whole numbers (a sum of "
                    "True values is one: int(mask.sum())).")
    head = np.asarray(head_right, dtype=bool)
    tuned = np.asarray(tuned_right, dtype=bool)
    want_tuned = int((tuned & ~head).sum())
    want_head = int((head & ~tuned).sum())
    if (only_tuned, only_head) == (want_tuned, want_head):
        return passed(f"{only_tuned} photos only the fine-tuned model gets right, "
                      f"{only_head} only the head phase: McNemar's test weighs "
                      "these two counts. The photos both get right (or both get "
                      "wrong) say nothing about which model is better.")
    if (only_head, only_tuned) == (want_tuned, want_head) and want_tuned != want_head:
        return hint("The two counts are the right ones, but swapped: which model "
                    "must be right, and which wrong, for each?")
    if only_tuned == int(tuned.sum()) or only_head == int(head.sum()):
        return hint("That counts every photo a model gets right, also the photos "
                    "the other model gets right too. Count the photos one gets "
                    "right AND the other gets wrong: `a & ~b`.")
    if only_tuned + only_head == int((tuned != head).sum()):
        return hint("Together they make the right number of disagreements, but "
                    "the split is off. Count each side separately: right for one "
                    "model AND wrong for the other.")
    return hint("Not yet. On the two True/False arrays, `a & ~b` marks the photos "
                "a gets right and b gets wrong; its sum counts them.")
