"""Self-checks for the exercises of `07_looking_inside.ipynb`."""

from __future__ import annotations

from .core import Verdict, as_number, hint, passed, your_turn


def check_kept_all(answer, changes) -> Verdict:
    """Exercise 1: how many channels kept every one of their top photos."""
    k = int(changes.attrs.get("k", 5))
    kept = changes["same_top"]
    right = int((kept == k).sum())
    if answer is None:
        return your_turn(f"Set `answer` to a number of channels (of {len(changes)}).")
    value = as_number(answer)
    if value is None or value != int(value):
        return hint("Give one whole number: how many channels.")
    value = int(value)
    if value == right:
        return passed(f"{right} of the {len(changes)} channels kept all {k} of their "
                      f"top validation photos: for them fine-tuning changed how "
                      "strongly they respond, at most, not to which photos.")
    if value == int((changes.head(10)["same_top"] == k).sum()) and value != right:
        return hint("That counts only the first ten rows; the question asks about "
                    "all channels in `changes`.")
    if value == len(changes) - right:
        return hint("That counts the channels that lost at least one of their top "
                    "photos; the question asks for those that kept all of them.")
    if value == int((kept == 0).sum()):
        return hint("That counts the channels that kept none of their top photos.")
    return hint(f"Count the rows whose `same_top` equals {k} (the photos compared "
                "per channel).")


def check_least_changed(answer, sanity) -> Verdict:
    """Exercise 2: the method whose maps changed least when the top was re-initialised."""
    table = sanity.set_index("method")
    most_alike = str(table["spearman"].idxmax())
    if answer is None:
        return your_turn("Set `answer` to a method's name from `sanity['method']`, "
                         "e.g. 'grad_cam'.")
    name = str(answer).strip().lower().replace("-", "_").replace(" ", "_")
    if name not in table.index:
        return hint(f"{answer!r} is not one of the methods: "
                    f"{', '.join(table.index)}.")
    rho = float(table.loc[most_alike, "spearman"])
    if name == most_alike:
        verdict = ("it fails the check: its maps say little about what block5 and "
                   "the head learned" if not table.loc[name, "passes"] else
                   "it still passes the check, so none of the four ignores the "
                   "learned weights here")
        return passed(f"{most_alike}: Spearman {rho:+.2f} between the maps of the "
                      f"trained and the randomised model; {verdict}.")
    if name == str(table["spearman"].idxmin()):
        return hint(f"{name}'s maps changed the most (the lowest Spearman); the "
                    "question asks for the least change.")
    return hint(f"{name}'s maps have Spearman {table.loc[name, 'spearman']:+.2f}; "
                "another method's stayed more alike (a higher Spearman).")
