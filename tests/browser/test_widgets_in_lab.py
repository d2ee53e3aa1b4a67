"""The course widgets render and respond in a real JupyterLab (headless Chromium).

Run: TLH_PROFILE=quick .venv/bin/pytest tests/browser -k browser -v -s
Screenshots land in build/screenshots/.
"""

from __future__ import annotations

import pytest

from .jupyter_harness import REPO_ROOT, exercise_panel

pytestmark = pytest.mark.browser

FINE_TUNING = "notebooks/03_fine_tuning.ipynb"
SMOKE = "tests/browser/fixtures/widget_smoke.ipynb"


def test_widget_smoke_in_lab(lab_server, lab_page):
    """Plain ipywidgets with the panel's classes: the widget stack works in Lab."""
    run = exercise_panel(
        lab_page, lab_server, SMOKE,
        heading="Try it: the widget smoke panel",
        shot_prefix="smoke", run_timeout=120, train_timeout=60,
    )
    print(run.summary())
    assert run.trainable_after == int(run.unfreeze_after) * 1000
    assert run.runs_after == run.runs_before + 1


@pytest.mark.skipif(
    not (REPO_ROOT / FINE_TUNING).exists(), reason=f"{FINE_TUNING} not found"
)
def test_fine_tuning_panel_in_lab(lab_server, lab_page):
    """The fine-tuning panel of notebook 03: unfreeze, learning rate, Train."""
    run = exercise_panel(
        lab_page, lab_server, FINE_TUNING,
        heading="Try it: the fine-tuning panel", contains="fine_tuning_panel",
        shot_prefix="03", run_timeout=1800, train_timeout=600,
    )
    print(run.summary())
    assert run.runs_after > run.runs_before
