"""How notebook 05's embeddings and Grad-CAM figures read, checked on what is drawn.

Colours and markers per class, probe accuracies in the titles, the random-weights
control column, and a Grad-CAM overlay that leaves a photo untouched where the
model sees no evidence. Synthetic features and `tinymodel.tiny_base` only.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tinymodel
from matplotlib.backends.backend_agg import FigureCanvasAgg

from tlhelpers import models, viz
from tlhelpers.viz import gradcam

# -- embeddings ---------------------------------------------------------------


def clusters(n_classes: int, per_class: int = 4, dims: int = 5, seed: int = 0):
    """(features, labels): one loose cluster per class."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_classes), per_class)
    centres = rng.normal(0, 4, size=(n_classes, dims))
    return centres[labels] + rng.normal(size=(len(labels), dims)), labels


def styles(ax) -> list[tuple]:
    """(label, colour, marker outline) of each class drawn in `ax`."""
    drawn = []
    for points in ax.collections:
        rgb = tuple(np.round(points.get_facecolor()[0][:3], 3))
        outline = points.get_paths()[0].vertices.round(3).tobytes()
        drawn.append((points.get_label(), rgb, outline))
    return drawn


def test_ten_classes_each_get_their_own_colour_and_marker():
    features, labels = clusters(10)
    names = [f"class {k}" for k in range(10)]
    fig = viz.plot_embeddings({"late": features}, labels, names, methods="pca")
    drawn = styles(fig.axes[0])
    assert [label for label, _, _ in drawn] == names
    assert len({(rgb, outline) for _, rgb, outline in drawn}) == 10
    # Colour alone tells them apart, and so does the marker for the first seven.
    assert len({rgb for _, rgb, _ in drawn}) == 10
    assert len({outline for _, _, outline in drawn[:7]}) == 7
    # One legend for the figure, none inside a panel where it would hide points.
    assert len(fig.legends) == 1 and all(ax.get_legend() is None for ax in fig.axes)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == names


def test_panel_titles_carry_the_block_and_its_probe_accuracy():
    features, labels = clusters(3)
    feats = {"block1_pool": features[:, :3], "block4_pool": features}
    fig = viz.plot_embeddings(feats, labels, ["a", "b", "c"], methods="pca",
                              probe={"block1_pool": 0.523, "block4_pool": 0.871})
    titles = [ax.get_title() for ax in fig.axes]
    assert "block1_pool" in titles[0] and "probe 52%" in titles[0]
    assert "block4_pool" in titles[1] and "probe 87%" in titles[1]
    # Without accuracies the titles name the block and the method only.
    plain = viz.plot_embeddings(feats, labels, methods="pca")
    assert [ax.get_title() for ax in plain.axes] == ["block1_pool, PCA",
                                                     "block4_pool, PCA"]
    with pytest.raises(ValueError, match="not an accuracy"):
        viz.plot_embeddings(feats, labels, methods="pca", probe={"block1_pool": 87})


def test_the_random_weights_control_is_a_column_with_its_own_points():
    features, labels = clusters(3)
    noise = np.random.default_rng(9).normal(size=features.shape)
    feats = {"block1_pool": features[:, :3], "block4_pool": features}
    fig = viz.plot_embeddings(feats, labels, ["a", "b", "c"],
                              probe={"block4_pool": 0.9},
                              control={"block1_pool": noise[:, :3],
                                       "block4_pool": noise},
                              control_probe={"block4_pool": 0.412})
    assert len(fig.axes) == 2 * 3  # rows: blocks; columns: PCA, t-SNE, control
    control_axes = fig.axes[2::3]
    for layer, ax in zip(feats, control_axes):
        assert "random weights (control)" in ax.get_title() and layer in ax.get_title()
        drawn = np.concatenate([points.get_offsets() for points in ax.collections])
        xy = fig.tlh_control_points[layer]["tsne"]
        assert xy.shape == (len(labels), 2)
        np.testing.assert_allclose(np.sort(drawn, axis=0), np.sort(xy, axis=0))
        assert not np.allclose(xy, fig.tlh_points[layer]["tsne"])
    assert "probe 41%" in control_axes[1].get_title()
    assert not any("control" in ax.get_title() for ax in fig.axes[::3] + fig.axes[1::3])
    # A control for some blocks only: the others leave their control panel empty.
    some = viz.plot_embeddings(feats, labels, methods="pca",
                               control={"block4_pool": noise})
    assert not some.axes[1].axison and some.axes[3].collections
    assert list(some.tlh_control_points) == ["block4_pool"]
    # No control given: no control column, no control points.
    alone = viz.plot_embeddings(feats, labels)
    assert len(alone.axes) == 2 * 2 and alone.tlh_control_points == {}
    assert not any("control" in ax.get_title() for ax in alone.axes)
    assert alone.tlh_points["block4_pool"]["tsne"].shape == (len(labels), 2)
    with pytest.raises(ValueError, match="control has layers"):
        viz.plot_embeddings(feats, labels, control={"block9_pool": noise})
    with pytest.raises(ValueError, match="hold 11 images"):
        viz.plot_embeddings(feats, labels, control={"block4_pool": noise[:11]})


# -- Grad-CAM -----------------------------------------------------------------


@pytest.fixture(scope="module")
def classifier():
    keras.utils.set_random_seed(0)
    base = tinymodel.tiny_base()
    keras.utils.set_random_seed(1)
    return models.build_classifier(base, 3, dense=8)


def freeze(fig) -> None:
    """Lay the figure out once, then keep it: a new layout moves axes by a pixel."""
    FigureCanvasAgg(fig).draw()
    fig.set_layout_engine("none")


def pixels(fig, ax) -> np.ndarray:
    """The rendered RGB pixels inside `ax`'s frame."""
    fig.canvas.draw()
    buffer = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    box = ax.get_window_extent()
    top = buffer.shape[0] - int(np.ceil(box.y1)) + 2
    bottom = buffer.shape[0] - int(np.floor(box.y0)) - 2
    return buffer[top:bottom, int(np.ceil(box.x0)) + 2:int(np.floor(box.x1)) - 2]


def test_grad_cam_leaves_the_photo_untouched_where_there_is_no_evidence(
        classifier, monkeypatch):
    x, y = tinymodel.images(per_class=2)
    real = gradcam.grad_cam

    def second_map_blank(model, images, layer=None):
        cam = real(model, images, layer)
        cam.heatmaps[1] = 0.0
        return cam

    monkeypatch.setattr(gradcam, "grad_cam", second_map_blank)
    fig = viz.plot_grad_cam({"m": classifier}, x[:3], y[:3], ["red", "blue"])
    heatmaps = fig.tlh_cams["m"].heatmaps
    assert heatmaps[0].max() == 1 and heatmaps[1].max() == 0
    panels = [ax for ax in fig.axes if len(ax.images) == 2]
    assert len(panels) == 3
    # One colour bar for the figure, saying what the colours mean.
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 1
    assert "evidence for the predicted class" in bars[0].get_xlabel()
    # The overlay is see-through where the map is 0 and opaque where it is high.
    overlay = panels[0].images[1]
    alpha = overlay.to_rgba(heatmaps[0])[..., 3]
    assert (alpha[heatmaps[0] == 0] == 0).all() and alpha.max() > 0.3
    # The blank map says so instead of looking like a missing panel.
    texts = [t.get_text().replace("\n", " ") for t in panels[1].texts]
    assert texts == ["no positive evidence"]
    assert not panels[0].texts
    # Rendered, the blank panel is the photo itself, pixel for pixel (old: the
    # zero value drawn in dark blue at 45% dimmed the whole photo) ...
    freeze(fig)
    panels[1].texts[0].set_visible(False)
    covered = pixels(fig, panels[1])
    panels[1].images[1].set_visible(False)
    np.testing.assert_array_equal(covered, pixels(fig, panels[1]))
    # ... while a map with evidence does change the photo.
    covered = pixels(fig, panels[0])
    panels[0].images[1].set_visible(False)
    assert np.abs(covered.astype(int) - pixels(fig, panels[0])).max() > 20
