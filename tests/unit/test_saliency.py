"""Saliency maps and the model-randomisation check, on models small enough to reason about.

The oracle is a hand-weighted model whose class-1 score comes only from a
bright patch and whose class-0 score only from the dark background, so every
method's answer is known. The tiny VGG-shaped classifier of `tinymodel`
(VGG16's preprocessing inside) checks the rest; tf-keras-vis is the outside
reference for Grad-CAM++ and the input gradient.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
import tinymodel
from matplotlib.figure import Figure

from tlhelpers import models
from tlhelpers.viz import gradcam
from tlhelpers.viz import saliency_maps as sal

SIZE = tinymodel.SIZE
PATCH = 8


def with_biases(model):
    """Non-zero biases, so a re-initialised (zero) bias shows as a change."""
    for variable in model.weights:
        if variable.name == "bias":
            variable.assign(np.full(variable.shape, 0.05, dtype="float32"))
    return model


@pytest.fixture(scope="module")
def classifier():
    keras.utils.set_random_seed(0)
    base = tinymodel.tiny_base()
    return with_biases(models.build_classifier(base, 3, dense=8))


@pytest.fixture(scope="module")
def photos():
    x, y = tinymodel.images(per_class=2)
    return x, y


@pytest.fixture(scope="module")
def flat():
    """A flat classifier with a non-linear head: the gradient varies over the map."""
    keras.utils.set_random_seed(2)
    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="block1_conv1")(x)
    x = keras.layers.MaxPooling2D(name="block1_pool")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="block2_conv1")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="block2_conv2")(x)
    x = keras.layers.MaxPooling2D(name="block2_pool")(x)
    x = keras.layers.Flatten(name="head_flatten")(x)
    x = keras.layers.Dense(8, activation="relu", name="head_dense")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    return with_biases(keras.Model(inputs, outputs, name="flat_cnn"))


def logit_model(model):
    """Raw images -> class scores before the softmax (the last Dense made linear)."""
    last = model.get_layer("predictions")
    features = keras.Model(model.inputs, last.input)
    kernel, bias = (w.numpy() for w in last.weights)
    return lambda x: features(tf.constant(x), training=False) @ kernel + bias


# -- the oracle: a model whose evidence is known ------------------------------

def oracle():
    """Class 1 scores a bright patch, class 0 the dark background; nothing else.

    block1_conv1 reads each pixel's brightness b (mean of RGB / 255): channel 0
    is relu(5 (b - 0.8)), on only where b > 0.8; channel 1 is relu(0.5 - b).
    block2_conv1 copies them; the head averages each and weighs it.
    """
    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Conv2D(2, 3, padding="same", activation="relu",
                            name="block1_conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="block1_pool")(x)
    x = keras.layers.Conv2D(2, 3, padding="same", activation="relu",
                            name="block2_conv1")(x)
    x = keras.layers.GlobalAveragePooling2D(name="head_gap")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, outputs, name="oracle")
    k1 = np.zeros((3, 3, 3, 2), "float32")
    k1[1, 1, :, 0] = 5 / (3 * 255)
    k1[1, 1, :, 1] = -1 / (3 * 255)
    model.get_layer("block1_conv1").set_weights([k1, np.array([-4.0, 0.5], "float32")])
    k2 = np.zeros((3, 3, 2, 2), "float32")
    k2[1, 1, 0, 0] = k2[1, 1, 1, 1] = 1
    model.get_layer("block2_conv1").set_weights([k2, np.zeros(2, "float32")])
    dense = np.array([[0.0, 40.0], [4.0, 0.0]], "float32")  # channel -> class
    model.get_layer("predictions").set_weights([dense, np.zeros(2, "float32")])
    return model


def patched(corners, seed=0):
    """Dark noisy images (0..120), each with a white PATCH x PATCH square at (row, col)."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 120, (len(corners), SIZE, SIZE, 3)).astype("float32")
    masks = np.zeros(images.shape[:3], bool)
    for image, mask, (row, col) in zip(images, masks, corners):
        image[row:row + PATCH, col:col + PATCH] = 255.0
        mask[row:row + PATCH, col:col + PATCH] = True
    return images, masks


def mass_inside(maps, masks):
    return (maps * masks).sum(axis=(1, 2)) / maps.sum(axis=(1, 2))


@pytest.mark.parametrize("method", sal.METHODS)
def test_every_method_finds_the_planted_patch_and_follows_it(method):
    model = oracle()
    x, masks = patched([(4, 4), (20, 18)])
    result = sal.saliency(model, x, method, samples=8, steps=16)
    assert result.predicted.tolist() == [1, 1] and result.classes.tolist() == [1, 1]
    assert result.maps.shape == (2, SIZE, SIZE) and result.maps.dtype == np.float32
    assert result.maps.min() >= 0 and np.allclose(result.maps.max(axis=(1, 2)), 1)
    assert (mass_inside(result.maps, masks) > 0.7).all()
    for m, mask in zip(result.maps, masks):  # the strongest pixel is in the patch
        assert mask.flat[m.argmax()]
    # The patch moved 16 rows down and 14 columns right: so did the map's centre.
    total = result.maps.sum(axis=(1, 2))
    rows = (result.maps.sum(axis=2) * np.arange(SIZE)).sum(axis=1) / total
    cols = (result.maps.sum(axis=1) * np.arange(SIZE)).sum(axis=1) / total
    assert rows[1] - rows[0] > 12 and cols[1] - cols[0] > 10
    background = sal.saliency(model, x, method, classes=0, samples=8, steps=16)
    if method == "integrated_gradients":
        # Against a black baseline every pixel, the patch most, made the
        # photo less dark: all attributions to "dark" are negative.
        assert (background.raw <= 0).all()
        patch = np.abs(background.raw).sum(-1)[masks].mean()
        assert patch > np.abs(background.raw).sum(-1)[~masks].mean()
    else:
        # Class 0 rests on the background: its map leaves the patch alone.
        assert (mass_inside(background.maps, masks) < 0.1).all()


# -- each method against its definition or a reference ------------------------

def test_grad_cam_is_gradcam_py_upsampled(classifier, photos):
    x, _ = photos
    result = sal.saliency(classifier, x, "grad_cam", layer="block2_conv1")
    cam = gradcam.grad_cam(classifier, x, "block2_conv1")
    up = tf.image.resize(cam.heatmaps[..., None], (SIZE, SIZE)).numpy()[..., 0]
    up = up / up.max(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(result.maps, up, atol=1e-6)
    np.testing.assert_array_equal(result.raw, cam.heatmaps)
    np.testing.assert_array_equal(result.classes, cam.classes)
    np.testing.assert_allclose(result.probabilities, cam.probabilities, atol=1e-6)
    assert result.layer == "block2_conv1" and result.seconds > 0


def test_integrated_gradients_add_up_to_the_score_difference(classifier, photos):
    x, _ = photos
    scores = logit_model(classifier)
    target = 2
    gap = np.asarray(scores(x))[:, target] - np.asarray(scores(np.zeros_like(x)))[:, target]
    errors = []
    for steps in (2, 16, 256):
        result = sal.saliency(classifier, x, "integrated_gradients", classes=target,
                              steps=steps, batch_size=64)
        assert result.raw.shape == x.shape
        errors.append(np.abs(result.raw.sum(axis=(1, 2, 3)) - gap).mean())
    # Completeness (Sundararajan et al.): exact in the limit. The ReLUs make
    # the path's gradient jump, so the trapezoid rule's error shrinks
    # roughly as 1/steps, not faster.
    assert errors[2] < errors[1] < errors[0]
    assert errors[1] < 0.25 * errors[0]
    assert errors[2] < 0.01 * np.abs(gap).max()


def test_integrated_gradients_use_the_trapezoid_rule():
    # A squared conv response: the gradient grows linearly along the path,
    # which the trapezoid rule integrates exactly, even in one step (the left
    # or right Riemann sum would be off by half the difference).
    keras.utils.set_random_seed(4)
    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Conv2D(2, 3, padding="same", name="block1_conv1")(inputs)
    x = keras.layers.Multiply(name="square")([x, x])
    x = keras.layers.GlobalAveragePooling2D(name="head_gap")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="predictions")(x)
    model = with_biases(keras.Model(inputs, outputs, name="quadratic"))
    images = np.random.default_rng(0).uniform(0, 1, (2, SIZE, SIZE, 3)).astype("float32")
    scores = logit_model(model)
    gap = np.asarray(scores(images))[:, 0] - np.asarray(scores(np.zeros_like(images)))[:, 0]
    result = sal.saliency(model, images, "integrated_gradients", classes=0, steps=1)
    np.testing.assert_allclose(result.raw.sum(axis=(1, 2, 3)), gap, rtol=1e-4)


def test_smoothgrad_without_noise_is_the_plain_input_gradient(classifier, photos):
    x, _ = photos
    scores = logit_model(classifier)
    images = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(images)
        score = tf.reduce_sum(scores(images)[:, 1])
    plain = tape.gradient(score, images).numpy()
    result = sal.saliency(classifier, x, "smoothgrad", classes=1, noise=0, samples=3,
                          batch_size=2)
    np.testing.assert_allclose(result.raw, plain, rtol=1e-4, atol=1e-6 * np.abs(plain).max())
    magnitude = np.abs(plain).sum(axis=-1)
    np.testing.assert_allclose(result.maps, magnitude / magnitude.max(axis=(1, 2),
                                                                      keepdims=True),
                               atol=1e-5)


def test_smoothgrad_noise_is_seeded(classifier, photos):
    x, _ = photos
    first = sal.saliency(classifier, x[:2], "smoothgrad", samples=4)
    again = sal.saliency(classifier, x[:2], "smoothgrad", samples=4)
    other = sal.saliency(classifier, x[:2], "smoothgrad", samples=4, seed=1)
    np.testing.assert_array_equal(first.maps, again.maps)
    assert not np.allclose(first.maps, other.maps)


# tf-keras-vis calls the model with a list of one input.
@pytest.mark.filterwarnings("ignore:The structure of `inputs`:UserWarning")
def test_input_gradient_matches_tf_keras_vis(flat, photos):
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    x, _ = photos
    classes = [0, 1, 2, 1]
    reference = Saliency(flat, model_modifier=ReplaceToLinear(), clone=True)(
        CategoricalScore(classes), x, smooth_samples=0, keepdims=True,
        gradient_modifier=None, normalize_map=False)
    ours = sal.saliency(flat, x, "smoothgrad", classes=classes, noise=0, samples=1)
    scale = np.abs(reference).max()
    np.testing.assert_allclose(ours.raw, reference, atol=1e-5 * scale)


@pytest.mark.filterwarnings("ignore:The structure of `inputs`:UserWarning")
def test_grad_cam_plus_plus_matches_tf_keras_vis(flat, photos):
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    x, _ = photos
    classes = np.array([0, 1, 2, 1])
    reference = np.asarray(GradcamPlusPlus(flat, model_modifier=ReplaceToLinear(),
                                           clone=True)(
        CategoricalScore(classes.tolist()), x, penultimate_layer="block2_conv2",
        expand_cam=False, normalize_cam=False))
    reference = reference / reference.max(axis=(1, 2), keepdims=True)
    # tf-keras-vis divides alpha by its sum over each map, as the authors'
    # code does; with that one step the rest of the computation is the same.
    same = sal.saliency(flat, x, "grad_cam_plus_plus", classes=classes,
                        layer="block2_conv2")
    np.testing.assert_allclose(same.raw, reference, atol=1e-4)  # float32 round-off
    # The paper's closed form, without that step, weighs the maps differently here.
    paper, _, _ = sal._grad_cam_plus_plus(flat, x, "block2_conv2", classes,
                                          normalise_alphas=False)
    assert paper.shape == reference.shape
    assert not np.allclose(paper, reference, atol=1e-3)


# -- the randomised copy and the sanity check ---------------------------------

def weights_by_path(model):
    return {v.path: v.numpy().copy() for v in model.weights}


def test_randomized_copy_changes_the_top_only_and_repeats(classifier):
    before = weights_by_path(classifier)
    copy = sal.randomized_copy(classifier, "block2_conv1", seed=3)
    assert copy is not classifier
    after = weights_by_path(copy)
    assert set(after) == set(before)
    kept = {"block1_conv1/kernel", "block1_conv1/bias"}
    for path, value in before.items():
        if path in kept:
            np.testing.assert_array_equal(after[path], value)
        else:  # block2 and the head: fresh weights from their initializers
            assert not np.allclose(after[path], value), path
    assert np.all(after["head_dense/bias"] == 0)  # the Dense bias initializer: zeros
    for path, value in weights_by_path(classifier).items():  # the original untouched
        np.testing.assert_array_equal(value, before[path])
    again = weights_by_path(sal.randomized_copy(classifier, "block2_conv1", seed=3))
    other = weights_by_path(sal.randomized_copy(classifier, "block2_conv1", seed=4))
    for path in before:
        np.testing.assert_array_equal(again[path], after[path])
    assert not np.allclose(other["block2_conv2/kernel"], after["block2_conv2/kernel"])


def test_randomized_copy_of_a_flat_model(flat, photos):
    x, _ = photos
    copy = sal.randomized_copy(flat, "block2_conv2")
    same = {"block1_conv1", "block2_conv1"}
    for old, new in zip(flat.layers, copy.layers):
        for a, b in zip(old.weights, new.weights):
            assert np.array_equal(a.numpy(), b.numpy()) == (old.name in same), old.name
    assert not np.allclose(copy(x), flat(x))
    with pytest.raises(ValueError, match="from_layer='block9_conv1'"):
        sal.randomized_copy(flat, "block9_conv1")


def test_similarity_of_identical_and_of_unrelated_maps():
    rng = np.random.default_rng(0)
    maps = rng.uniform(size=(3, 16, 16)).astype("float32")
    same = sal.map_similarity(maps, maps)
    assert same["spearman"].tolist() == pytest.approx([1.0] * 3)
    assert same["ssim"].tolist() == pytest.approx([1.0] * 3)
    flipped = sal.map_similarity(maps, 1 - maps)
    assert flipped["spearman"].tolist() == pytest.approx([-1.0] * 3)
    unrelated = sal.map_similarity(maps, rng.uniform(size=(3, 16, 16)))
    assert (unrelated["spearman"].abs() < 0.3).all()
    blank = np.zeros((1, 16, 16))
    assert sal.map_similarity(blank, blank)["spearman"].tolist() == [1.0]
    assert sal.map_similarity(blank, maps[:1])["spearman"].tolist() == [0.0]
    with pytest.raises(ValueError, match="same shape"):
        sal.map_similarity(maps, maps[:2])


def test_sanity_check_one_row_per_method_with_the_maps(classifier, photos):
    x, _ = photos
    df = sal.sanity_check(classifier, x, from_layer="block2_conv1", samples=4, steps=8)
    assert df["method"].tolist() == list(sal.METHODS)
    assert df["spearman"].between(-1, 1).all()
    assert df["passes"].dtype == bool
    assert (df["passes"] == (df["spearman"] < 0.5)).all()
    predicted = sal.saliency(classifier, x, "grad_cam").predicted
    np.testing.assert_array_equal(df.attrs["classes"], predicted)
    for method, (original, changed) in df.attrs["maps"].items():
        # Like for like: both models explain the trained model's predictions.
        np.testing.assert_array_equal(original.classes, predicted)
        np.testing.assert_array_equal(changed.classes, predicted)
        rho = sal.map_similarity(original.maps, changed.maps)["spearman"].mean()
        assert df.set_index("method").loc[method, "spearman"] == pytest.approx(rho)
    strict = sal.sanity_check(classifier, x[:2], methods="grad_cam",
                              from_layer="block2_conv1", threshold=-0.99)
    assert strict["passes"].tolist() == [False]


def test_sanity_check_reuses_maps_already_computed(classifier, photos):
    x, _ = photos
    done = {m: sal.saliency(classifier, x, m, samples=3, steps=4)
            for m in ("grad_cam", "smoothgrad")}
    df = sal.sanity_check(classifier, x, methods=list(done), from_layer="block2_conv1",
                          computed=done, samples=3, steps=4)
    for method, (original, _) in df.attrs["maps"].items():
        assert original is done[method]           # used as it is, not computed again
    again = sal.sanity_check(classifier, x, methods=list(done), from_layer="block2_conv1",
                             samples=3, steps=4)
    np.testing.assert_allclose(df["spearman"], again["spearman"], atol=1e-6)
    zeros = sal.saliency(classifier, x, "grad_cam", classes=np.zeros(len(x), int))
    with pytest.raises(ValueError, match="explains classes"):
        sal.sanity_check(classifier, x, methods=["grad_cam"], computed={"grad_cam": zeros},
                         classes=np.ones(len(x), int), from_layer="block2_conv1")
    with pytest.raises(ValueError, match="computed"):
        sal.sanity_check(classifier, x[:2], methods=["grad_cam"], computed=done,
                         from_layer="block2_conv1")


def test_plots_show_every_map_with_one_colour_bar(classifier, photos):
    x, y = photos
    names = ["red", "blue", "green"]
    results = {m: sal.saliency(classifier, x, m, samples=2, steps=4) for m in sal.METHODS}
    fig = sal.plot_saliency(results, x, y, names, title="Four ways")
    assert isinstance(fig, Figure) and fig.tlh_saliency is results
    tiles = [ax for ax in fig.axes if ax.images]
    assert len(tiles) == len(x) * (1 + len(sal.METHODS))
    assert sum(len(ax.images) == 2 for ax in tiles) == len(x) * len(sal.METHODS)
    bars = [ax for ax in fig.axes if ax.get_ylabel() == sal.COLORBAR_LABEL]
    assert len(bars) == 1
    assert tiles[0].get_title() == "true: red"
    both = sal.plot_saliency({"a": results, "b": results}, x, y, names)
    assert len([ax for ax in both.axes if ax.images]) == len(x) * (1 + 2 * len(sal.METHODS))

    df = sal.sanity_check(classifier, x[:2], methods=["grad_cam", "smoothgrad"],
                          from_layer="block2_conv1", samples=2)
    fig = sal.plot_sanity_check(df, x[:2], y[:2], names)
    assert fig.tlh_sanity is df
    titles = [sub.get_suptitle() for sub in fig.subfigs[0].subfigs[1:]]
    for title, (_, row) in zip(titles, df.iterrows()):
        assert f"{row['spearman']:.2f}" in title
        assert ("passes" if row["passes"] else "fails") in title
    assert len([ax for ax in fig.axes if len(ax.images) == 2]) == 2 * 2 * 2


# -- bad inputs ---------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    ({"method": "lime"}, "method='lime' is unknown; valid methods: grad_cam"),
    ({"classes": [0, 5, 0, 0]}, r"classes=\[0, 5, 0, 0\] is not valid; .* in 0..2"),
    ({"classes": [0, 1]}, "classes has 2 entries for 4 images"),
    ({"classes": "best"}, "classes='best' is not valid; expected 'predicted'"),
    ({"classes": [0.5, 1, 1, 1]}, "classes="),
    ({"samples": 0}, "samples=0 is not valid; expected an integer >= 1"),
    ({"steps": 0}, "steps=0 is not valid"),
    ({"noise": -0.1}, "noise=-0.1 is not valid"),
    ({"layer": "nope"}, "layer='nope'"),
])
def test_bad_arguments_are_named(classifier, photos, kwargs, message):
    x, _ = photos
    arguments = {"method": "smoothgrad", **kwargs}
    if kwargs.get("layer"):
        arguments["method"] = "grad_cam_plus_plus"
    with pytest.raises(ValueError, match=message):
        sal.saliency(classifier, x, **arguments)


def test_bad_images_models_and_plots_are_named(classifier, photos):
    x, y = photos
    with pytest.raises(ValueError, match="images have shape"):
        sal.saliency(classifier, x[:, :16], "grad_cam")
    with pytest.raises(ValueError, match="expected \\(N, n_classes\\)"):
        sal.saliency(tinymodel.tiny_base(), x, "smoothgrad")
    with pytest.raises(ValueError, match="methods is empty"):
        sal.sanity_check(classifier, x, methods=[])
    with pytest.raises(ValueError, match="unknown options: sample"):
        sal.sanity_check(classifier, x, sample=3)
    with pytest.raises(ValueError, match="threshold=2"):
        sal.sanity_check(classifier, x, threshold=2)
    with pytest.raises(ValueError, match="results must be a non-empty dict"):
        sal.plot_saliency({}, x)
    with pytest.raises(ValueError, match="df has no maps"):
        sal.plot_sanity_check(sal.map_similarity(np.ones((1, 4, 4)), np.ones((1, 4, 4))), x)
    result = sal.saliency(classifier, x[:2], "grad_cam")
    with pytest.raises(ValueError, match="labels has 1 entries"):
        sal.plot_saliency({"grad_cam": result}, x[:2], y[:1])
    with pytest.raises(ValueError, match="the images need"):
        sal.plot_saliency({"grad_cam": result}, x[:3])


def test_drawn_maps_put_the_top_percent_at_one_and_keep_the_order():
    rng = np.random.default_rng(0)
    sparse = rng.exponential(size=(40, 40)) ** 4     # a few strong pixels, most faint
    sparse /= sparse.max()
    shown = sal.shown_map(sparse)
    assert shown.max() == 1.0 and np.mean(shown == 1.0) == pytest.approx(0.01, abs=0.005)
    assert np.median(shown) > 3 * np.median(sparse)  # the faint pixels become visible
    order = np.argsort(sparse.ravel())[: int(0.98 * sparse.size)]
    assert np.all(np.diff(shown.ravel()[order]) >= 0)  # below the top, the order stays
    assert not sal.shown_map(np.zeros((4, 4))).any()
