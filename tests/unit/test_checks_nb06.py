"""The exercise checks of notebook 06, and the table exercise 1 is read against."""

from __future__ import annotations

import numpy as np
import pytest

from tlhelpers.checks import nb06
from tlhelpers.viz import confused_pairs
from tlhelpers.viz.mistakes import Mistakes


def made_up(predicted, labels, k: int = 4) -> Mistakes:
    """Mistakes whose predictions are chosen: the checks' answers are known."""
    probs = np.full((len(predicted), k), 0.1 / (k - 1))
    probs[np.arange(len(predicted)), predicted] = 0.9
    n = len(predicted)
    return Mistakes(np.zeros((n, 4, 4, 3), np.uint8), np.asarray(labels), probs,
                    [f"c{i}" for i in range(k)], [f"image {i}" for i in range(n)])


# Wrong answers: c0->c1 three times (the top pair), c2->c3 and c0->c3 twice
# each: c3 is answered wrongly 4 times, c1 3 times; c0 is missed most (5).
FOUND = made_up(predicted=[1, 1, 1, 3, 3, 3, 3, 0, 2],
                labels=[0, 0, 0, 2, 2, 0, 0, 0, 2])


def test_most_given_wrongly_reads_a_column():
    check = nb06.check_most_given_wrongly
    assert not check(None, FOUND).answered
    right = check(("c3", 4), FOUND)
    assert right and "4 of its 7 wrong answers say c3" in right.message
    assert check(["c3", np.int64(4)], FOUND)
    assert "a row of the confusion matrix" in check(("c0", 5), FOUND).message
    assert "most frequent single mix-up" in check(("c1", 3), FOUND).message
    assert "not the answer" in check(("c2", 0), FOUND).message
    assert "one mix-up's count" in check(("c3", 2), FOUND).message
    assert "every wrong answer" in check(("c3", 7), FOUND).message
    assert "count again" in check(("c3", 5), FOUND).message
    assert "in a tuple" in check("c3", FOUND).message
    assert "in a tuple" in check(("c3", 4, 1), FOUND).message
    assert "one of the names" in check(("dandelion", 4), FOUND).message
    assert "whole number" in check(("c3", "four"), FOUND).message
    assert "whole number" in check(("c3", True), FOUND).message


def test_most_given_wrongly_counts_without_the_diagonal():
    # c1 answered wrongly twice (from c0 and c2) and rightly once.
    found = made_up(predicted=[1, 1, 1], labels=[0, 2, 1])
    assert nb06.check_most_given_wrongly(("c1", 2), found)
    assert "diagonal" in nb06.check_most_given_wrongly(("c1", 3), found).message


def test_most_given_wrongly_accepts_a_tie_and_a_perfect_model():
    tie = made_up(predicted=[1, 2, 0], labels=[0, 0, 0])
    assert nb06.check_most_given_wrongly(("c1", 1), tie)
    assert "tied with 1" in nb06.check_most_given_wrongly(("c2", 1), tie).message
    perfect = made_up(predicted=[0, 1], labels=[0, 1])
    assert not nb06.check_most_given_wrongly(None, perfect).answered
    assert nb06.check_most_given_wrongly(("c0", 0), perfect)


def test_unsure_count_hints():
    probs = np.array([[0.4, 0.3, 0.3], [0.5, 0.5, 0.0], [0.9, 0.1, 0.0],
                      [0.2, 0.7, 0.1], [0.45, 0.45, 0.1]])
    found = Mistakes(np.zeros((5, 4, 4, 3), np.uint8), np.array([1, 1, 0, 0, 2]),
                     probs, ["a", "b", "c"], [f"image {i}" for i in range(5)])
    check = nb06.check_unsure_count
    assert not check(None, found).answered
    assert check(2, found) and "2 of 5 images are unsure" in check(2, found).message
    assert "not at or below" in check(3, found).message
    assert "number of wrong answers" in check(4, found).message
    assert "largest probability" in check(1, found).message
    assert "whole number" in check("two", found).message


def test_confused_pairs_sorted_by_the_chosen_model():
    before = made_up(predicted=[1, 1, 2, 2, 3], labels=[0, 0, 2, 2, 1])
    after = made_up(predicted=[1, 0, 3, 3, 3], labels=[0, 0, 2, 2, 1])
    both = {"head trained": before, "fine-tuned": after}
    table = confused_pairs(both, sort_by="fine-tuned")
    assert list(table.columns) == ["true", "predicted as", "head trained",
                                   "fine-tuned"]
    assert list(zip(table["true"], table["predicted as"])) == [
        ("c2", "c3"), ("c0", "c1"), ("c1", "c3")]  # ties: the head's count
    default = confused_pairs(both)
    assert (default.loc[0, "true"], default.loc[0, "predicted as"]) == ("c0", "c1")
    with pytest.raises(ValueError, match="sort_by"):
        confused_pairs(both, sort_by="other")
