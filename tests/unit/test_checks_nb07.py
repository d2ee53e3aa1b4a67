"""The exercise checks of notebook 07: right answers pass, likely slips get their hint."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tlhelpers.checks import nb07
from tlhelpers.viz import channel_changes


def changes_table():
    rng = np.random.default_rng(0)
    before = rng.uniform(1, 2, size=(30, 12))
    after = before.copy()
    after[:, 4] = before[::-1, 4] * 4        # changed most, other photos
    after[:, 7] = before[:, 7] * 3           # changed a lot, the same photos
    after[:, 9] = before[::-1, 9] * 1.5
    return channel_changes(before, after, k=5)


def test_kept_all_counts_every_channel_and_hints_the_slips():
    changes = changes_table()
    right = int((changes["same_top"] == 5).sum())
    assert 0 < right < len(changes)
    assert not nb07.check_kept_all(None, changes).answered
    assert nb07.check_kept_all(right, changes) and nb07.check_kept_all(str(right), changes)
    assert "at least one" in nb07.check_kept_all(len(changes) - right, changes).message
    assert "whole number" in nb07.check_kept_all("several", changes).message
    wrong = nb07.check_kept_all(right + 20, changes)
    assert not wrong and "same_top" in wrong.message


def test_least_changed_reads_the_highest_spearman():
    sanity = pd.DataFrame({
        "method": ["grad_cam", "grad_cam_plus_plus", "smoothgrad", "integrated_gradients"],
        "spearman": [0.1, 0.2, 0.4, 0.8], "ssim": [0.2, 0.3, 0.5, 0.9],
        "passes": [True, True, True, False]})
    assert not nb07.check_least_changed(None, sanity).answered
    verdict = nb07.check_least_changed("Integrated Gradients", sanity)
    assert verdict and "fails the check" in verdict.message
    assert "changed the most" in nb07.check_least_changed("grad_cam", sanity).message
    assert not nb07.check_least_changed("smoothgrad", sanity)
    assert "not one of" in nb07.check_least_changed("lime", sanity).message
    sanity["passes"] = True
    assert "still passes" in nb07.check_least_changed("integrated_gradients",
                                                       sanity).message
