"""One labelled check per section: what this run verified, shown, and a stop when it fails.

Taught from notebook 01 on, at the end of a section. Unlike `lesson`, whose
result other photos may not show, these are facts that hold on any data
(a parameter count, a shape, what is frozen): one that fails is a bug, so
the notebook stops there and names it.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Mapping


class CheckFailed(AssertionError):
    """A fact that holds on any data did not hold in this run."""


@dataclasses.dataclass
class Checked:
    """The facts one section verified, each with its label."""

    section: str
    facts: list[str]

    def __repr__(self) -> str:
        return f"Checked ({self.section}): " + "; ".join(self.facts)

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(fact)}</li>" for fact in self.facts)
        return ('<div style="border-left:5px solid #2e7d32;padding:4px 10px">'
                f"<b>&#10004; Checked: {html.escape(self.section)}</b>"
                f'<ul style="margin:2px 0">{items}</ul></div>')


def confirm(section: str, facts: Mapping[str, object]) -> Checked:
    """Verify each `label: condition` of `facts`; show them, or stop naming the false ones."""
    if not facts:
        raise ValueError("confirm() needs at least one fact to check")
    failed = [label for label, holds in facts.items() if not bool(holds)]
    if failed:
        raise CheckFailed(f"{section}: not true in this run: " + "; ".join(failed))
    return Checked(section, list(facts))
