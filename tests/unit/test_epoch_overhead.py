"""bench/epoch_overhead.py: both paths train the same layers and are timed alike.

On the tiny VGG-shaped base with made-up stored arrays; the timing itself
is the script's business (its record is in bench/results/).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tinymodel
from benchscript import bench_script

from tlhelpers import models


@pytest.fixture(scope="module")
def overhead():
    with bench_script("epoch_overhead") as module:
        yield module


def test_both_paths_train_from_the_same_weights_and_put_them_back(overhead):
    keras.utils.set_random_seed(0)
    base = tinymodel.tiny_base()
    model = models.build_classifier(base, 2)
    # The output of the last frozen layer (block1_conv1) for 16 and 8 rows.
    rng = np.random.default_rng(0)
    train = (rng.random((16, 32, 32, 4), np.float32), np.arange(16) % 2)
    val = (rng.random((8, 32, 32, 4), np.float32), np.arange(8) % 2)
    before = [w.copy() for w in model.get_weights()]

    trained = []
    for path in (overhead.course_epoch, overhead.plain_epoch):
        model.set_weights(before)
        args = (model, base, train, val, 1e-3) + ((8,) if path is overhead.plain_epoch
                                                  else ())
        fit_seconds, phase_seconds = path(*args)
        assert 0 < fit_seconds <= phase_seconds
        trained.append([w.copy() for w in model.get_weights()])
    changed = [not np.array_equal(a, b) for a, b in zip(before, trained[0])]
    assert any(changed)  # the course's path trained the model itself
    assert changed == [not np.array_equal(a, b) for a, b in zip(before, trained[1])]

    model.set_weights(before)
    found = overhead.compare(model, base, train, val, lr=1e-3, batch_size=8,
                             repeats=1)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    for path in ("course", "plain"):
        assert len(found[path]["fit_seconds"]) == 1
        assert found[path]["training_rows_per_second"] > 0
    assert found["course_over_plain"]["fit"] == pytest.approx(
        found["course"]["median_fit_seconds"] / found["plain"]["median_fit_seconds"],
        abs=0.01)
