"""A lesson's claim, checked against this run: asserted on the course's data, explained on yours.

Taught in every notebook from `01_train_from_scratch.ipynb` on. On the photos
that ship with the course and the ImageNet weights, each lesson was measured
over seeds, so a lesson that does not show is a defect and stops the notebook
(CI runs it). On a learner's own photos (`TLH_DATASET`) or random weights the
same outcome can happen without anything being wrong: the notebook says what
was expected, what came out and why that can happen, and goes on. Every
verdict also goes to the `lessons` run log, so `python -m tlhelpers course
--record` keeps each lesson's numbers with the run's measurements.
"""

from __future__ import annotations

import html
import os

from .. import config
from ..data import registry
from .core import Verdict


def on_course_data() -> bool:
    """True when the active profile's own shipped photos are in use (no `TLH_DATASET`)."""
    requested = os.environ.get(config.DATASET_ENV, "").strip()
    default = registry.default_dataset()
    return (not requested or requested == default) and \
        registry.DATASETS[default].is_shipped


def _record(claim: str, expected: str, got: str, shows: bool) -> None:
    """Keep the verdict in the `lessons` run log: `course --record` collects it."""
    from ..training.runlog import RunLog

    try:
        RunLog("lessons").add(claim=claim, expected=expected, got=got,
                              shown=bool(shows), status="done")
    except OSError:
        pass  # a read-only TLH_HOME: the notebook still shows the verdict


class LessonNotShown(AssertionError):
    """The course's own data did not show a lesson that was measured to hold."""


class LessonResult(Verdict):
    """A lesson checked on this run: green when it shows, grey-blue when it does not."""

    @property
    def mark(self) -> str:
        return "Shown" if self.passed else "Not shown in this run"

    def _repr_html_(self) -> str:
        colour = "#2e7d32" if self.passed else "#546e7a"
        return (f'<div style="border-left:5px solid {colour};padding:4px 10px">'
                f"<b>{self.mark}.</b> {html.escape(self.message)}</div>")


def lesson(shows: bool, claim: str, *, expected: str, got: str, why: str,
           weights: str = "imagenet") -> LessonResult:
    """Check one lesson of a notebook against this run's numbers.

    `claim`: the lesson in a few words; `expected`: what the course measured;
    `got`: what this run shows (numbers); `why`: how it can fail to show on
    other photos. On the course's data with ImageNet weights a lesson that
    does not show raises `LessonNotShown`; elsewhere it returns a verdict
    that says so, and the notebook goes on.
    """
    _record(claim, expected, got, shows)
    if shows:
        return LessonResult(True, f"{claim}: {got}.")
    message = f"{claim}. Expected {expected}; this run: {got}. {why}"
    if weights == "imagenet" and on_course_data():
        raise LessonNotShown(
            f"The course's own photos did not show a lesson measured to hold: "
            f"{message}")
    if weights != "imagenet":
        message += (" With random weights nothing was pretrained, so the "
                    "numbers show the mechanics, not transfer.")
    return LessonResult(False, message)
