"""Every `tlhelpers.viz` plot on tiny inputs: a Figure back, right shapes and values.

The model is `tinymodel.tiny_base` (VGG16's layer names, 32x32 inputs), so no
test downloads weights or runs VGG16 itself.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tinymodel
from matplotlib.figure import Figure

from tlhelpers import models, viz
from tlhelpers.viz.images import RIGHT, WRONG

SIZE = tinymodel.SIZE


@pytest.fixture(scope="module")
def base():
    keras.utils.set_random_seed(0)
    return tinymodel.tiny_base()


@pytest.fixture(scope="module")
def classifier(base):
    keras.utils.set_random_seed(1)
    return models.build_classifier(base, 3, dense=8)


@pytest.fixture(scope="module")
def images():
    x, y = tinymodel.images(per_class=3)
    return x, y


def gray_base():
    """A 1-channel model with no backbone: images go in as they are."""
    inputs = keras.Input(shape=(SIZE, SIZE, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu",
                            name="c1")(inputs)
    x = keras.layers.MaxPooling2D(name="p1")(x)
    x = keras.layers.Conv2D(5, 3, padding="same", activation="relu",
                            name="c2")(x)
    return keras.Model(inputs, x, name="gray")


# -- images, curves, balance, confusion --------------------------------------

def test_show_images_grid_titles_and_colours(images):
    x, y = images
    fig = viz.show_images(x, y, ["red", "blue"], n=4, predictions=[0, 1, 0, 0],
                          title="Four")
    assert isinstance(fig, Figure)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 4
    assert shown[0].get_title() == "true: red\npred: red"
    assert shown[1].get_title() == "true: red\npred: blue"
    assert y[:4].tolist() == [0, 0, 0, 1]  # predictions [0, 1, 0, 0]: 2 wrong
    assert [ax.title.get_color() for ax in shown] == [RIGHT, WRONG, RIGHT, WRONG]
    assert fig.get_suptitle() == "Four"
    assert fig.get_supxlabel()


def test_show_images_accepts_one_image_gray_uint8_and_a_dataset(images):
    x, y = images
    one = viz.show_images(x[0], [y[0]], n=16)
    assert len([ax for ax in one.axes if ax.images]) == 1
    gray = (np.arange(2 * 8 * 8).reshape(2, 8, 8, 1) % 256).astype(np.uint8)
    fig = viz.show_images(gray, None, n=2)
    data = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert data[0].ndim == 2 and float(np.max(data[1])) <= 1.0
    train_ds, _ = tinymodel.datasets(per_class=3, batch_size=4)
    from_ds = viz.show_images(train_ds, class_names=["red", "blue"], n=5)
    assert len([ax for ax in from_ds.axes if ax.images]) == 5


@pytest.mark.parametrize("bad", [np.zeros((2, 8, 8, 2)), np.zeros((2, 2, 8, 8, 3))])
def test_show_images_rejects_bad_shapes(bad):
    with pytest.raises(ValueError, match="images has shape"):
        viz.show_images(bad)


def test_show_images_rejects_bad_n_and_short_labels(images):
    x, y = images
    with pytest.raises(ValueError, match="n=0"):
        viz.show_images(x, y, n=0)
    with pytest.raises(ValueError, match="labels has 1 entries"):
        viz.show_images(x, y[:1], n=3)


def test_plot_history_two_panels_from_dict_and_history_object():
    values = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.8],
              "accuracy": [0.4, 0.7], "val_accuracy": [0.3, 0.6]}
    fig = viz.plot_history(values, title="run")
    assert len(fig.axes) == 2
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    assert all(len(ax.lines) == 2 and ax.get_xlabel() == "epoch" for ax in fig.axes)

    class FakeHistory:
        history = {"loss": [1.0], "sparse_categorical_accuracy": [0.5]}

    assert len(viz.plot_history(FakeHistory()).axes) == 2
    assert len(viz.plot_history({"loss": [3.0, 2.0]}).axes) == 1


def test_plot_history_joins_phases_and_marks_the_second():
    head = {"loss": [1.0, 0.8, 0.7], "accuracy": [0.3, 0.5, 0.6]}
    tune = {"loss": [0.6, 0.5], "accuracy": [0.7, 0.8]}
    joined, starts = viz.join_phases([head, tune])
    assert joined["loss"] == [1.0, 0.8, 0.7, 0.6, 0.5] and starts == [4]
    fig = viz.plot_history([head, tune], phase_names=["head", "fine-tune"])
    ydata = fig.axes[0].lines[0].get_ydata()
    assert list(ydata) == joined["loss"]
    # The names sit above the axes, centred over their epochs, not on the lines.
    for ax in fig.axes:
        top = ax.child_axes[0]
        names = [t.get_text() for t in top.get_xticklabels()]
        assert names == ["head", "fine-tune"]
        assert list(top.get_xticks()) == [2.0, 4.5]
        assert not ax.texts


def test_accuracy_axes_run_from_0_to_100_percent_with_chance():
    values = {"loss": [1.0, 0.9], "accuracy": [0.60, 0.62],
              "val_accuracy": [0.58, 0.68]}
    acc_ax = viz.plot_history(values, chance=0.2).axes[1]
    # Never clipped to the data: 58-68% on its own axis makes noise look large.
    assert acc_ax.get_ylim()[0] == 0 and acc_ax.get_ylim()[1] >= 1
    assert acc_ax.yaxis.get_major_formatter()(0.2, 0) == "20%"
    labels = [line.get_label() for line in acc_ax.lines]
    assert "chance (20%)" in labels
    runs = {"a": {"val_accuracy": [0.6, 0.62]}}
    ax = viz.compare_histories(runs, chance=0.25).axes[0]
    assert ax.get_ylim()[0] == 0 and "chance (25%)" in \
        [t.get_text() for t in ax.get_legend().get_texts()]
    # A gap between accuracies keeps its sign, in percentage points.
    gaps = {"a": {"accuracy_gap": [-0.1, 0.05]}}
    ax = viz.compare_histories(gaps, metric="accuracy_gap").axes[0]
    assert ax.get_ylim()[0] < 0
    assert ax.yaxis.get_major_formatter()(0.05, 0) in ("5%", "5.0%")


def test_a_keras_history_carries_its_chance():
    model = keras.Sequential([keras.Input((2,)),
                              keras.layers.Dense(4, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(np.zeros((4, 2)), np.arange(4), epochs=1, verbose=0)
    ax = viz.compare_histories({"run": history}, metric="accuracy").axes[0]
    assert ax.lines[-1].get_label() == "chance (25%)"


def test_losses_spanning_orders_of_magnitude_get_a_log_axis():
    calm = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.6]}
    assert viz.plot_history(calm).axes[0].get_yscale() == "linear"
    runs = {"calm": calm, "diverged": {"val_loss": [2.0, 300.0]}}
    ax = viz.compare_histories(runs, metric="val_loss").axes[0]
    assert ax.get_yscale() == "log" and "log scale" in ax.get_ylabel()


def test_plot_history_rejects_missing_loss_and_non_dicts():
    with pytest.raises(ValueError, match="no 'loss'"):
        viz.plot_history({"accuracy": [0.1]})
    with pytest.raises(ValueError, match="history="):
        viz.plot_history([1, 2, 3])


def test_compare_histories_one_line_per_run_and_missing_metric():
    runs = {"a": {"val_accuracy": [0.2, 0.4]}, "b": {"val_accuracy": [0.3]}}
    fig = viz.compare_histories(runs, title="runs")
    assert len(fig.axes[0].lines) == 2
    assert fig.axes[0].get_ylabel() == "val accuracy"
    with pytest.raises(ValueError, match="metric='val_loss'"):
        viz.compare_histories(runs, metric="val_loss")
    with pytest.raises(ValueError, match="non-empty dict"):
        viz.compare_histories({})


def test_class_balance_bars_per_split_and_class():
    counts = {"train": {"a": 4, "b": 2}, "val": {"a": 1, "b": 1, "c": 3}}
    fig = viz.class_balance(counts, title="balance")
    ax = fig.axes[0]
    assert len(ax.patches) == 2 * 3
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == [0, 1, 1, 2, 3, 4]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title() == "balance"
    with pytest.raises(ValueError):
        viz.class_balance({})


def test_confusion_matrix_counts_and_probabilities():
    y_true = [0, 0, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 2, 0, 2]
    counts = viz.confusion_counts(y_true, y_pred, 3)
    assert counts.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    probs = np.eye(3)[y_pred] * 0.8 + 0.05
    fig = viz.confusion_matrix(y_true, probs, ["a", "b", "c"], normalize=True)
    assert (fig.tlh_matrix == counts).all()
    assert "accuracy 67%" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="outside 0..2"):
        viz.confusion_counts([0, 3], [0, 1], 3)
    with pytest.raises(ValueError, match="same number"):
        viz.confusion_counts([0], [0, 1], 3)


# -- layers, filters, activations -------------------------------------------

def test_layer_helpers_find_convs_blocks_and_the_nested_base(base, classifier):
    assert viz.conv_layers(base) == ["block1_conv1", "block2_conv1",
                                     "block2_conv2"]
    assert viz.block_outputs(base) == ["block1_pool", "block2_pool"]
    found, backbone = viz.resolve_base(classifier)
    assert found is base and backbone == "vgg16"
    assert viz.conv_layers(classifier) == viz.conv_layers(base)
    assert viz.spread(list("abcdefg"), 3) == ["a", "d", "g"]
    with pytest.raises(ValueError, match="layer='nope'"):
        viz.layer_model(base, ["nope"])


def test_filter_tiles_are_normalised_and_flipped_to_rgb_for_vgg(base):
    tiles = viz.filter_tiles(base)
    assert tiles.shape == (4, 3, 3, 3)
    assert np.isfinite(tiles).all() and tiles.min() >= 0 and tiles.max() <= 1
    kernel = base.get_layer("block1_conv1").get_weights()[0]
    first = np.moveaxis(kernel, -1, 0)[0]
    low, high = first.min(), first.max()
    np.testing.assert_allclose(tiles[0], ((first - low) / (high - low))[..., ::-1],
                               rtol=1e-5, atol=1e-6)
    fig = viz.plot_first_filters(base, n=3)
    assert len([ax for ax in fig.axes if ax.images]) == 3
    assert "block1_conv1" in fig.get_suptitle()


def test_filters_of_a_one_channel_model_are_grey():
    tiles = viz.filter_tiles(gray_base(), n=2)
    assert tiles.shape == (2, 3, 3)
    assert isinstance(viz.plot_first_filters(gray_base()), Figure)


def test_activations_shapes_and_maps(base, images):
    x, _ = images
    maps = viz.activations(base, x[0], ["block1_conv1", "block2_pool"])
    assert maps["block1_conv1"].shape == (SIZE, SIZE, 4)
    assert maps["block2_pool"].shape == (SIZE // 4, SIZE // 4, 6)
    assert all(np.isfinite(m).all() for m in maps.values())
    fig = viz.activation_maps(base, x[0], "block2_conv1", n=3, order="index")
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles[0] == "input image" and titles[1].startswith("ch 0\n")
    # What the number is, written as a learner reads it (not 5.4e+02).
    assert "mean activation" in titles[1] and "e+" not in titles[1]
    assert len(titles) == 4
    # Asking for more channels than exist shows them all.
    many = viz.activation_maps(base, x[0], "block1_conv1", n=50)
    assert len([ax for ax in many.axes if ax.images]) == 1 + 4


def test_activations_need_exactly_one_image_of_the_right_size(base, images):
    x, _ = images
    with pytest.raises(ValueError, match="expected one"):
        viz.activations(base, x[:2], "block1_conv1")
    with pytest.raises(ValueError, match="the base expects"):
        viz.activations(base, np.zeros((8, 8, 3)), "block1_conv1")
    with pytest.raises(ValueError, match="order="):
        viz.activation_maps(base, x[0], "block1_conv1", order="random")


def test_strongest_channels_come_first(base, images):
    x, _ = images
    maps = viz.activations(base, x[0], "block2_conv2")["block2_conv2"]
    from tlhelpers.viz.activations import pick_channels
    order = pick_channels(maps, 6)
    means = maps.reshape(-1, 6).mean(axis=0)[order]
    assert list(means) == sorted(means, reverse=True)


def test_activations_of_a_one_channel_model_work():
    model = gray_base()
    image = np.random.default_rng(0).uniform(0, 255, (SIZE, SIZE, 1))
    maps = viz.activations(model, image, ["c1", "c2"])
    assert maps["c2"].shape == (SIZE // 2, SIZE // 2, 5)
    assert isinstance(viz.activation_maps(model, image, "c1", n=2), Figure)


def test_compare_depths_one_row_per_layer(base, images):
    x, _ = images
    assert viz.depth_layers(base, 2) == ["block1_conv1", "block2_conv2"]
    fig = viz.compare_depths(base, x[1], n=2)
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert [label.split("\n")[0] for label in labels] == viz.conv_layers(base)
    assert labels[0].endswith(f"{SIZE}x{SIZE}x4")


# -- patterns, Grad-CAM ------------------------------------------------------

def test_filter_patterns_raise_the_activation(base):
    patterns = viz.filter_patterns(base, "block2_conv2", filters=[0, 2, 5],
                                   steps=5)
    assert patterns.filters == [0, 2, 5]
    assert patterns.images.dtype == np.uint8 and patterns.images.shape[0] == 3
    assert patterns.images.shape[-1] == 3
    assert np.isfinite(patterns.start).all() and np.isfinite(patterns.end).all()
    assert patterns.gain.mean() > 0
    both = [patterns, viz.filter_patterns(base, "block1_conv1", 2, steps=2)]
    fig = viz.plot_patterns(both)
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()] == \
        ["block2_conv2", "block1_conv1"]
    fig = viz.plot_patterns(both, row_labels=["deep, plain", "early, plain"])
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()] == \
        ["deep, plain", "early, plain"]
    with pytest.raises(ValueError, match="row_labels"):
        viz.plot_patterns(both, row_labels=["one"])


def test_filter_patterns_on_a_smaller_canvas_and_bad_choices(base):
    patterns = viz.filter_patterns(base, "block1_conv1", 2, steps=2, size=16)
    assert patterns.images.shape[1] < SIZE
    assert base.input_shape[1] == SIZE  # the original is untouched
    with pytest.raises(ValueError, match="filters"):
        viz.filter_patterns(base, "block1_conv1", [0, 4])
    with pytest.raises(ValueError, match="steps=0"):
        viz.filter_patterns(base, "block1_conv1", 1, steps=0)


def test_filter_patterns_of_a_one_channel_model():
    patterns = viz.filter_patterns(gray_base(), "c2", 2, steps=2)
    assert patterns.images.shape[-1] == 1
    assert isinstance(viz.plot_patterns(patterns), Figure)


def test_grad_cam_on_a_nested_classifier(classifier, images):
    x, y = images
    cam = viz.grad_cam(classifier, x[:4])
    assert cam.layer == "block2_conv2"
    assert cam.heatmaps.shape == (4, SIZE // 2, SIZE // 2)
    assert np.isfinite(cam.heatmaps).all()
    assert cam.heatmaps.min() >= 0 and cam.heatmaps.max() <= 1
    # The split forward pass gives the model's own predictions.
    np.testing.assert_allclose(cam.probabilities,
                               np.asarray(classifier(x[:4], training=False)),
                               rtol=1e-4, atol=1e-5)
    true = viz.grad_cam(classifier, x[:4], "block1_conv1", classes=[0, 0, 1, 1])
    assert true.classes.tolist() == [0, 0, 1, 1]
    assert true.heatmaps.shape == (4, SIZE, SIZE)


def test_grad_cam_on_one_image_and_a_flat_model(images):
    x, _ = images
    keras.utils.set_random_seed(2)
    inputs = keras.Input(shape=(SIZE, SIZE, 3))
    h = keras.layers.Rescaling(1 / 255)(inputs)
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    flat = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(h))
    cam = viz.grad_cam(flat, x[0])
    assert cam.heatmaps.shape == (1, SIZE - 2, SIZE - 2)
    assert cam.probabilities.shape == (1, 2)


def test_grad_cam_rejects_bad_classes_and_layers(classifier, images):
    x, _ = images
    with pytest.raises(ValueError, match="classes must be in"):
        viz.grad_cam(classifier, x[:2], classes=[0, 7])
    with pytest.raises(ValueError, match="classes="):
        viz.grad_cam(classifier, x[:2], classes="best")
    with pytest.raises(ValueError, match="layer='nope'"):
        viz.grad_cam(classifier, x[:2], layer="nope")


def twin(classifier, base, scale_predictions: float = 1.0):
    """A second classifier on the same base, its last layer scaled."""
    other = models.build_classifier(base, 3, dense=8)
    other.set_weights(classifier.get_weights())
    last = other.get_layer("predictions")
    last.set_weights([w * scale_predictions for w in last.get_weights()])
    return other


def test_grad_cam_uses_the_score_before_the_softmax(classifier, base, images):
    # x100 on the last layer: the same evidence, a far more confident model.
    # The softmax's gradient then vanishes; the logit's only scales by 100.
    x, _ = images
    confident = twin(classifier, base, 100.0)
    plain = viz.grad_cam(classifier, x)
    sure = viz.grad_cam(confident, x)
    assert sure.probabilities.max(axis=1).min() > 0.999
    np.testing.assert_array_equal(sure.predicted, plain.predicted)
    peaks = plain.heatmaps.reshape(len(x), -1).max(axis=1)
    assert (peaks == 1).sum() >= 4  # most images show positive evidence
    np.testing.assert_array_equal(sure.heatmaps.reshape(len(x), -1).max(axis=1),
                                  peaks)
    np.testing.assert_allclose(sure.heatmaps, plain.heatmaps, atol=1e-4)


def test_plot_grad_cam_rows_per_model(classifier, base, images):
    x, y = images
    after = twin(classifier, base)
    kernel = after.get_layer("head_dense").kernel  # as training would move it
    kernel.assign(np.random.default_rng(5).normal(0, 0.05, kernel.shape))
    fig = viz.plot_grad_cam({"before": classifier, "after": after}, x[:3],
                            y[:3], ["red", "blue", "green"])
    assert set(fig.tlh_cams) == {"before", "after"}
    for name, model in (("before", classifier), ("after", after)):
        np.testing.assert_allclose(fig.tlh_cams[name].heatmaps,
                                   viz.grad_cam(model, x[:3]).heatmaps, atol=1e-6)
    assert not np.allclose(fig.tlh_cams["before"].heatmaps,
                           fig.tlh_cams["after"].heatmaps, atol=1e-3)
    assert len([ax for ax in fig.axes if ax.images]) == 3 * 3
    assert fig.get_supxlabel().startswith("test image")  # the split is named
    with pytest.raises(ValueError, match="labels has 2 entries"):
        viz.plot_grad_cam({"m": classifier}, x[:3], y[:2])


# -- embeddings, probes, weight change --------------------------------------

def test_project_gives_finite_2d_points():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(12, 2, 2, 6))
    for method in ("pca", "tsne"):
        xy = viz.project(features, method)
        assert xy.shape == (12, 2) and np.isfinite(xy).all()
    one = viz.project(rng.normal(size=(5, 1)))
    assert one.shape == (5, 2) and (one[:, 1] == 0).all()
    with pytest.raises(ValueError, match="at least 3"):
        viz.project(rng.normal(size=(2, 4)))
    with pytest.raises(ValueError, match="method='umap'"):
        viz.project(features, "umap")


def test_pca_separates_two_clear_clusters():
    rng = np.random.default_rng(1)
    features = np.concatenate([rng.normal(0, 1, (10, 5)), rng.normal(8, 1, (10, 5))])
    xy = viz.project(features, "pca")
    first, second = xy[:10, 0], xy[10:, 0]
    assert first.max() < second.min() or second.max() < first.min()


def test_plot_embeddings_grid_and_points():
    rng = np.random.default_rng(2)
    labels = np.repeat([0, 1, 2], 4)
    feats = {"early": rng.normal(size=(12, 3)), "late": rng.normal(size=(12, 7))}
    fig = viz.plot_embeddings(feats, labels, ["a", "b", "c"], methods="pca")
    assert len(fig.axes) == 2
    assert fig.tlh_points["late"]["pca"].shape == (12, 2)
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
    with pytest.raises(ValueError, match="hold 12 images for 11 labels"):
        viz.plot_embeddings(feats, labels[:11])


def test_linear_probe_reads_a_linear_signal():
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1, 2], 20)
    signal = np.eye(3)[y] * 4 + rng.normal(size=(60, 3))
    noise = rng.normal(size=(60, 3))
    train = {"signal": signal[::2], "noise": noise[::2]}
    val = {"signal": signal[1::2], "noise": noise[1::2]}
    scores = viz.linear_probe(train, y[::2], val, y[1::2])
    assert scores["signal"] > 0.9
    assert scores["noise"] < scores["signal"]
    with pytest.raises(ValueError, match="one class"):
        viz.linear_probe(train, np.zeros(30), val, y[1::2])
    with pytest.raises(ValueError, match="c=0"):
        viz.linear_probe(train, y[::2], val, y[1::2], c=0)
    fig = viz.plot_probes({"probe": scores}, chance=1 / 3)
    assert fig.axes[0].get_ylabel() == "test accuracy"
    assert len(fig.axes[0].lines) == 2  # the probe and the chance line
    picked = viz.plot_probes({"probe": scores}, split="validation")
    assert picked.axes[0].get_ylabel() == "validation accuracy"


def test_pooled_features_one_pass_and_stored(base, flat_folder):
    from tlhelpers.data import scan_folder, split_files

    items = split_files(scan_folder(flat_folder)).train
    first = viz.pooled_features(base, items, batch_size=8)
    assert set(first.features) == {"block1_pool", "block2_pool"}
    assert first.features["block2_pool"].shape == (len(items), 6)
    assert not first.from_cache and np.isfinite(first.features["block1_pool"]).all()
    again = viz.pooled_features(base, items)
    assert again.from_cache
    np.testing.assert_array_equal(again.features["block2_pool"],
                                  first.features["block2_pool"])
    # The pooled output equals the mean of the full map.
    x = tinymodel.images(1)[0]
    maps = viz.layer_model(base, ["block2_pool"])(x, training=False)
    both = viz.layer_model(base, ["block1_pool", "block2_pool"], pooled=True)(
        x, training=False)
    assert len(both) == 2 and tuple(both[1].shape) == (len(x), 6)
    np.testing.assert_allclose(np.asarray(maps).mean(axis=(1, 2)), both[1],
                               rtol=1e-5)


def test_pooled_features_reuse_the_maps_features_stored(base, flat_folder,
                                                        monkeypatch):
    from tlhelpers import features
    from tlhelpers.data import scan_folder, split_files
    from tlhelpers.viz import probes

    items = split_files(scan_folder(flat_folder)).val
    fresh = viz.pooled_features(base, items, cache=False)
    # The base's output (block2_pool) stored as notebook 02 stores it.
    features.extract(base, items, progress=False)
    passes = []
    real = probes.layer_model

    def recording(model, layers, pooled=False):
        passes.append(list(layers))
        return real(model, layers, pooled=pooled)

    monkeypatch.setattr(probes, "layer_model", recording)
    reused = viz.pooled_features(base, items)
    assert passes == [["block1_pool"]]  # block2_pool came from the stored maps
    assert list(reused.features) == ["block1_pool", "block2_pool"]  # in order
    for name in ("block1_pool", "block2_pool"):
        np.testing.assert_allclose(reused.features[name], fresh.features[name],
                                   rtol=1e-5, atol=1e-6)


def test_pooled_features_in_bfloat16_are_close_and_stored_apart(base, flat_folder,
                                                                monkeypatch):
    from tlhelpers import features
    from tlhelpers.data import scan_folder, split_files
    from tlhelpers.viz import probes

    items = split_files(scan_folder(flat_folder)).val
    exact = viz.pooled_features(base, items)
    fast = viz.pooled_features(base, items, precision="bfloat16")
    assert not fast.from_cache  # not float32's file
    for name in exact.features:
        assert fast.features[name].dtype == np.float32
        scale = np.abs(exact.features[name]).max()
        difference = np.abs(fast.features[name] - exact.features[name]).max()
        assert 0 < difference <= 0.05 * scale
    assert viz.pooled_features(base, items, precision="bfloat16").from_cache
    # Maps stored by a bfloat16 pass (notebook 02's under `full`) are reused
    # by a bfloat16 probe only.
    features.extract(base, items, progress=False, precision="bfloat16")
    passes = []
    real = probes.layer_model
    monkeypatch.setattr(probes, "layer_model", lambda model, layers, pooled=False:
                        passes.append(list(layers)) or real(model, layers, pooled))
    viz.pooled_features(base, items, layers=["block2_pool"], precision="bfloat16")
    assert passes == []  # pooled from the stored bfloat16 maps
    viz.pooled_features(base, items, layers=["block2_pool"])
    assert passes == [["block2_pool"]]  # no float32 maps stored: a pass
    with pytest.raises(ValueError, match="precision='half'"):
        viz.pooled_features(base, items, precision="half")


def test_pooled_features_of_a_home_made_model_in_both_precisions(flat_folder):
    from tlhelpers.data import scan_folder, split_files

    # A learner's own CNN (notebook 01's kind): no backbone, no preprocessing.
    model = models.build_small_cnn((SIZE, SIZE, 3), 3)
    items = split_files(scan_folder(flat_folder)).val
    exact = viz.pooled_features(model, items)
    fast = viz.pooled_features(model, items, precision="bfloat16")
    assert not exact.from_cache and not fast.from_cache  # stored apart
    assert list(fast.features) == list(exact.features) == viz.block_outputs(model)
    for name in exact.features:
        scale = np.abs(exact.features[name]).max()
        difference = np.abs(fast.features[name] - exact.features[name]).max()
        assert 0 < difference <= 0.05 * scale
    again = viz.pooled_features(model, items, precision="bfloat16")
    assert again.from_cache
    for name in fast.features:
        np.testing.assert_array_equal(again.features[name], fast.features[name])


def test_weight_change_is_zero_where_nothing_moved(classifier):
    after = keras.models.clone_model(classifier)
    after.set_weights(classifier.get_weights())
    layer = after.get_layer("predictions")
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel * 1.1, bias * 1.1])
    changes = viz.weight_change(classifier, after).set_index("layer")
    assert list(changes.index)[:3] == ["block1_conv1", "block2_conv1",
                                       "block2_conv2"]
    assert changes.loc["predictions", "relative_change"] == pytest.approx(0.1)
    assert (changes.drop(index="predictions")["relative_change"] == 0).all()
    fig = viz.plot_weight_change(changes.reset_index())
    assert len(fig.axes[0].patches) == len(changes)
    assert fig.axes[0].get_xlabel() and fig.axes[0].get_ylabel()


def test_weight_change_rejects_different_models(base, classifier):
    with pytest.raises(ValueError, match="different layers"):
        viz.weight_change(base, classifier)
    with pytest.raises(ValueError, match="changes is empty"):
        viz.plot_weight_change({})


# -- the activation explorer widget ------------------------------------------

def test_activation_explorer_redraws_on_change(base, images):
    from tlhelpers.widgets import activation_explorer

    x, y = images
    picks = [0, 1, 4]
    explorer = activation_explorer(base, x[picks], y[picks], ["red", "blue"], n=2)
    assert explorer.shows_image
    assert explorer.layer.options == tuple(viz.conv_layers(base))
    explorer.layer.value = "block1_conv1"
    assert explorer.figure.get_suptitle() == "Activations of block1_conv1, image 0"
    explorer.image.value = 2
    assert explorer.figure.get_suptitle().endswith("image 2")
    assert explorer.image.options[2] == ("image 2 (blue)", 2)
    with pytest.raises(ValueError, match="index=5"):
        activation_explorer(base, x[:3], index=5)



def test_runs_drawn_from_the_head_phase_start_at_epoch_0_and_come_apart():
    """Notebook 03's rate chart: each run from the head phase, overlaps told apart."""
    runs = {"a": {"val_accuracy": [0.81, 0.82]},
            "b": {"val_accuracy": [0.81, 0.815]},   # on top of "a"
            "c": {"val_accuracy": [0.2]}}           # the fall
    fig = viz.plot_from_start(0.8, runs, chance=0.2)
    whole, close = fig.axes[:2]
    drawn = [line for line in whole.get_lines() if line.get_label() in runs]
    assert [line.get_label() for line in drawn] == ["a", "b", "c"]
    for line in drawn:
        assert line.get_xdata()[0] == 0 and line.get_ydata()[0] == 0.8
    assert len({(line.get_marker(), line.get_linestyle())
                for line in drawn}) == 3
    # Close up, in points: "a" and "b" are drawn, "c" is named off scale.
    in_points = [line for line in close.get_lines() if len(line.get_xdata()) == 3]
    assert [list(np.round(line.get_ydata(), 6)) for line in in_points] == [
        [0.0, 1.0, 2.0], [0.0, 1.0, 1.5]]
    assert any("c: -60 points" in text.get_text() for text in close.texts)
    with pytest.raises(ValueError, match="not an accuracy"):
        viz.plot_from_start(0.8, {"a": {"val_loss": [1.0]}}, metric="val_loss")
    with pytest.raises(ValueError, match="non-empty"):
        viz.plot_from_start(0.8, {})
    with pytest.raises(ValueError, match="not in the history"):
        viz.plot_from_start(0.8, {"a": {"loss": [1.0]}})
