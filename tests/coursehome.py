"""The course's own run in this test session, reused by the tests that follow it.

`make test` runs the notebooks (nbval) before `tests/`, with `TLH_HOME` set for
the whole session: notebook 02 stores the frozen base's features there and 03
saves its models. Tests that run notebooks again (under two replicas, in a real
browser) start from a fresh `TLH_HOME` seeded with those stored files instead
of recomputing them; what they exercise (training under replicas, the widgets)
does not depend on where a stored pass came from. Run alone, a test finds
nothing stored and the notebook computes it, as on a first run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tlhelpers import config

# Read at import, before tests/conftest.py points each test at a fresh folder:
# the folder the session started with, where nbval's kernels ran.
COURSE_HOME = config.home()

# Written whole and replaced with os.replace, never changed in place: a hard
# link cannot carry a later change back to the course's copy.
SHAREABLE = ("features", "weights")


def seed_home(home: Path, source: Path = COURSE_HOME,
              kinds: tuple[str, ...] = SHAREABLE) -> Path:
    """`home` holding the stored files of `source` (hard links; copies across disks)."""
    home.mkdir(parents=True, exist_ok=True)
    for kind in kinds:
        folder = source / kind
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if not path.is_file() or path.name.startswith("."):
                continue  # temporary files of a run in progress, probes
            target = home / kind / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                continue
            try:
                os.link(path, target)
            except OSError:
                shutil.copy2(path, target)
    return home


def saved_models_03(work: Path, timeout: int = 1800) -> list[Path]:
    """Notebook 03's two saved models and their manifests: the session's, or a new run's.

    The run goes into `work` (seeded with the session's stored features), never
    into the session's folder. Copy every returned file: notebooks 05 and 06
    refuse a model without the manifest saved beside it.
    """
    names = [f"03_{name}{suffix}" for name in ("head_trained", "fine_tuned")
             for suffix in (".keras", ".manifest.json")]
    found = [COURSE_HOME / "models" / name for name in names]
    if all(path.is_file() for path in found):
        return found
    import pytest

    from tlhelpers.cli.course import run_notebook

    home = seed_home(work / "tlh_home")
    notebook = config.PROJECT_ROOT / "notebooks" / "03_fine_tuning.ipynb"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TLH_HOME", str(home))
        patch.setenv("TLH_PROFILE", "quick")
        seconds, status = run_notebook(notebook, work / "executed", timeout=timeout)
    assert status == "ok", f"notebook 03, run to save its models: {status}"
    made = [home / "models" / name for name in names]
    missing = [path.name for path in made if not path.is_file()]
    assert not missing, f"notebook 03 ran but did not save {missing}"
    return made
