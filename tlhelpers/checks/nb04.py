"""Self-checks for the exercises of `04_choosing_a_strategy.ipynb`."""

from __future__ import annotations

from .core import Verdict, hint, passed, your_turn

STRATEGIES = ("scratch", "feature-extraction", "fine-tuning")


def check_choice(answer, results, size: int | None = None) -> Verdict:
    """Exercise 1: the strategy to choose at one size (default: the smallest).

    The guide's rule, on the validation photos (validation picks): the
    fastest strategy within the noise of the best `best_val_accuracy`. The
    verdict then gives the choice's grade on the test photos.
    """
    from ..strategies import GRADED_ON, PICKED_ON, noise_margin

    try:
        sizes = sorted(set(results["images_per_class"]))
    except (TypeError, KeyError):
        return hint("Pass the `results` table from `compare_strategies` as the "
                    "second argument.")
    size = sizes[0] if size is None else size
    if answer is None:
        return your_turn("Set `answer` to a strategy name. Keep the rows of "
                         f"`results` whose images_per_class is {size}, then look "
                         f"at {PICKED_ON} and seconds.")
    if answer not in STRATEGIES:
        return hint(f"Use one of the names in the table: {', '.join(STRATEGIES)}.")
    part = results[results["images_per_class"] == size]
    scores = dict(zip(part["strategy"], part[PICKED_ON]))
    tests = dict(zip(part["strategy"], part[GRADED_ON]))
    seconds = dict(zip(part["strategy"], part["seconds"]))
    best = max(scores.values())
    margin = noise_margin(best, int(results.attrs.get("n_val", 100)))
    close = [name for name in scores if scores[name] > best - margin]
    choice = min(close, key=seconds.get)
    if answer == choice:
        tied = [name for name in close if name != answer]
        why = (f"; {', '.join(tied)} scored within the noise ({margin:.1%}) "
               "but took longer" if tied else ", ahead by more than the noise")
        return passed(f"{answer}: {scores[answer]:.1%} on the validation photos "
                      f"at {size} images per class{why}. Graded on the test "
                      f"photos, which picked nothing: {tests[answer]:.1%}.")
    if answer in close:
        return hint(f"{answer} is within the noise of the best, but another "
                    "strategy there was faster: a tie goes to the cheaper one.")
    if tests[answer] >= max(tests.values()) and scores[answer] < best - margin:
        return hint(f"{answer} scored best on the test photos, but the test "
                    f"photos grade, they do not pick: use {PICKED_ON}.")
    return hint(f"{answer} scored {scores[answer]:.1%} on validation, more than "
                f"the noise ({margin:.1%}) below the best at {size} images per "
                "class.")


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
