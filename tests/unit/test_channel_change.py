"""`viz.channel_change`: the top block on stored activations, and its channels' changes."""

from __future__ import annotations

import imagefactory
import keras
import numpy as np
import pytest
import tinymodel

from tlhelpers import models, strategies, viz
from tlhelpers.data import load_rgb, scan_folder, split_files
from tlhelpers.viz import channel_change

CLASSES = ("cats", "dogs")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = imagefactory.make_folder(tmp_path_factory.mktemp("data") / "d", CLASSES,
                                    per_class=4, layout="split", val_per_class=3)
    return split_files(scan_folder(root))


def test_top_block_on_stored_activations_is_the_block_on_the_photos(files):
    keras.utils.set_random_seed(0)
    base = tinymodel.tiny_base()
    model = models.build_classifier(base, len(CLASSES))
    stored = strategies.store_activations(base, files, depths=(3,))
    x, _ = stored.split("val", 3)
    pooled = channel_change.top_block_pooled(model, x, n_unfrozen=3)
    photos = np.stack([load_rgb(path, tinymodel.SIZE)
                       for path, _ in files.val]).astype("float32")
    direct = np.asarray(viz.layer_model(base, ["block2_pool"], pooled=True)(photos))
    np.testing.assert_allclose(pooled, direct, rtol=1e-4, atol=1e-4)

    # A changed top block gives other responses on the same stored input.
    conv = base.get_layer("block2_conv2")
    kernel, bias = conv.get_weights()
    conv.set_weights([kernel * -1.0, bias + 1.0])
    assert not np.allclose(channel_change.top_block_pooled(model, x, n_unfrozen=3),
                           pooled)
    with pytest.raises(ValueError, match="depth 2"):
        channel_change.top_block_pooled(model, x, n_unfrozen=2)


def test_channel_changes_ranks_the_changed_channel_first():
    rng = np.random.default_rng(0)
    before = rng.uniform(1, 2, size=(20, 4))
    after = before.copy()
    after[:, 2] = before[::-1, 2] * 3        # channel 2: other photos, larger
    after[:, 0] += 0.01                      # channel 0: nearly the same
    table = channel_change.channel_changes(before, after, k=5)
    assert table["channel"].tolist()[0] == 2
    assert table.set_index("channel").loc[1, "change"] == 0
    assert table.set_index("channel").loc[1, "same_top"] == 5
    row = table.iloc[0]
    np.testing.assert_array_equal(row["top_before"], np.argsort(-before[:, 2])[:5])
    np.testing.assert_array_equal(row["top_after"], np.argsort(-after[:, 2])[:5])
    assert row["same_top"] == len(set(row["top_before"]) & set(row["top_after"]))
    with pytest.raises(ValueError, match="same"):
        channel_change.channel_changes(before, after[:, :3])
    with pytest.raises(ValueError, match="k="):
        channel_change.channel_changes(before, after, k=0)


def test_plot_channel_changes_shows_top_photos_before_and_after():
    rng = np.random.default_rng(1)
    before = rng.uniform(0, 1, size=(8, 3))
    after = before[:, ::-1].copy()
    table = channel_change.channel_changes(before, after, k=3)
    labels = np.array([0, 1] * 4)
    fig = channel_change.plot_channel_changes(
        table, lambda i: np.full((8, 8, 3), 20.0 * i), labels, CLASSES, before, after,
        n_channels=2)
    rows = [ax for ax in fig.axes if ax.get_ylabel()]
    assert len(rows) == 4
    first = table.iloc[0]
    assert rows[0].get_ylabel() == f"channel {first['channel']}\nbefore"
    shown = fig.axes[0].get_images()[0].get_array()
    np.testing.assert_allclose(shown[0, 0, 0], 20.0 * first["top_before"][0] / 255.0,
                               rtol=1e-5)


def test_plot_probes_draws_each_reference_model():
    fig = viz.plot_probes({"ImageNet": {"b1": 0.5, "b2": 0.7}},
                          references={"fine-tuned model": 0.8})
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "fine-tuned model: 80.0%" in labels
    assert any(np.allclose(line.get_ydata(), 0.8) for line in fig.axes[0].get_lines())
