import pytest
from .jupyter_harness import exercise_panel
pytestmark = pytest.mark.browser
def test_tmp_fail(lab_server, lab_page):
    exercise_panel(lab_page, lab_server, "tests/browser/fixtures/widget_smoke.ipynb",
                   heading="No such heading", shot_prefix="tmpfail")
