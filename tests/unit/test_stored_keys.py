"""Stored activations derived from a lower cut keep their own key under a bfloat16 pass."""

from __future__ import annotations

import imagefactory
import keras
import numpy as np
import tinymodel

from tlhelpers import features
from tlhelpers.data import scan_folder, split_files
from tlhelpers.strategies import stored

SIZE = 32


def test_a_mixed_result_is_not_stored_under_a_pure_bfloat16_key(tmp_path):
    # The cut above `low` runs in float32: its result must not be what a later
    # extract(..., precision="bfloat16") of `high` loads as a bfloat16 pass.
    root = imagefactory.make_folder(tmp_path / "d", ("cats", "dogs"), per_class=4,
                                    layout="split", val_per_class=2)
    items = split_files(scan_folder(root)).train
    keras.utils.set_random_seed(0)
    base = tinymodel.tiny_base(SIZE)
    low, high = base.layers[2].name, None  # block1's pool, then the top
    low_x = features.extract(base, items, layer=low, progress=False).features
    derived = stored._derive(base, items, low, low_x, high, 4, None, "bfloat16")
    assert derived.key != features.cache_key(base, items, SIZE, high, None, "bfloat16")
    assert derived.key != features.cache_key(base, items, SIZE, high, None, "float32")
    again = stored._derive(base, items, low, low_x, high, 4, None, "bfloat16")
    assert again.from_cache and again.key == derived.key
    np.testing.assert_array_equal(again.features, derived.features)
    plain = stored._derive(base, items, low, low_x, high, 4, None, "float32")
    # float32 throughout: the same numbers as a pass straight to the top, same key
    assert plain.key == features.cache_key(base, items, SIZE, high, None, "float32")
