"""Regularised feature visualisation, dataset examples and the feature explorer.

On `tinymodel.tiny_base` (VGG16's layer names, 32x32 inputs): the ascent
climbs, is seeded and stored; `top_activating` finds bright spots planted in
dark images; the explorer redraws for the layer and channel chosen.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tinymodel
from PIL import Image

from tlhelpers.viz import feature_vis as fv
from tlhelpers.viz import patterns

SIZE = tinymodel.SIZE
FAST = {"steps": 3, "size": SIZE}  # a few steps: these tests check plumbing, not beauty
# The default steps; shifts of a few pixels, as 8 are on VGG16's 96-pixel canvas.
TINY_CANVAS = {"size": SIZE, "jitter": 2}

# (image index, top, left, brightness): bright 4x4 squares in dark images.
SPOTS = [(2, 4, 20, 255), (5, 24, 6, 225), (6, 14, 14, 195)]


@pytest.fixture(scope="module")
def base():
    keras.utils.set_random_seed(0)
    return tinymodel.tiny_base()


def spot_base():
    """The tiny base wired so that channel 0 of every conv layer measures brightness."""
    model = tinymodel.tiny_base()
    for name in ("block1_conv1", "block2_conv1", "block2_conv2"):
        conv = model.get_layer(name)
        kernel, bias = conv.get_weights()
        kernel[:] = 0.0
        if name == "block1_conv1":
            kernel[:, :, :, 0] = 1.0 / 27  # the mean of the preprocessed pixels
            kernel[:, :, :, 1] = -1.0 / 27  # darkness, so the other channels differ
        else:
            kernel[:, :, 0, 0] = kernel[:, :, 1, 1] = 1.0 / 9
        conv.set_weights([kernel, np.zeros_like(bias)])
    return model


def spot_images(n: int = 8) -> np.ndarray:
    """Dark noisy images, three with a bright square (SPOTS), brightest first."""
    rng = np.random.default_rng(3)
    images = rng.uniform(0, 40, size=(n, SIZE, SIZE, 3)).astype(np.float32)
    for index, top, left, value in SPOTS:
        images[index, top:top + 4, left:left + 4] = value
    return images


# -- regularised_patterns --------------------------------------------------------------

def test_regularised_ascent_raises_each_filters_response(base):
    result = fv.regularised_patterns(base, "block2_conv2", [0, 2, 5], cache=False,
                                     **TINY_CANVAS)
    assert result.filters == [0, 2, 5]
    assert result.images.shape == (3, SIZE, SIZE, 3) and result.images.dtype == np.uint8
    assert (result.gain > 0).all(), result.gain
    # Filters silent on any canvas after their ReLU still climb before it.
    keras.utils.set_random_seed(0)
    silenced = tinymodel.tiny_base()
    conv = silenced.get_layer("block2_conv2")
    kernel, bias = conv.get_weights()
    conv.set_weights([kernel, bias - 1e4])
    quiet = fv.regularised_patterns(silenced, "block2_conv2", 3, cache=False,
                                    **TINY_CANVAS)
    assert (quiet.start < 0).all() and (quiet.gain > 0).all(), quiet.gain
    assert silenced.get_layer("block2_conv2").activation.__name__ == "relu"


def test_the_high_frequency_penalty_smooths_pixel_images(base):
    def roughness(penalty):
        images = fv.regularised_patterns(
            base, "block2_conv2", 2, steps=20, size=SIZE, parameterisation="pixels",
            high_freq_penalty=penalty, cache=False).images.astype(float)
        return np.abs(np.diff(images, axis=1)).mean() + np.abs(np.diff(images, axis=2)).mean()

    assert roughness(1.0) < 0.7 * roughness(0.0)


def test_the_same_seed_gives_the_same_images_another_seed_others(base):
    for parameterisation in ("fourier", "pixels"):
        a, b, c = (fv.regularised_patterns(base, "block2_conv1", 2, seed=seed,
                                           parameterisation=parameterisation,
                                           cache=False, **FAST)
                   for seed in (0, 0, 1))
        np.testing.assert_array_equal(a.images, b.images)
        np.testing.assert_array_equal(a.end, b.end)
        assert not np.array_equal(a.images, c.images), parameterisation


def test_a_rerun_reads_the_cache_and_any_change_misses_it(base, tlh_home):
    first = fv.regularised_patterns(base, "block2_conv2", 2, **FAST)
    again = fv.regularised_patterns(base, "block2_conv2", 2, **FAST)
    assert not first.from_cache and again.from_cache
    assert list((tlh_home / "patterns").glob("*.npz"))
    np.testing.assert_array_equal(first.images, again.images)
    np.testing.assert_array_equal(first.gain, again.gain)
    assert again.compute_seconds == pytest.approx(first.compute_seconds)
    assert again.seconds < 1.0 and again.seconds_per_image > 0
    changes = [{"steps": 4}, {"size": 40}, {"seed": 1}, {"jitter": 2},
               {"scale": (0.8, 1.2)}, {"rotate": 5.0}, {"high_freq_penalty": 0.5},
               {"parameterisation": "pixels"}, {"learning_rate": 0.05},
               {"filters": [0, 1, 2]}, {"layer": "block2_conv1"}]
    for change in changes:
        kwargs = {"layer": "block2_conv2", "filters": 2, **FAST, **change}
        assert not fv.regularised_patterns(base, **kwargs).from_cache, change
    assert fv.regularised_patterns(base, "block2_conv2", 2, **FAST).from_cache


def test_weights_up_to_the_layer_key_the_cache_and_those_above_do_not():
    model = tinymodel.tiny_base()
    assert not fv.regularised_patterns(model, "block2_conv1", 2, **FAST).from_cache
    above = model.get_layer("block2_conv2")
    above.set_weights([w + 1.0 for w in above.get_weights()])
    assert fv.regularised_patterns(model, "block2_conv1", 2, **FAST).from_cache
    below = model.get_layer("block1_conv1")
    kernel, bias = below.get_weights()
    below.set_weights([kernel * 1.01, bias])
    assert not fv.regularised_patterns(model, "block2_conv1", 2, **FAST).from_cache


# -- top_activating and the figure -------------------------------------------------------

def check_spots(examples, images):
    assert examples.indices[0].tolist() == [index for index, *_ in SPOTS]
    assert (np.diff(examples.values[0]) < 0).all()
    for j, (index, top, left, value) in enumerate(SPOTS):
        box_top, box_left, box_bottom, box_right = examples.boxes[0, j]
        assert box_top <= top and box_bottom >= top + 4, examples.boxes[0, j]
        assert box_left <= left and box_right >= left + 4, examples.boxes[0, j]
        crop = examples.crops[0][j]
        assert crop.shape == (box_bottom - box_top, box_right - box_left, 3)
        assert crop.max() == value and crop.min() < 40
        np.testing.assert_array_equal(
            crop, images[index, box_top:box_bottom, box_left:box_right].astype(np.uint8))


def test_top_activating_finds_the_planted_spots_in_images_and_files(tmp_path):
    model = spot_base()
    images = spot_images()
    found = fv.top_activating(model, images, "block2_conv2", 0, k=3)
    assert found.channels == [0] and found.labels is None
    check_spots(found, images)

    items = []
    for i, image in enumerate(images.astype(np.uint8)):
        path = tmp_path / f"photo{i}.png"
        Image.fromarray(image).save(path)
        items.append((path, i % 2))
    from_files = fv.top_activating(model, items, "block2_conv2", [0], k=3, split="test")
    check_spots(from_files, images)
    assert from_files.labels[0].tolist() == [index % 2 for index, *_ in SPOTS]
    assert not from_files.from_cache
    # Another channel is read from the stored maxima: no pass over the photos.
    other = fv.top_activating(model, items, "block2_conv2", [1, 0], k=3, split="test")
    assert other.from_cache and other.indices[1].tolist() == [2, 5, 6]


def test_plot_dataset_examples_pairs_patterns_with_crops(base):
    images = spot_images()
    examples = fv.top_activating(base, images, "block2_conv2", [1, 4], k=3, split="test")
    regular = fv.regularised_patterns(base, "block2_conv2", [1, 4], **FAST)
    plain = patterns.filter_patterns(base, "block2_conv2", [1, 4], steps=2)
    fig = fv.plot_dataset_examples(examples, regular, plain)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 2 * (2 + 3)
    assert shown[0].get_ylabel() == "channel 1" and shown[5].get_ylabel() == "channel 4"
    assert shown[2].get_title() == fv.readable(float(examples.values[0, 0]))
    assert "test photos" in fig.get_supxlabel()
    other = fv.regularised_patterns(base, "block2_conv1", [1], **FAST)
    with pytest.raises(ValueError, match="block2_conv1"):
        fv.plot_dataset_examples(examples, other)


@pytest.mark.parametrize("call, word", [
    (lambda m, x: fv.regularised_patterns(m, "nope", 2, **FAST), "layer='nope'"),
    (lambda m, x: fv.regularised_patterns(m, "block2_conv2", [6], **FAST), "filters"),
    (lambda m, x: fv.regularised_patterns(m, "block2_conv2", 0, **FAST), "filters"),
    (lambda m, x: fv.regularised_patterns(m, "block2_conv2", steps=0), "steps"),
    (lambda m, x: fv.regularised_patterns(m, "block2_conv2", parameterisation="x"),
     "parameterisation"),
    (lambda m, x: fv.regularised_patterns(m, "block2_conv2", scale=(1.2, 0.9)), "scale"),
    (lambda m, x: fv.top_activating(m, x, "nope", 0), "layer='nope'"),
    (lambda m, x: fv.top_activating(m, x, "block2_conv2", 6), "channels=6"),
    (lambda m, x: fv.top_activating(m, x, "block2_conv2", [-1]), "channels"),
    (lambda m, x: fv.top_activating(m, x, "block2_conv2", 0, k=0), "k=0"),
    (lambda m, x: fv.top_activating(m, [], "block2_conv2", 0), "empty"),
])
def test_bad_inputs_give_errors_naming_the_parameter(base, call, word):
    with pytest.raises(ValueError, match=word):
        call(base, spot_images())


# -- the widget -----------------------------------------------------------------------

def test_feature_explorer_redraws_for_the_chosen_layer_and_channel(monkeypatch):
    from tlhelpers.widgets import features as widget_mod

    drawn = []
    real = widget_mod.plot_dataset_examples

    def spy(examples, *args, **kwargs):
        drawn.append((examples.layer, list(examples.channels)))
        return real(examples, *args, **kwargs)

    monkeypatch.setattr(widget_mod, "plot_dataset_examples", spy)
    explorer = widget_mod.feature_explorer(spot_base(), spot_images(), k=3,
                                           plain_steps=2, settings=FAST)
    assert explorer.shows_image and drawn == [("block2_conv2", [0])]
    assert explorer.layer.value == "block2_conv2"  # the last conv layer
    assert (explorer.channel.min, explorer.channel.max) == (0, 5)
    assert explorer.examples.indices[0].tolist() == [2, 5, 6]
    png = explorer.output.outputs[0]["data"]["image/png"]

    explorer.channel.value = 5
    assert drawn[-1] == ("block2_conv2", [5])
    assert explorer.patterns.filters == [5] and explorer.plain.filters == [5]
    assert explorer.figure.get_suptitle() == "What excites block2_conv2, channel 5"
    assert explorer.output.outputs[0]["data"]["image/png"] != png

    # block1_conv1 has 4 channels: the box follows, and the panel draws once.
    explorer.layer.value = "block1_conv1"
    assert drawn[-1] == ("block1_conv1", [3]) and len(drawn) == 3
    assert explorer.channel.max == 3 and explorer.examples.layer == "block1_conv1"
    assert "block1_conv1, channel 3" in explorer.status.value

    with pytest.raises(ValueError, match="channel=9"):
        widget_mod.feature_explorer(spot_base(), spot_images(), channel=9)
    with pytest.raises(ValueError, match="settings"):
        widget_mod.feature_explorer(spot_base(), spot_images(), settings={"stepz": 2})


def test_feature_explorer_shows_an_error_in_its_panel(monkeypatch):
    from tlhelpers.widgets import features as widget_mod

    explorer = widget_mod.feature_explorer(spot_base(), spot_images(), k=2,
                                           plain_steps=0, settings=FAST)
    assert explorer.plain is None

    def boom(*args, **kwargs):
        raise ValueError("no photos today")

    monkeypatch.setattr(widget_mod, "top_activating", boom)
    with pytest.raises(ValueError, match="no photos"):
        explorer.channel.value = 1
    assert "Error: no photos today" in explorer.status.value
