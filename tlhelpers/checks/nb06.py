"""Self-checks for the exercises of `06_use_your_model.ipynb`."""

from __future__ import annotations

from ..predict import LOW_CONFIDENCE
from .core import Verdict, hint, passed, your_turn


def check_most_given_wrongly(answer, mistakes) -> Verdict:
    """Exercise 1: the class the model answers most often when wrong, and how often."""
    import numpy as np

    names = list(mistakes.class_names)
    wrong = mistakes.predicted != mistakes.labels
    given_wrongly = np.bincount(mistakes.predicted[wrong], minlength=len(names))
    missed = np.bincount(mistakes.labels[wrong], minlength=len(names))
    example = f"({names[0]!r}, 12)"
    if answer is None:
        return your_turn(f"Set `answer` to (class name, count), for example "
                         f"{example}.")
    if not wrong.any():
        return passed("This model made no mistake on these photos: no class "
                      "was given wrongly.")
    if isinstance(answer, str) or not hasattr(answer, "__len__") \
            or len(answer) != 2:
        return hint(f"Give the class and the count in a tuple: {example}.")
    name, count = answer
    if not isinstance(name, str) or name not in names:
        return hint(f"Give the class as one of the names: {', '.join(names)}.")
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
        return hint(f"Give the count as a whole number: {example}.")
    k = names.index(name)
    top = int(given_wrongly.max())
    if int(given_wrongly[k]) != top:
        if int(missed[k]) == int(missed.max()):
            return hint(f"{name} is the class whose photos it gets wrong most "
                        "often: a row of the confusion matrix. The question "
                        "asks about its answers: a column.")
        pair = mistakes.confused_pairs(top=1)
        if name == pair.loc[0, "predicted as"]:
            return hint(f"{name} is the answer of the most frequent single "
                        "mix-up; add up every mix-up whose answer is the same "
                        "class, whatever the true class.")
        return hint(f"{name} is not the answer it gives wrongly most often. "
                    "Add up each column of the confusion matrix, leaving out "
                    "its diagonal cell.")
    counts = confusion_column(mistakes, k)
    if int(count) == top:
        ties = int((given_wrongly == top).sum()) - 1
        tie = (f" (tied with {ties} other {'class' if ties == 1 else 'classes'})"
               if ties else "")
        pairs = int((counts > 0).sum())
        return passed(f"{top} of its {int(wrong.sum())} wrong answers say "
                      f"{name}{tie}, from {pairs} true "
                      f"{'class' if pairs == 1 else 'classes'}: a column of "
                      "the confusion matrix, without its diagonal cell. When "
                      f"this model answers {name}, be most careful.")
    if int(count) == int(counts.max()):
        return hint(f"{name} is right, but {count} is one mix-up's count; add "
                    f"up every mix-up whose answer is {name}.")
    if int(count) == top + int(((mistakes.predicted == k)
                                & (mistakes.labels == k)).sum()):
        return hint(f"{name} is right, but that count includes the diagonal "
                    f"cell: the photos of {name} it got right.")
    if int(count) == int(wrong.sum()):
        return hint(f"{name} is right, but that is every wrong answer; count "
                    f"only those that say {name}.")
    return hint(f"{name} is right; count again the wrong answers that say "
                f"{name}.")


def confusion_column(mistakes, k: int):
    """How often each true class was answered as class `k` wrongly."""
    import numpy as np

    wrong = (mistakes.predicted == k) & (mistakes.labels != k)
    return np.bincount(mistakes.labels[wrong],
                       minlength=len(mistakes.class_names))


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

