"""Exercise self-checks, one module per notebook (`tlh.checks.nb03`, ...).

Taught in each notebook's Exercises. A check gives a hint rather than the
answer; each exercise's solution is a collapsed cell below it. `lesson`
checks what a notebook teaches against the run's own numbers; `confirm`
checks the facts a section relies on.
"""

from __future__ import annotations

import importlib

from .confirm import Checked, CheckFailed, confirm
from .core import Verdict, hint, passed, your_turn
from .lessons import LessonNotShown, LessonResult, lesson, on_course_data

__all__ = ["Verdict", "hint", "passed", "your_turn", "lesson", "on_course_data",
           "LessonNotShown", "LessonResult", "confirm", "Checked", "CheckFailed"]


def __getattr__(name: str):
    if name.startswith("nb") and name[2:].isdigit():
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tlhelpers.checks' has no attribute {name!r}")
