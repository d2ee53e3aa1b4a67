"""Mistakes of a tiny model: losses, the gallery, the confused pairs, the nb06 checks."""

from __future__ import annotations

import imagefactory
import keras
import numpy as np
import pytest
import tinymodel

from tlhelpers import models
from tlhelpers.checks import nb06
from tlhelpers.viz import confused_pairs, find_mistakes, plot_top_losses
from tlhelpers.viz.mistakes import Mistakes

NAMES = ["reddish", "bluish"]


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return models.build_classifier(tinymodel.tiny_base(), 2, dense=8)


def made_up(probabilities, labels) -> Mistakes:
    """Mistakes with chosen probabilities: the checks' answers are known."""
    probs = np.asarray(probabilities, dtype=float)
    n = len(probs)
    names = [f"c{i}" for i in range(probs.shape[1])]
    return Mistakes(np.zeros((n, 4, 4, 3), np.uint8), np.asarray(labels), probs,
                    names, [f"image {i}" for i in range(n)])


def test_from_batches_and_from_paths(model, tmp_path):
    x, y = tinymodel.images(4)
    found = find_mistakes(model, [(x[:5], y[:5]), (x[5:], y[5:])], NAMES)
    assert found.probabilities.shape == (8, 2)
    np.testing.assert_allclose(found.probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert found.images.dtype == np.uint8 and found.images.shape[1:] == (32, 32, 3)
    assert (found.losses >= 0).all()
    assert found.losses[found.worst(1)[0]] == found.losses.max()
    paths = [(imagefactory.write_jpeg(tmp_path / f"{i}.jpg", seed=i), i % 2)
             for i in range(4)]
    from_paths = find_mistakes(model, paths, NAMES)
    assert from_paths.sources == ["0.jpg", "1.jpg", "2.jpg", "3.jpg"]
    assert list(from_paths.labels) == [0, 1, 0, 1]
    assert "4 images" in repr(from_paths)


def test_labels_outside_the_model_are_refused(model):
    x, _ = tinymodel.images(2)
    with pytest.raises(ValueError, match="labels outside"):
        find_mistakes(model, (x, np.full(len(x), 5)), NAMES)
    with pytest.raises(ValueError, match="empty"):
        find_mistakes(model, [], NAMES)


def test_loss_is_minus_log_of_the_true_class():
    found = made_up([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]], [0, 0, 1])
    np.testing.assert_allclose(found.losses, -np.log([0.9, 0.2, 0.5]))
    assert list(found.worst(2)) == [1, 2]
    assert found.accuracy == pytest.approx(1 / 3)  # a tie goes to class 0


def test_confused_pairs_one_column_per_model():
    before = made_up([[0.1, 0.9, 0], [0.1, 0.9, 0], [0, 0.1, 0.9],
                      [0.9, 0.1, 0]], [0, 0, 1, 2])
    after = made_up([[0.9, 0.1, 0], [0.1, 0.9, 0], [0, 0.9, 0.1],
                     [0.9, 0.1, 0]], [0, 0, 1, 2])
    table = confused_pairs({"before": before, "after": after})
    assert list(table.columns) == ["true", "predicted as", "before", "after"]
    rows = {(r["true"], r["predicted as"]): (r["before"], r["after"])
            for r in table.to_dict("records")}
    assert rows == {("c0", "c1"): (2, 1), ("c1", "c2"): (1, 0),
                    ("c2", "c0"): (1, 1)}
    assert table.iloc[0]["before"] == 2  # sorted by the first model
    perfect = made_up([[1.0, 0.0]], [0])
    assert perfect.confused_pairs().empty


def test_gallery_and_confusion_figures(model):
    x, y = tinymodel.images(4)
    found = find_mistakes(model, (x, y), NAMES)
    fig = plot_top_losses(found, model, n=5)
    assert list(fig.tlh_indices) == list(found.worst(5))
    assert sum(ax.get_visible() and ax.axison for ax in fig.axes) == 5
    assert "true: " in fig.axes[0].get_title()
    matrix = found.plot_confusion("test").tlh_matrix
    assert matrix.sum() == len(y)


def test_check_unsure_count():
    found = made_up([[0.4, 0.3, 0.3], [0.5, 0.5, 0.0], [0.9, 0.1, 0.0],
                     [0.2, 0.7, 0.1]], [1, 0, 0, 1])
    assert not nb06.check_unsure_count(None, found).answered
    assert nb06.check_unsure_count(1, found)
    assert "not at or below" in nb06.check_unsure_count(2, found).message
    assert not nb06.check_unsure_count("many", found)
    assert not nb06.check_unsure_count(3, found)


def _dense_only(size: int = 32) -> keras.Model:
    """A classifier with no convolution layer: Grad-CAM has nothing to explain."""
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Flatten()(keras.layers.Rescaling(1 / 255)(inputs))
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x),
                       name="dense_only")


def test_a_model_grad_cam_cannot_read_says_why_on_the_figure(model, tmp_path):
    from tlhelpers.predict import predict_images
    from tlhelpers.viz import plot_predictions

    photo = imagefactory.write_jpeg(tmp_path / "photo.jpg", seed=1)
    dense = _dense_only(tinymodel.SIZE)
    results = predict_images(dense, [photo], NAMES)
    assert results[0].ok, results[0].error
    fig = plot_predictions(results, dense)
    notes = [t.get_text() for t in fig.texts]
    assert any("no heatmap" in n and "no convolution layer" in n for n in notes), notes
    # With a convolutional model the heatmap is drawn and no such note appears.
    fig = plot_predictions(predict_images(model, [photo], NAMES), model)
    assert not any("no heatmap" in t.get_text() for t in fig.texts)


def test_an_error_that_is_not_about_grad_cam_is_raised(model, monkeypatch, tmp_path):
    from tlhelpers.predict import predict_images
    from tlhelpers.viz import mistakes

    results = predict_images(
        model, [imagefactory.write_jpeg(tmp_path / "photo.jpg", seed=1)], NAMES)
    assert results[0].ok, results[0].error

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the heatmap code")

    monkeypatch.setattr(mistakes, "grad_cam", broken)
    with pytest.raises(RuntimeError, match="a bug in the heatmap code"):
        mistakes.plot_predictions(results, model)


def test_from_stored_maps_gives_the_whole_models_probabilities(model, tmp_path):
    """Notebook 06: two models sharing block1 read its stored maps, and answer as whole."""
    from tlhelpers import features

    paths = [(imagefactory.write_jpeg(tmp_path / f"{i}.jpg", seed=i), i % 2)
             for i in range(6)]
    whole = find_mistakes(model, paths, NAMES)
    for layer in ("block1_pool", "block2_pool"):  # block2_pool: the base's output
        stored = find_mistakes(model, paths, NAMES, from_stored=layer)
        np.testing.assert_allclose(stored.probabilities, whole.probabilities,
                                   rtol=1e-4, atol=1e-6)
        assert stored.sources == whole.sources
        np.testing.assert_array_equal(stored.images, whole.images)
    # A "fine-tuned" twin: block2 changed, block1 as before, so it finds the
    # block1 maps the first model stored and runs only block2 and its head.
    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    base = next(layer for layer in twin.layers if isinstance(layer, keras.Model))
    base.tlh_backbone = "vgg16"  # a clone keeps layers, not attributes
    conv = base.get_layer("block2_conv2")
    conv.set_weights([w + 0.05 for w in conv.get_weights()])
    assert features.extract(base, paths, layer="block1_pool",
                            progress=False).from_cache
    twin_whole = find_mistakes(twin, paths, NAMES)
    twin_stored = find_mistakes(twin, paths, NAMES, from_stored="block1_pool")
    np.testing.assert_allclose(twin_stored.probabilities, twin_whole.probabilities,
                               rtol=1e-4, atol=1e-6)
    assert not np.allclose(twin_whole.probabilities, whole.probabilities)


def test_from_stored_refuses_arrays_and_unknown_layers(model, tmp_path):
    x, y = tinymodel.images(2)
    with pytest.raises(ValueError, match=r"\(path, label\) pairs"):
        find_mistakes(model, (x, y), NAMES, from_stored="block1_pool")
    paths = [(imagefactory.write_jpeg(tmp_path / "a.jpg", seed=1), 0)]
    with pytest.raises(ValueError, match="is not a layer"):
        find_mistakes(model, paths, NAMES, from_stored="block9_pool")
