"""Notebook 02's pass and `store_activations` (notebooks 03 and 04) share their stored files."""

from __future__ import annotations

import imagefactory
import keras
import numpy as np
import pytest
import tinymodel

from tlhelpers import features
from tlhelpers.data import scan_folder, split_files
from tlhelpers.strategies import store_activations, stored_layer

SIZE = 32


@pytest.fixture
def base_and_files(tmp_path):
    root = imagefactory.make_folder(tmp_path / "d", ("cats", "dogs"), per_class=4,
                                    layout="split", val_per_class=2)
    keras.utils.set_random_seed(0)
    return tinymodel.tiny_base(SIZE), split_files(scan_folder(root))


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_after_notebook_02s_pass_every_array_loads_from_disk(base_and_files, precision):
    base, files = base_and_files
    depths = (0, 1, 2)
    inner = [stored_layer(base, d) for d in depths if d]
    # Notebook 02: one pass per split and view, the inner layers stored from it.
    passes = {(name, view): features.extract(base, items, also=inner, view=view,
                                             progress=False, precision=precision)
              for name, items in (("train", files.train), ("val", files.val),
                                  ("test", files.test))
              for view in ((None, "flip") if name == "train" else (None,))}
    stored = store_activations(base, files, depths=depths, flip_train=True,
                               precision=precision)
    assert stored.from_cache  # no pass ran again
    np.testing.assert_array_equal(
        stored.train[0], np.concatenate([passes[("train", None)].features,
                                         passes[("train", "flip")].features]))
    np.testing.assert_array_equal(stored.val[0], passes[("val", None)].features)
    again = features.extract(base, files.val, layer=inner[-1], progress=False,
                             precision=precision)
    assert again.from_cache
    np.testing.assert_array_equal(stored.val[depths[-1]], again.features)


def test_store_activations_first_stores_what_notebook_02_then_loads(base_and_files):
    # The other order: notebook 04 run first stores every cut from one pass.
    base, files = base_and_files
    first = store_activations(base, files, depths=(0, 2))
    assert not first.from_cache
    again = features.extract(base, files.train, also=[stored_layer(base, 2)],
                             progress=False)
    assert again.from_cache
    np.testing.assert_array_equal(again.features, first.train[0])
