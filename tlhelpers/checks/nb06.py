"""Self-checks for the exercises of `06_use_your_model.ipynb`."""

from __future__ import annotations

from ..predict import LOW_CONFIDENCE
from .core import Verdict, hint, passed, your_turn


def check_confused_pair(answer, mistakes) -> Verdict:
    """Exercise 1: the (true, predicted) pair the model mixes up most often."""
    table = mistakes.confused_pairs(top=len(mistakes.class_names) ** 2)
    if table.empty:
        return passed("This model made no mistake on these images: there is no "
                      "pair to find.")
    if answer is None:
        return your_turn("Set `answer` to a pair of class names, (true class, "
                         "predicted class), for example ('daisy', 'dandelion').")
    if isinstance(answer, str):
        return hint("Give two class names in a tuple: (true, predicted).")
    try:
        true, guess = (str(a) for a in answer)
    except (TypeError, ValueError):
        return hint("Give two class names in a tuple: (true, predicted).")
    names = mistakes.class_names
    if true not in names or guess not in names:
        return hint(f"Use the model's class names: {', '.join(names)}.")
    counts = table.set_index(["true", "predicted as"])["count"]
    top = int(counts.max())
    found = int(counts.get((true, guess), 0))
    if found == top:
        others = int((counts == top).sum()) - 1
        tie = f" (tied with {others} other pair(s))" if others else ""
        return passed(f"{found} {true} photo(s) were taken for {guess}: the pair "
                      f"mixed up most often{tie}.")
    if int(counts.get((guess, true), 0)) == top:
        return hint("Right pair, wrong way round: the first name is the true "
                    "class (a row of the confusion matrix).")
    return hint(f"({true}, {guess}) happened {found} time(s); another pair happened "
                "more often. Look at the largest cell off the diagonal of the "
                "confusion matrix.")


def check_unsure_count(answer, mistakes) -> Verdict:
    """Exercise 2: how many images get the 'not sure' note (top probability < 0.5)."""
    top = mistakes.probabilities.max(axis=1)
    unsure = top < LOW_CONFIDENCE
    if answer is None:
        return your_turn("Count the rows of `tuned.probabilities` whose largest "
                         f"value is below {LOW_CONFIDENCE}.")
    try:
        given = int(answer)
    except (TypeError, ValueError):
        return hint("Give a whole number of images.")
    if given == int((top <= LOW_CONFIDENCE).sum()) != int(unsure.sum()):
        return hint(f"Below {LOW_CONFIDENCE}, not at or below it.")
    if given == int((mistakes.predicted != mistakes.labels).sum()) \
            != int(unsure.sum()):
        return hint("That is the number of wrong answers; count the unsure ones: "
                    "the largest probability of each row.")
    if given != int(unsure.sum()):
        return hint("Take the largest probability of each row "
                    "(`.max(axis=1)`) and count those below "
                    f"{LOW_CONFIDENCE}.")
    wrong = mistakes.predicted != mistakes.labels
    rate = float(wrong[unsure].mean()) if unsure.any() else 0.0
    sure_rate = float(wrong[~unsure].mean()) if (~unsure).any() else 0.0
    return passed(f"{int(unsure.sum())} of {len(top)} images are unsure. "
                  f"{rate:.0%} of those are wrong, against {sure_rate:.0%} of the "
                  "others: doubt is worth showing.")

