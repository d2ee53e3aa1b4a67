"""The `full` profile end to end, briefly: the whole dataset, the real weights.

`make test` runs only the quick profile; `make test-all` adds this smoke run
of `python -m tlhelpers run feature-extraction --profile full` for one epoch on
the whole flowers dataset: `TLH_DATASET` when it is a folder, else the copy
beside the repository in `../shared/datasets/tf_flowers_full`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tlhelpers import config

pytestmark = [pytest.mark.slow, pytest.mark.exhaustive]

BESIDE = config.PROJECT_ROOT.parent / "shared" / "datasets" / "tf_flowers_full"


def whole_dataset() -> Path:
    named = os.environ.get("TLH_DATASET", "").strip()
    if named and Path(named).expanduser().is_dir():
        return Path(named).expanduser().resolve()
    # Not a skip: a test-all run without the data has not tested the profile.
    assert BESIDE.is_dir(), (
        f"no whole dataset: set TLH_DATASET to a folder of it, or place "
        f"tf_flowers_full at {BESIDE}")
    return BESIDE


def test_full_profile_feature_extraction_runs_on_the_whole_dataset(tmp_path):
    from coursehome import seed_home

    home = seed_home(tmp_path / "home", kinds=("weights",))
    env = {**os.environ, "TLH_HOME": str(home), "TLH_PROFILE": "full",
           "TLH_ALLOW_FULL_TESTS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "tlhelpers", "run", "feature-extraction",
         "--profile", "full", "--data", str(whole_dataset()), "--epochs", "1",
         "--json"], capture_output=True, text=True, env=env, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["weights"] == "imagenet", summary
    assert summary["train_images"] + summary["val_images"] >= 3000, summary
    # One epoch of the head on ImageNet features: far above chance (20%).
    assert summary["val_accuracy"] >= 0.6, summary
