"""Self-checks for the exercises of `03_fine_tuning.ipynb`; hints, never the answer.

Each check returns a `Verdict` (green or orange box in the notebook, truthy
when passed). Solutions are the collapsed cells under each exercise.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..models import layer_blocks, layer_table, stale_layers, unfrozen_flags
from ..training.lr_finder import edge, finite_part
from .core import Verdict, hint, passed, your_turn


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _params(layers) -> int:
    return sum(int(np.prod(w.shape)) for layer in layers for w in layer.weights)


def check_unfreeze_to(n, base_model, layer: str = "block3_conv3") -> Verdict:
    """Exercise 1: the N whose `base_model.layers[-N:]` starts exactly at `layer`."""
    ask = (f"Set the answer to a whole number: how many layers, counted from the "
           f"top of base_model.layers, must train so that {layer} is the lowest?")
    if n is None:
        return your_turn(ask)
    if not _is_int(n):
        return hint(ask)
    layers = base_model.layers
    names = [item.name for item in layers]
    target = len(layers) - names.index(layer)
    if n == target:
        return passed(f"N={n}: {layer} is the lowest layer that trains, the "
                      "layers above it train too (pooling layers count, though "
                      "they have no weights), and everything below stays frozen.")
    if n <= 0 or n > len(layers):
        return hint(f"N must lie between 1 and {len(layers)} (the number of "
                    "layers in the base).")
    lowest = layers[-n]
    if n < target:
        if not lowest.weights:
            return hint(f"N={n} makes {lowest.name} the lowest layer that trains: "
                        f"a pooling layer, with no weights, so {layer} stays "
                        "frozen. Pooling layers count as layers.")
        return hint(f"N={n} stops at {lowest.name}, above {layer}: {layer} "
                    "stays frozen. Count every layer between them in the layer "
                    "table, pooling layers too.")
    return hint(f"N={n} also unfreezes {lowest.name}, below {layer}. Remember "
                "that `layers[-N:]` starts N layers from the end, and count "
                "again in the layer table.")


def check_block_params(value, base_model, n_unfrozen: int = 12) -> Verdict:
    """Exercise 2: the trainable parameters the top N layers of the base add."""
    if value is None:
        return your_turn("Set the answer to a number of parameters (an integer).")
    if not isinstance(value, numbers.Number) or isinstance(value, bool):
        return hint("Set the answer to a number of parameters (an integer).")
    flags = unfrozen_flags(base_model, n_unfrozen)
    table = layer_table(base_model, flags)
    target = table.trainable_params
    if value == target:
        return passed(f"{value:,} parameters of the base train with "
                      f"N={n_unfrozen}.")
    unfrozen = [layer for layer, flag in zip(base_model.layers, flags) if flag]
    conv_only = sum(int(np.prod(w.shape)) for layer in unfrozen
                    for w in layer.weights if len(w.shape) > 1)
    if value == conv_only:
        return hint("Close: you counted the kernels only. Each filter also has a "
                    "bias.")
    # The blocks that train, top first; a sum of only the top few, or one
    # block alone, is the likely slip.
    blocks = [(name, [layer for layer in layers if layer in unfrozen])
              for name, layers in reversed(layer_blocks(base_model))]
    blocks = [(name, layers) for name, layers in blocks
              if any(layer.weights for layer in layers)]
    for name, layers in blocks:
        if len(blocks) > 1 and value == _params(layers):
            return hint(f"That is {name} alone. With N={n_unfrozen} every "
                        "layer of the top N trains: add the other blocks.")
    for k in range(1, len(blocks)):
        if value == sum(_params(layers) for _, layers in blocks[:k]):
            shown = " and ".join(name for name, _ in blocks[:k])
            return hint(f"That is {shown} only; N={n_unfrozen} reaches further "
                        "down. Which blocks do the top N layers cover?")
    if value > target:
        return hint("Too many: count only the layers that train with this N, "
                    "not the frozen ones below and not the head.")
    return hint("Too few. A conv layer has kernel_h * kernel_w * channels_in * "
                "filters weights plus one bias per filter; channels_in is the "
                "number of filters of the layer below.")


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


def _close(a, b, rel: float = 0.05) -> bool:
    return math.isclose(float(a), float(b), rel_tol=rel)


def check_fastai_minimum(lr, result) -> Verdict:
    """Exercise 4: fastai's `minimum` rule on a range test: a tenth of the lowest point.

    `result`: an `LRRangeResult`. Rates 5% apart count as the same (printed
    rates are rounded; the rates tried lie about 60% apart).
    """
    if lr is None:
        return your_turn("Set the answer to a learning rate (a positive number, "
                         "e.g. 3e-4).")
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) \
            or not math.isfinite(lr):
        return hint("Set the answer to a learning rate (a positive number).")
    lrs, losses = finite_part(result.lrs, result.losses)
    lowest = int(np.argmin(losses))
    at_min = float(lrs[lowest])
    want = at_min / 10
    course = float(result.suggestion)
    if lr > 0 and _close(lr, want):
        ratio = course / want
        factor = max(ratio, 1 / ratio)
        times = f"{factor:.0f}" if factor >= 10 else f"{factor:.1f}"
        where = (f"{times} times above" if ratio > 1.05 else
                 f"{times} times below" if ratio < 1 / 1.05 else
                 "the same as")
        return passed(
            f"{lr:.1e}: a tenth of {at_min:.1e}, where the smoothed loss is "
            f"lowest ({losses[lowest]:.3f}). The course's rule suggests "
            f"{course:.1e}, {where} it. Where the curve runs flat, its lowest "
            "point falls wherever a lucky batch put it; the course's rule reads "
            "where the climb begins instead, which a flat floor does not move.")
    if _is_int(lr) and lr == lowest:
        return hint("That is the position of the lowest loss in the arrays; the "
                    "rule wants the learning rate tried at that position.")
    if lr > 0 and _close(lr, at_min):
        return hint("That is the rate where the loss is lowest; the rule takes "
                    "a step back from it. How far?")
    if lr > 0 and _close(lr, course):
        return hint("That is the course's suggestion, printed above: a tenth of "
                    "the edge, where the loss starts to climb. fastai's minimum "
                    "rule starts from another point of the curve.")
    if lr > 0 and _close(lr, float(result.edge)):
        return hint("That is the course's edge, where the loss starts to climb. "
                    "fastai's minimum rule starts from the lowest point instead.")
    if _close(lr, losses[lowest], rel=1e-3):
        return hint("That is the lowest loss itself; the rule asks for a "
                    "learning rate: the one at which that loss was recorded.")
    if lr <= 0:
        return hint("A learning rate is a positive number.")
    return hint("Not yet. Find the position of the lowest value of "
                "lr_test.losses, take the rate at the same position of "
                "lr_test.lrs, and apply the rule to it.")


def check_disagreements(only_b, only_a, a_right, b_right,
                        names=("head phase", "fine-tuned model")) -> Verdict:
    """Exercise 5: the photos only one of two models gets right (McNemar's counts).

    `a_right`, `b_right`: one True/False per test photo, same order, for the
    baseline A and the model B compared with it; `names`: (A, B).
    """
    a_name, b_name = names
    if only_b is None and only_a is None:
        return your_turn("Set both counts to whole numbers: photos one model "
                         "gets right and the other gets wrong.")
    if not (_is_int(only_b) and _is_int(only_a)):
        return hint("Set both counts to whole numbers (a sum of True values is "
                    "one: int(mask.sum())).")
    a = np.asarray(a_right, dtype=bool)
    b = np.asarray(b_right, dtype=bool)
    want_b = int((b & ~a).sum())
    want_a = int((a & ~b).sum())
    if (only_b, only_a) == (want_b, want_a):
        return passed(f"{only_b} photos only the {b_name} gets right, {only_a} "
                      f"only the {a_name}: McNemar's test weighs these two "
                      "counts. The photos both get right (or both get wrong) say "
                      "nothing about which model is better.")
    if (only_a, only_b) == (want_b, want_a) and want_b != want_a:
        return hint("The two counts are the right ones, but swapped: which model "
                    "must be right, and which wrong, for each?")
    if only_b == int(b.sum()) or only_a == int(a.sum()):
        return hint("That counts every photo a model gets right, also the photos "
                    "the other model gets right too. Count the photos one gets "
                    "right AND the other gets wrong: `a & ~b`.")
    if only_b + only_a == int((b != a).sum()):
        return hint("Together they make the right number of disagreements, but "
                    "the split is off. Count each side separately: right for one "
                    "model AND wrong for the other.")
    return hint("Not yet. On the two True/False arrays, `a & ~b` marks the photos "
                "a gets right and b gets wrong; its sum counts them.")
