"""Exercise self-checks, one module per notebook; taught in each notebook's Exercises.

Each check gives a hint rather than the answer. Solutions live in
`notebooks/solutions/`.
"""

from .core import Verdict, hint, passed

__all__ = ["Verdict", "hint", "passed"]
