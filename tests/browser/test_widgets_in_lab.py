"""The course widgets render and respond in a real JupyterLab (headless Chromium).

Run: TLH_PROFILE=quick .venv/bin/pytest tests/browser -k browser -v -s
Screenshots land in build/screenshots/.
"""

from __future__ import annotations

import pytest
from coursehome import saved_models_03

from .jupyter_harness import REPO_ROOT, exercise_panel

pytestmark = pytest.mark.browser

FINE_TUNING = "notebooks/03_fine_tuning.ipynb"
# The same panel call as 03's, on a small untrained start: 03 up to its panel
# (its training included) took 7 minutes in the browser, a third of CI.
PANEL = "tests/browser/fixtures/fine_tuning_panel.ipynb"
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


def test_fine_tuning_panel_in_lab(lab_server, lab_page):
    """The fine-tuning panel as notebook 03 builds it: unfreeze, learning rate, Train."""
    import nbformat

    call = "tlh.widgets.fine_tuning_panel(\n    model, base_model, train_ds, val_ds,"
    for notebook in (FINE_TUNING, PANEL):  # the fixture stands for 03's cell
        cells = nbformat.read(REPO_ROOT / notebook, as_version=4).cells
        assert any(call in cell.source for cell in cells), notebook
    run = exercise_panel(
        lab_page, lab_server, PANEL,
        heading="Try it: the fine-tuning panel", contains="fine_tuning_panel",
        shot_prefix="03", run_timeout=900, train_timeout=600,
    )
    print(run.summary())
    assert run.runs_after > run.runs_before


USE_MODEL = "notebooks/06_use_your_model.ipynb"
PHOTO_PANEL = ".tlh-predict-panel"


def test_photo_upload_in_lab(lab_server, lab_page, tmp_path_factory):
    """Notebook 06's panel: upload a photo in the browser, see its chart and heatmap."""
    import shutil

    from .jupyter_harness import (
        SCREENSHOTS,
        find_panel_cell,
        run_through,
        shoot_panel,
        stored_outputs,
        wait_kernel_idle,
    )

    # Notebook 03's models: the session's nbval run saved them, or 03 runs now.
    saved = saved_models_03(tmp_path_factory.mktemp("notebook_03"))
    models = lab_server.workdir / "tlh_home" / "models"
    models.mkdir(parents=True, exist_ok=True)
    for path in saved:
        shutil.copy(path, models / path.name)
    photo = sorted((REPO_ROOT / "data" / "flowers-small" / "val").glob("*/*.jpg"))[0]
    outputs_on_disk = stored_outputs(lab_server.root / USE_MODEL)
    page = lab_page
    page.goto(lab_server.notebook_url(USE_MODEL), wait_until="domcontentloaded")
    page.wait_for_function("() => !!window.jupyterapp", timeout=60_000)
    wait_kernel_idle(page, USE_MODEL)
    index = find_panel_cell(page, "5. Your own photos", contains="predict_panel")
    run_through(page, USE_MODEL, index, timeout=1200)

    panel = page.locator(PHOTO_PANEL).first
    panel.wait_for(state="attached", timeout=60_000)
    panel.scroll_into_view_if_needed()
    panel.wait_for(state="visible", timeout=30_000)
    # ipywidgets 8's file input is never attached to the page: the button
    # clicks it, so the upload goes through the browser's file chooser.
    with page.expect_file_chooser() as chooser:
        page.locator(f"{PHOTO_PANEL} .tlh-upload").first.click()
    chooser.value.set_files(str(photo))
    page.wait_for_function(
        "(sel) => Array.from(document.querySelectorAll(sel)).some("
        "(e) => e.complete && e.naturalWidth > 0)",
        arg=f"{PHOTO_PANEL} .tlh-predict-photo img", timeout=180_000, polling=500)
    status = page.locator(f"{PHOTO_PANEL} .tlh-predict-status").first.inner_text()
    assert "1 photo(s) predicted by the fine-tuned model" in status, status
    wait_kernel_idle(page, USE_MODEL, timeout=120)
    cell_text = page.locator(".jp-Cell", has=panel).first.inner_text()
    assert "Traceback (most recent call last)" not in cell_text, cell_text[-1500:]
    assert not page.locator(f"{PHOTO_PANEL} .tlh-message-error").count()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = shoot_panel(page, panel, SCREENSHOTS / "06_photo_upload.png")
    print(f"uploaded {photo.name}: {status.strip()} (screenshot {shot})")
    assert stored_outputs(lab_server.root / USE_MODEL) == outputs_on_disk
