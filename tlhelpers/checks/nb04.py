"""Self-checks for the exercises of `04_choosing_a_strategy.ipynb`."""

from __future__ import annotations

from .core import Verdict, hint, passed, your_turn

STRATEGIES = ("scratch", "feature-extraction", "fine-tuning")


def check_best_strategy(answer, results, size: int | None = None) -> Verdict:
    """Exercise 1: the best strategy at one size (default: the smallest)."""
    try:
        sizes = sorted(set(results["images_per_class"]))
    except (TypeError, KeyError):
        return hint("Pass the `results` table from `compare_strategies` as the "
                    "second argument.")
    size = sizes[0] if size is None else size
    if answer is None:
        return your_turn("Set `answer` to a strategy name. Keep the rows of `results` "
                    f"whose images_per_class is {size}, then look at "
                    "final_val_accuracy.")
    if answer not in STRATEGIES:
        return hint(f"Use one of the names in the table: {', '.join(STRATEGIES)}.")
    part = results[results["images_per_class"] == size]
    scores = dict(zip(part["strategy"], part["final_val_accuracy"]))
    best = max(scores.values())
    if scores.get(answer) == best:
        tied = [name for name, score in scores.items() if score == best]
        extra = f" (tied with {', '.join(t for t in tied if t != answer)})" \
            if len(tied) > 1 else ""
        return passed(f"{answer} scored {best:.0%} at {size} images per class"
                      f"{extra}. Is its lead beyond the noise the guide mentions?")
    if any(results[results["images_per_class"] != size]
           .sort_values("final_val_accuracy").tail(1)["strategy"] == answer):
        return hint(f"That one wins at another size; look only at {size} images "
                    "per class.")
    return hint("Compare final_val_accuracy, not seconds or final training "
                "accuracy.")


def _params(layers) -> int:
    return int(sum(layer.count_params() for layer in layers))


def check_unfrozen_params(answer, base_model, n_unfrozen: int = 8) -> Verdict:
    """Exercise 2: base parameters that train when the top `n_unfrozen` layers do."""
    layers = base_model.layers[len(base_model.layers) - n_unfrozen:]
    expected = _params(layers)
    if answer is None:
        return your_turn(f"Set `answer` to a whole number: add up `count_params()` of "
                    f"the last {n_unfrozen} layers in `base_model.layers`.")
    try:
        value = int(answer)
    except (TypeError, ValueError):
        return hint("Give one whole number.")
    if value == expected:
        names = f"{layers[0].name} .. {layers[-1].name}"
        return passed(f"{expected:,} parameters ({names}); pooling layers have "
                      "none.")
    for n in range(1, len(base_model.layers)):
        if n != n_unfrozen and value == _params(base_model.layers[-n:]):
            return hint(f"That is the count for the top {n} layers; count "
                        f"{n_unfrozen}, pooling layers included.")
    weights_only = sum(_size(w.shape) for layer in layers for w in layer.weights
                       if len(w.shape) > 1)
    if value == weights_only:
        return hint("Almost: the biases train too.")
    if value == base_model.count_params():
        return hint("That is the whole base; only the top layers are unfrozen.")
    return hint("Slice `base_model.layers[-N:]` and sum `layer.count_params()`.")


def _size(shape) -> int:
    total = 1
    for d in shape:
        total *= int(d)
    return total
