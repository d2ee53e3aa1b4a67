"""How a self-check answers: a friendly verdict with a hint, never the answer.

Taught in every notebook's Exercises section. A check returns a `Verdict`
that shows as a green or orange box in a notebook and is truthy when passed,
so notebooks (and tests) can also `assert` it.
"""

from __future__ import annotations

import dataclasses
import html


@dataclasses.dataclass
class Verdict:
    """The result of an exercise self-check."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        mark = "Correct" if self.passed else "Not yet"
        return f"{mark}: {self.message}"

    def _repr_html_(self) -> str:
        colour, mark = (("#2e7d32", "&#10004; Correct") if self.passed
                        else ("#ef6c00", "&#9998; Not yet"))
        return (f'<div style="border-left:5px solid {colour};padding:4px 10px">'
                f"<b>{mark}.</b> {html.escape(self.message)}</div>")


def passed(message: str) -> Verdict:
    """A passing verdict."""
    return Verdict(True, message)


def hint(message: str) -> Verdict:
    """A failing verdict whose message nudges toward the answer."""
    return Verdict(False, message)
