"""Self-checks for the exercises of `04_choosing_a_strategy.ipynb`."""

from __future__ import annotations

from .core import Verdict, as_number, hint, passed, your_turn

STRATEGIES = ("scratch", "feature-extraction", "fine-tuning")


def _rule_at(results, size: int) -> dict:
    """The guide's rule at one size: scores, noise margin, strategies within it, the pick."""
    from ..strategies import GRADED_ON, PICKED_ON, noise_margin

    part = results[results["images_per_class"] == size]
    scores = dict(zip(part["strategy"], part[PICKED_ON]))
    best = max(scores.values())
    margin = noise_margin(best, int(results.attrs.get("n_val", 100)))
    close = [name for name in scores if scores[name] > best - margin]
    seconds = dict(zip(part["strategy"], part["seconds"]))
    return {"scores": scores, "tests": dict(zip(part["strategy"], part[GRADED_ON])),
            "seconds": seconds, "best": best, "margin": margin, "close": close,
            "choice": min(close, key=seconds.get)}


def _sizes(results):
    try:
        return sorted(int(s) for s in set(results["images_per_class"]))
    except (TypeError, KeyError):
        return None


def _why_not(answer: str, rule: dict, size: int) -> str:
    """Why `answer` is not the rule's pick at `size`, without naming the pick."""
    from ..strategies import PICKED_ON

    scores, tests, margin = rule["scores"], rule["tests"], rule["margin"]
    if answer in rule["close"]:
        return (f"{answer} is within the noise of the best, but another "
                "strategy there was faster (fewer training seconds): a tie "
                "goes to the cheaper one.")
    if tests[answer] >= max(tests.values()):
        return (f"{answer} scored best on the test photos, but the test "
                f"photos grade, they do not pick: use {PICKED_ON}.")
    return (f"{answer} scored {scores[answer]:.1%} on validation, more than "
            f"the noise ({margin:.1%}) below the best at {size} images per "
            "class.")


def check_choice(answer, results, size: int | None = None) -> Verdict:
    """The strategy to choose at one size (default: the smallest).

    The guide's rule, on the validation photos (validation picks): the
    fastest strategy within the noise of the best `best_val_accuracy`. The
    verdict then gives the choice's grade on the test photos.
    """
    sizes = _sizes(results)
    if sizes is None:
        return hint("Pass the `results` table from `compare_strategies` as the "
                    "second argument.")
    size = sizes[0] if size is None else size
    if answer is None:
        return your_turn("Set `answer` to a strategy name. Keep the rows of "
                         f"`results` whose images_per_class is {size}, then look "
                         "at best_val_accuracy and seconds.")
    if answer not in STRATEGIES:
        return hint(f"Use one of the names in the table: {', '.join(STRATEGIES)}.")
    rule = _rule_at(results, size)
    if answer == rule["choice"]:
        return passed(_picked(answer, rule, size))
    return hint(_why_not(answer, rule, size))


def _picked(answer: str, rule: dict, size: int) -> str:
    tied = [name for name in rule["close"] if name != answer]
    why = (f" ({', '.join(tied)} within the noise of {rule['margin']:.1%}, "
           "but slower)" if tied else " (ahead by more than the noise)")
    return (f"at {size} per class {answer}, {rule['scores'][answer]:.1%} on "
            f"validation{why}, graded {rule['tests'][answer]:.1%} on the test "
            "photos")


def check_choices(answer, results) -> Verdict:
    """Exercise 1: the strategy the guide's rule picks at every size, before `winners` shows it.

    `answer`: a dict {images per class: strategy name}. Validation picks:
    the fastest (training seconds) of the strategies within the noise of
    the best `best_val_accuracy`. Any table of results is graded from its
    own numbers.
    """
    sizes = _sizes(results)
    if sizes is None:
        return hint("Pass the `results` table from `compare_strategies` as the "
                    "second argument.")
    if answer is None:
        return your_turn("Set `answer` to a dict with one entry per size, "
                         f"{{{sizes[0]}: \"...\", ...}}: for each size, keep the "
                         "rows of `results` with that images_per_class, then "
                         "look at best_val_accuracy and seconds.")
    if isinstance(answer, str):
        return hint(f"Give a choice for every size ({', '.join(map(str, sizes))}) "
                    "as a dict {size: strategy}, not one name.")
    if not isinstance(answer, dict):
        return hint("Give a dict {images per class: strategy name}.")
    try:
        given = {int(k): v for k, v in answer.items()}
    except (TypeError, ValueError):
        return hint("The keys are sizes, whole numbers of images per class: "
                    f"{', '.join(map(str, sizes))}.")
    missing = [s for s in sizes if s not in given]
    if missing:
        return hint(f"No choice for {', '.join(map(str, missing))} images per "
                    f"class: the sizes in `results` are "
                    f"{', '.join(map(str, sizes))}.")
    unknown = sorted({str(v) for v in given.values() if v not in STRATEGIES})
    if unknown:
        return hint(f"{', '.join(unknown)}: use the names in the table, "
                    f"{', '.join(STRATEGIES)}.")
    rules = {size: _rule_at(results, size) for size in sizes}
    wrong = [s for s in sizes if given[s] != rules[s]["choice"]]
    if not wrong:
        return passed("; ".join(_picked(given[s], rules[s], s) for s in sizes)
                      + ". The test photos picked nothing: those grades are the "
                        "numbers to report.")
    def best_by(column: str) -> bool:
        return all(given[s] == max(rules[s][column], key=rules[s][column].get)
                   for s in sizes)

    if best_by("tests"):
        return hint("Each of your picks is the best on the test photos. The "
                    "test photos grade, they do not pick: choose on "
                    "best_val_accuracy.")
    if best_by("scores"):
        return hint("Each of your picks has the best validation accuracy, but "
                    "the rule calls a difference within the noise margin a "
                    "tie, and a tie goes to the strategy that trained in fewer "
                    "seconds. Compute the margin with `noise_margin`.")
    size = wrong[0]
    right = len(sizes) - len(wrong)
    return hint(f"{right} of {len(sizes)} right. At {size} images per class: "
                + _why_not(given[size], rules[size], size))


def _params(layers) -> int:
    return int(sum(layer.count_params() for layer in layers))


def _as_whole(answer):
    value = as_number(answer)
    return int(value) if value is not None and value == int(value) else None


def check_unfrozen_params(answer, base_model, n_unfrozen: int = 12) -> Verdict:
    """Exercise 2: base parameters that train when the top `n_unfrozen` layers do.

    Any base is graded from its own layers; pooling and input layers count
    as layers and have no parameters.
    """
    layers = base_model.layers[len(base_model.layers) - n_unfrozen:]
    expected = _params(layers)
    if answer is None:
        return your_turn("Set `answer` to a whole number: list the last "
                         f"{n_unfrozen} layers of `base_model.layers`, then "
                         "count the weights and biases of the ones that have "
                         "any.")
    value = _as_whole(answer)
    if value is None:
        return hint("Give one whole number.")
    if value == expected:
        names = f"{layers[0].name} .. {layers[-1].name}"
        return passed(f"{expected:,} parameters ({names}); the pooling layers "
                      "among them have none.")
    with_weights = [layer for layer in base_model.layers if layer.weights]
    if value == _params(with_weights[-n_unfrozen:]) and \
            len(with_weights) >= n_unfrozen:
        return hint(f"That counts the top {n_unfrozen} convolutions. The top "
                    f"{n_unfrozen} *layers* include pooling layers, which "
                    "count as layers but have no weights.")
    if value == base_model.count_params():
        return hint("That is the whole base; only the top layers are unfrozen.")
    for n in range(1, len(base_model.layers)):
        if n != n_unfrozen and value == _params(base_model.layers[-n:]):
            return hint(f"That is the count for the top {n} layers; count "
                        f"{n_unfrozen}, pooling layers included.")
    weights_only = sum(_size(w.shape) for layer in layers for w in layer.weights
                       if len(w.shape) > 1)
    if value == weights_only:
        return hint("Almost: the biases train too, one per filter.")
    return hint("Work through the last layers one by one: a convolution has "
                "(kernel height x width x input channels + 1) x filters "
                "parameters; pooling has none.")


def _size(shape) -> int:
    total = 1
    for d in shape:
        total *= int(d)
    return total
