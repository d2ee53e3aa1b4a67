"""pytest hooks for the notebooks that nbval runs: a solution must pass its own self-check.

A solution cell (tagged `solution`) ends by showing its exercise's verdict.
Under `--nbval-lax` outputs are not compared, so without this hook a
solution that no longer solves its exercise would still run green; the
lessons stay free of test-only `assert` lines.
"""

from __future__ import annotations

import pytest

from tlhelpers import distribute

# The tests run TensorFlow as `tlh.setup()` sets it up for a learner, before
# any test imports it: oneDNN's rewrites on unless TF_ENABLE_ONEDNN_OPTS is set.
# The notebooks' kernels inherit the variable.
distribute.turn_on_onednn_rewrites()


def _shown_text(outputs) -> list[str]:
    """The text/plain of every result a cell displayed."""
    texts = []
    for output in outputs or []:
        data = output.get("data") if isinstance(output, dict) else None
        if data and "text/plain" in data:
            texts.append(str(data["text/plain"]))
    return texts


def solution_verdict_problem(cell_tags, outputs) -> str | None:
    """Why a solution cell's output fails its self-check, or None when it passes."""
    if "solution" not in cell_tags:
        return None
    texts = _shown_text(outputs)
    if not any(text.startswith("Correct:") for text in texts):
        shown = "; ".join(texts) or "nothing"
        return f"the solution does not pass its self-check (it showed: {shown})"
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    yield
    cell = getattr(item, "cell", None)
    if cell is None or not hasattr(item, "test_outputs"):
        return  # not a notebook cell
    problem = solution_verdict_problem(cell.metadata.get("tags", []), item.test_outputs)
    if problem:
        pytest.fail(f"{item.name}: {problem}", pytrace=False)
