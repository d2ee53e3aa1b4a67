"""How a self-check answers: a friendly verdict with a hint, never the answer.

Taught in every notebook's Exercises section. A check returns a `Verdict`
that shows as a green box (correct), an orange one (a wrong answer, with a
hint) or a grey one (not answered yet), and is truthy only when passed, so
notebooks (and tests) can also `assert` it.
"""

from __future__ import annotations

import dataclasses
import html
import math


@dataclasses.dataclass
class Verdict:
    """The result of an exercise self-check."""

    passed: bool
    message: str
    answered: bool = True  # False: the placeholder is still there

    def __bool__(self) -> bool:
        return self.passed

    @property
    def mark(self) -> str:
        if self.passed:
            return "Correct"
        return "Not yet" if self.answered else "Your turn"

    def __repr__(self) -> str:
        return f"{self.mark}: {self.message}"

    def _repr_html_(self) -> str:
        # Run All leaves every exercise unanswered: grey, not a warning colour.
        colour, symbol = {"Correct": ("#2e7d32", "&#10004;"),
                          "Not yet": ("#ef6c00", "&#9998;"),
                          "Your turn": ("#757575", "&#9998;")}[self.mark]
        mark = f"{symbol} {self.mark}"
        return (f'<div style="border-left:5px solid {colour};padding:4px 10px">'
                f"<b>{mark}.</b> {html.escape(self.message)}</div>")


def passed(message: str) -> Verdict:
    """A passing verdict."""
    return Verdict(True, message)


def hint(message: str) -> Verdict:
    """A failing verdict whose message nudges toward the answer."""
    return Verdict(False, message)


def your_turn(message: str) -> Verdict:
    """An unanswered exercise: what to do, in a neutral colour."""
    return Verdict(False, message, answered=False)


def as_number(answer) -> float | None:
    """A learner's answer as a finite float, or None (a bool, text, a list, NaN)."""
    if isinstance(answer, bool):
        return None
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
