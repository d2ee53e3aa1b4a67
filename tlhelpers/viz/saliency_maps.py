"""Saliency maps side by side, and the check that they depend on what the model learned.

Taught in `07_looking_inside.ipynb`. Four ways to say which pixels the class
score rests on, all on raw 0..255 RGB images and all from the score before
the softmax (as `gradcam.py` does):

- Grad-CAM (Selvaraju et al., 2017): `gradcam.grad_cam`, upsampled;
- Grad-CAM++ (Chattopadhyay et al., 2018): each location of a map weighted
  by its own closed-form coefficient instead of the map's mean gradient;
- SmoothGrad (Smilkov et al., 2017): the input gradient averaged over noisy
  copies of the image;
- Integrated Gradients (Sundararajan et al., 2017): the input gradient
  averaged along the straight path from a black image, times the image.

The model-randomisation test of Adebayo et al. (2018, "Sanity Checks for
Saliency Maps") re-initialises the top of the network and asks whether the
maps change: a map that stays the same cannot be explaining what was learned.
Works on a flat model and on a classifier with the base nested inside, as
`models.build_classifier` makes it; the backbone's preprocessing is part of
the model, so the input gradients are those of the raw image.
"""

from __future__ import annotations

import dataclasses
import time

import keras
import numpy as np

from ..models import reinitialise
from ._common import as_image_batch, check_positive_int, new_figure, show_tile, to_numpy
from .gradcam import _forward_with_maps, _name, grad_cam, heat_colours
from .images import RIGHT, WRONG
from .layers import conv_layers, image_batch, resolve_base

METHODS = ("grad_cam", "grad_cam_plus_plus", "smoothgrad", "integrated_gradients")
CAM_METHODS = ("grad_cam", "grad_cam_plus_plus")
TITLES = {"grad_cam": "Grad-CAM", "grad_cam_plus_plus": "Grad-CAM++",
          "smoothgrad": "SmoothGrad", "integrated_gradients": "Integrated Gradients"}
COLORBAR_LABEL = "evidence, 0..1 per photo (its top 1% of pixels at 1)"
# Drawn maps are stretched so their 99th percentile reaches 1, as Smilkov et
# al. draw SmoothGrad: a gradient map's few strongest pixels would otherwise
# leave the rest too faint to see. The maps themselves are not changed.
SHOWN_PERCENTILE = 99.0


@dataclasses.dataclass(eq=False)  # arrays inside: compare by identity
class SaliencyResult:
    """Maps in 0..1 at the image's resolution, with the model's outputs and the cost."""

    method: str
    maps: np.ndarray           # (N, H, W) float32 in 0..1, one per image
    probabilities: np.ndarray  # (N, n_classes)
    classes: np.ndarray        # (N,) the class each map explains
    seconds: float             # wall time of the computation
    # CAM methods: the heatmap on the layer's grid, (N, h, w) in 0..1.
    # Gradient methods: the attributions before abs and normalisation, (N, H, W, C).
    raw: np.ndarray
    layer: str | None = None   # the conv layer of a CAM method

    @property
    def predicted(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)


def _check_method(method) -> str:
    """`method` if it is one of METHODS, or a ValueError listing them."""
    if method not in METHODS:
        raise ValueError(f"method={method!r} is unknown; valid methods: "
                         f"{', '.join(METHODS)}")
    return method


def _n_classes(model) -> int:
    """The number of classes the model outputs, or a ValueError if it is no classifier."""
    shape = tuple(model.outputs[0].shape)
    if len(shape) != 2:
        raise ValueError(f"the model outputs shape {shape}; expected (N, n_classes): "
                         "a classifier, not a bare base")
    return int(shape[1])


def _check_classes(classes, n_images: int, n_classes: int) -> np.ndarray | None:
    """None for "predicted", else one class id per image (a single id is repeated)."""
    valid = f"'predicted', one class id or one per image, in 0..{n_classes - 1}"
    if isinstance(classes, str):
        if classes != "predicted":
            raise ValueError(f"classes={classes!r} is not valid; expected {valid}")
        return None
    ids = to_numpy(classes)
    if ids.dtype == bool or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"classes={classes!r} is not valid; expected {valid}")
    if ids.ndim == 0:
        ids = np.full(n_images, int(ids))
    ids = ids.reshape(-1).astype(np.int64)
    if len(ids) != n_images:
        raise ValueError(f"classes has {len(ids)} entries for {n_images} images; "
                         f"expected {valid}")
    if ids.min() < 0 or ids.max() >= n_classes:
        raise ValueError(f"classes={ids.tolist()} is not valid; expected {valid}")
    return ids


def _check_noise(noise) -> float:
    """`noise` as a float >= 0, or a ValueError naming it."""
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.number)) \
            or not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise={noise!r} is not valid; expected a number >= 0 "
                         "(a fraction of the 0..255 range, e.g. 0.15)")
    return float(noise)


def _normalise(maps: np.ndarray) -> np.ndarray:
    """Each map divided by its own maximum; an all-zero map stays zero."""
    top = maps.reshape(len(maps), -1).max(axis=1).reshape((-1,) + (1,) * (maps.ndim - 1))
    return np.divide(maps, top, out=np.zeros_like(maps), where=top > 0).astype(np.float32)


def _upsample(cams: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """CAMs from the layer's grid to the image's size, bilinearly, each max 1 again.

    Bilinear sampling falls between the grid's cell centres, which lowers an
    isolated peak well below 1: dividing by the new maximum gives every
    method the same scale, 1 at each photo's strongest evidence.
    """
    import tensorflow as tf

    resized = tf.image.resize(cams[..., None].astype(np.float32), size, method="bilinear")
    return _normalise(np.clip(resized.numpy()[..., 0], 0.0, None))


def _predict(forward, batch: np.ndarray, batch_size: int) -> np.ndarray:
    """Class probabilities of the clean images, a few at a time."""
    import tensorflow as tf

    # A tensor, not an array: Keras warns about the input structure otherwise.
    out = [np.asarray(forward(tf.constant(batch[i:i + batch_size]))[2])
           for i in range(0, len(batch), batch_size)]
    return np.concatenate(out).astype(np.float32)


def _grad_cam_plus_plus(model, batch: np.ndarray, layer: str, targets: np.ndarray | None,
                        normalise_alphas: bool = True) -> tuple[np.ndarray, ...]:
    """(Grad-CAM++ heatmaps on the layer's grid in 0..1, probabilities, classes).

    `targets`: the class ids to explain, or None for the predicted ones.
    With Y = exp(score) and a network that is piecewise linear above the
    layer, the second and third derivatives of Y are exp(score) g^2 and
    exp(score) g^3 (g: the score's gradient), so the paper's coefficients
    have the closed form alpha = g^2 / (2 g^2 + sum_ab A_ab g^3) and the
    weights are sum_ij alpha_ij relu(g_ij). The factor exp(score) is one
    number per image: the max-normalisation removes it. `normalise_alphas`
    (the default) divides alpha by its sum over each map, as the authors'
    released code and tf-keras-vis do; the paper's equation does not.
    """
    import tensorflow as tf

    forward = _forward_with_maps(model, layer)
    images = tf.constant(batch)
    with tf.GradientTape() as tape:
        maps, logits, probs = forward(images)
        if targets is None:
            targets = np.asarray(tf.argmax(probs, axis=1))
        chosen = tf.one_hot(targets, int(probs.shape[1]), dtype=logits.dtype)
        score = tf.reduce_sum(logits * chosen)
    grads = tape.gradient(score, maps)
    if grads is None:
        raise ValueError(f"no gradient reaches layer={layer!r} from the output")
    maps = tf.cast(maps, tf.float32)
    grads = tf.cast(grads, tf.float32)
    g2 = tf.square(grads)
    g3 = g2 * grads
    total = tf.reduce_sum(maps, axis=(1, 2), keepdims=True)
    denominator = 2.0 * g2 + total * g3
    # Where the gradient is 0, alpha is 0 (0/0 in the formula).
    safe = tf.where(denominator != 0, denominator, tf.ones_like(denominator))
    alphas = tf.where(grads != 0, g2 / safe, tf.zeros_like(g2))
    if normalise_alphas:
        sums = tf.reduce_sum(alphas, axis=(1, 2), keepdims=True)
        alphas = alphas / tf.where(sums != 0, sums, tf.ones_like(sums))
    weights = tf.reduce_sum(alphas * tf.nn.relu(grads), axis=(1, 2), keepdims=True)
    cams = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1)).numpy()
    return _normalise(cams), np.asarray(probs, dtype=np.float32), np.asarray(targets)


def _input_gradients(forward, inputs: np.ndarray, target: int, batch_size: int,
                     weights: np.ndarray) -> np.ndarray:
    """sum_k weights[k] * d score(inputs[k]) / d inputs[k], `batch_size` inputs a pass.

    The score is the class score before the softmax. Each input's score
    depends on that input only (inference mode), so the gradient of their sum
    gives every input's own gradient in one backward pass.
    """
    import tensorflow as tf

    total = np.zeros(inputs.shape[1:], dtype=np.float64)
    for start in range(0, len(inputs), batch_size):
        chunk = tf.constant(inputs[start:start + batch_size])
        with tf.GradientTape() as tape:
            tape.watch(chunk)
            _, logits, _ = forward(chunk)
            score = tf.reduce_sum(tf.cast(logits[:, target], tf.float32))
        grads = tape.gradient(score, chunk).numpy().astype(np.float64)
        w = weights[start:start + batch_size].reshape((-1,) + (1,) * (grads.ndim - 1))
        total += (w * grads).sum(axis=0)
    return total.astype(np.float32)


def _smoothgrad(forward, batch, targets, samples: int, noise: float, seed: int,
                batch_size: int) -> np.ndarray:
    """Mean input gradient over `samples` noisy copies of each image (N, H, W, C)."""
    rng = np.random.default_rng(seed)
    weights = np.full(samples, 1.0 / samples)
    out = []
    for image, target in zip(batch, targets):
        copies = image[None] + rng.normal(0.0, noise * 255.0, (samples,) + image.shape)
        out.append(_input_gradients(forward, copies.astype(np.float32), int(target),
                                    batch_size, weights))
    return np.stack(out)


def _integrated_gradients(forward, batch, targets, steps: int,
                          batch_size: int) -> np.ndarray:
    """(x - baseline) times the path-averaged gradient, baseline black (N, H, W, C).

    The path integral is the trapezoid rule on `steps` intervals: steps + 1
    points from the black image (0 in raw 0..255) to the image.
    """
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)
    weights = np.full(steps + 1, 1.0 / steps)
    weights[[0, -1]] *= 0.5
    out = []
    for image, target in zip(batch, targets):
        baseline = np.zeros_like(image)
        path = baseline[None] + alphas[:, None, None, None] * (image - baseline)[None]
        mean_gradient = _input_gradients(forward, path, int(target), batch_size, weights)
        out.append((image - baseline) * mean_gradient)
    return np.stack(out)


def saliency(model, images, method: str, classes="predicted", layer: str | None = None,
             samples: int = 16, noise: float = 0.15, steps: int = 24, seed: int = 0,
             batch_size: int = 8) -> SaliencyResult:
    """Saliency maps of raw 0..255 images by one of METHODS, in 0..1 at the image's size.

    Taught in `07_looking_inside.ipynb`. `classes`: "predicted", or the class
    ids to explain (one, or one per image). `layer`: the conv layer of the
    CAM methods (default: the last one). SmoothGrad: `samples` noisy copies,
    noise with standard deviation `noise` x 255 (Smilkov et al. use 10-20%
    of the range), drawn from `seed`. Integrated Gradients: `steps`
    trapezoid steps from a black image. `batch_size`: noisy copies or path
    points per pass. CAM maps are upsampled bilinearly from the layer's grid;
    a gradient method's map is the absolute attribution summed over the
    colour channels. Every map is divided by its own maximum: 1 marks the
    strongest evidence in that photo, so maps compare within a photo, not
    across photos or methods.
    """
    _check_method(method)
    samples = check_positive_int("samples", samples)
    steps = check_positive_int("steps", steps)
    batch_size = check_positive_int("batch_size", batch_size)
    noise = _check_noise(noise)
    seed = check_positive_int("seed", seed, 0)
    batch = image_batch(model, images)
    n_classes = _n_classes(model)
    targets = _check_classes(classes, len(batch), n_classes)
    names = conv_layers(model)
    if not names:
        raise ValueError("the model has no conv layers; saliency needs a CNN")
    layer = layer or names[-1]
    size = tuple(batch.shape[1:3])
    start = time.perf_counter()
    if method == "grad_cam":
        cam = grad_cam(model, batch, layer, "predicted" if targets is None else targets)
        raw, probabilities, targets = cam.heatmaps, cam.probabilities, cam.classes
        maps = _upsample(raw, size)
    elif method == "grad_cam_plus_plus":
        raw, probabilities, targets = _grad_cam_plus_plus(model, batch, layer, targets)
        maps = _upsample(raw, size)
    else:
        forward = _forward_with_maps(model, layer)
        probabilities = _predict(forward, batch, batch_size)
        if targets is None:
            targets = probabilities.argmax(axis=1)
        if method == "smoothgrad":
            raw = _smoothgrad(forward, batch, targets, samples, noise, seed, batch_size)
        else:
            raw = _integrated_gradients(forward, batch, targets, steps, batch_size)
        maps = _normalise(np.abs(raw).sum(axis=-1))
        layer = None
    seconds = time.perf_counter() - start
    return SaliencyResult(method, maps, np.asarray(probabilities, dtype=np.float32),
                          np.asarray(targets, dtype=np.int64), float(seconds), raw, layer)


# -- the model-randomisation test ---------------------------------------------

def _copy_tags(source, target) -> None:
    """The `tlh_` attributes (backbone, weights) of `source` on `target`."""
    for key, value in vars(source).items():
        if key.startswith("tlh_"):
            setattr(target, key, value)


def randomized_copy(model, from_layer: str = "block5_conv1", seed: int = 0):
    """A copy of the classifier with its top re-initialised, from `from_layer` up.

    Taught in `07_looking_inside.ipynb`: the cascading randomisation of
    Adebayo et al. (2018). Every layer with weights from `from_layer` upward
    in the base, and every layer of the head, gets fresh weights from its own
    initializers, drawn from `seed` (two calls give the same copy). Layers
    below keep their weights exactly; `model` itself is not changed.
    """
    base, _ = resolve_base(model)
    names = [item.name for item in base.layers]
    if from_layer not in names:
        raise ValueError(f"from_layer={from_layer!r} is not in {base.name}; conv "
                         f"layers: {', '.join(conv_layers(model))}")
    seed = check_positive_int("seed", seed, 0)
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    _copy_tags(model, copy)
    copy_base, _ = resolve_base(copy)
    if copy_base is copy:
        targets = copy.layers[names.index(from_layer):]
    else:
        _copy_tags(base, copy_base)
        at = copy.layers.index(copy_base)
        targets = copy_base.layers[names.index(from_layer):] + copy.layers[at + 1:]
    copy.tlh_randomized_from = from_layer
    reinitialise(targets, seed)
    return copy


def _ssim(first: np.ndarray, second: np.ndarray) -> float:
    """Mean structural similarity of two maps in 0..1 (Gaussian window, sigma 1.5)."""
    from scipy.ndimage import gaussian_filter

    a, b = first.astype(np.float64), second.astype(np.float64)
    c1, c2 = 0.01 ** 2, 0.03 ** 2  # Wang et al. (2004), for a data range of 1
    mu_a, mu_b = gaussian_filter(a, 1.5), gaussian_filter(b, 1.5)
    var_a = gaussian_filter(a * a, 1.5) - mu_a ** 2
    var_b = gaussian_filter(b * b, 1.5) - mu_b ** 2
    cov = gaussian_filter(a * b, 1.5) - mu_a * mu_b
    index = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / \
        ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(index.mean())


def map_similarity(first, second):
    """Per image: Spearman rank correlation and SSIM of two sets of maps (N, H, W).

    A constant map has no ranking: its Spearman value is 1.0 against an
    identical map and 0.0 against any other.
    """
    import pandas as pd
    from scipy.stats import spearmanr

    a, b = np.asarray(first, dtype=np.float32), np.asarray(second, dtype=np.float32)
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"the maps have shapes {a.shape} and {b.shape}; expected two "
                         "arrays of the same shape (N, H, W)")
    rows = []
    for i, (x, y) in enumerate(zip(a, b)):
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            rho = 1.0 if np.array_equal(x, y) else 0.0
        else:
            rho = float(spearmanr(x.ravel(), y.ravel()).statistic)
        rows.append({"photo": i, "spearman": rho, "ssim": _ssim(x, y)})
    return pd.DataFrame(rows)


def sanity_check(model, images, methods=METHODS, from_layer: str = "block5_conv1",
                 seed: int = 0, threshold: float = 0.5, classes="predicted",
                 computed: dict | None = None, **options):
    """The model-randomisation test: one row per method, the maps in `df.attrs["maps"]`.

    Taught in `07_looking_inside.ipynb`. Each method explains the same classes
    (the model's predicted ones, or `classes`) with the model and with
    `randomized_copy(model, from_layer, seed)`; the columns give the mean
    Spearman rank correlation and SSIM between the two maps over the images,
    and `passes`: mean Spearman below `threshold`. Adebayo et al. (2018) read
    a low similarity as passing: the method depends on the learned weights.
    Passing does not make a map right; a method that fails draws the image
    (its edges, its bright parts), not what the model learned. `seed` draws
    the copy's weights and SmoothGrad's noise, the same noise for both
    models. `options` go to `saliency` (layer, samples, noise, steps,
    batch_size). `computed`: {method: SaliencyResult} of `model` on these
    images, made by `saliency` with the same seed and options; they are used
    as they are rather than computed again. `df.attrs`: "maps" {method:
    (result of the model, result of the copy)}, "per_photo" {method:
    DataFrame}, "classes", "from_layer", "threshold".
    """
    import pandas as pd

    chosen = [methods] if isinstance(methods, str) else list(methods)
    if not chosen:
        raise ValueError(f"methods is empty; valid methods: {', '.join(METHODS)}")
    for method in chosen:
        _check_method(method)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) \
            or not -1 < threshold <= 1:
        raise ValueError(f"threshold={threshold!r} is not valid; expected a number "
                         "in (-1, 1]")
    unknown = set(options) - {"layer", "samples", "noise", "steps", "batch_size"}
    if unknown:
        raise ValueError(f"unknown options: {', '.join(sorted(unknown))}; valid: layer, "
                         "samples, noise, steps, batch_size")
    batch = image_batch(model, images)
    targets = _check_classes(classes, len(batch), _n_classes(model))
    computed = dict(computed or {})
    for method, result in computed.items():
        _check_method(method)
        if not isinstance(result, SaliencyResult) or result.method != method \
                or result.maps.shape != batch.shape[:3]:
            raise ValueError(f"computed[{method!r}] is not {method}'s maps of these "
                             f"{len(batch)} images; expected a SaliencyResult from "
                             "saliency(model, images, method)")
        if targets is None:  # the classes it explained: the model's predictions
            targets = np.asarray(result.classes)
    randomized = randomized_copy(model, from_layer, seed)
    if targets is None:  # the model's own predictions, for both models
        forward = _forward_with_maps(model, conv_layers(model)[-1])
        size = check_positive_int("batch_size", options.get("batch_size", 8))
        targets = _predict(forward, batch, size).argmax(axis=1)
    rows, maps, per_photo = [], {}, {}
    for method in chosen:
        original = computed.get(method)
        if original is not None and not np.array_equal(original.classes, targets):
            raise ValueError(f"computed[{method!r}] explains classes "
                             f"{original.classes.tolist()}, not {list(targets)}: "
                             "compute it with the same classes")
        if original is None:
            original = saliency(model, batch, method, targets, seed=seed, **options)
        changed = saliency(randomized, batch, method, targets, seed=seed, **options)
        similarity = map_similarity(original.maps, changed.maps)
        spearman = float(similarity["spearman"].mean())
        rows.append({"method": method, "spearman": spearman,
                     "ssim": float(similarity["ssim"].mean()),
                     "passes": bool(spearman < threshold),
                     "seconds": original.seconds + changed.seconds})
        maps[method] = (original, changed)
        per_photo[method] = similarity
    df = pd.DataFrame(rows)
    df.attrs.update(maps=maps, per_photo=per_photo, classes=np.asarray(targets),
                    from_layer=from_layer, threshold=float(threshold))
    return df


# -- figures ------------------------------------------------------------------

def _labels(labels, n: int) -> np.ndarray | None:
    """The true labels as ints, checked against the number of images."""
    if labels is None:
        return None
    labels = to_numpy(labels).astype(int).reshape(-1)
    if len(labels) != n:
        raise ValueError(f"labels has {len(labels)} entries for {n} images")
    return labels


def shown_map(heatmap: np.ndarray) -> np.ndarray:
    """The map as drawn: divided by its SHOWN_PERCENTILE percentile, clipped to 0..1."""
    top = float(np.percentile(heatmap, SHOWN_PERCENTILE))
    if top <= 0:
        top = float(heatmap.max())
    return np.clip(heatmap / top, 0.0, 1.0) if top > 0 else np.zeros_like(heatmap)


def _overlay(ax, picture: np.ndarray, heatmap: np.ndarray) -> None:
    """The photo as it is, under a heatmap as see-through as its values are low.

    The colours of notebook 05's Grad-CAM: no evidence leaves the photo untouched.
    """
    show_tile(ax, picture)
    ax.imshow(shown_map(heatmap), cmap=heat_colours(), vmin=0, vmax=1)


def _map_title(ax, result: SaliencyResult, col: int, labels, class_names) -> None:
    """The explained class and its probability; green if it is the true one."""
    explained = int(result.classes[col])
    p = float(result.probabilities[col, explained])
    colour = "black" if labels is None else RIGHT if explained == labels[col] else WRONG
    ax.set_title(f"{_name(class_names, explained)} {p:.0%}", fontsize=8, color=colour)


def _rows(results) -> list[tuple[str, SaliencyResult]]:
    """(row label, result) from {method: result} or {model: {method: result}}."""
    if not isinstance(results, dict) or not results:
        raise ValueError("results must be a non-empty dict: method -> SaliencyResult, "
                         "or model label -> {method -> SaliencyResult}")
    rows = []
    for key, value in results.items():
        if isinstance(value, SaliencyResult):
            rows.append((f"{TITLES.get(value.method, value.method)}\n"
                         f"{value.seconds:.1f} s", value))
        elif isinstance(value, dict) and value and \
                all(isinstance(v, SaliencyResult) for v in value.values()):
            rows += [(f"{key}:\n{TITLES.get(v.method, v.method)}\n{v.seconds:.1f} s", v)
                     for v in value.values()]
        else:
            raise ValueError(f"results[{key!r}] is not a SaliencyResult or a dict of "
                             "them")
    return rows


def _check_maps(result: SaliencyResult, pictures: np.ndarray) -> None:
    """The maps must be one per picture, at the picture's size."""
    if result.maps.shape != pictures.shape[:3]:
        raise ValueError(f"the {result.method} maps have shape {result.maps.shape}; "
                         f"the images need {pictures.shape[:3]}")


def _colorbar(fig, **kwargs):
    """One colour bar for the maps: 0..1 per photo."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    bar = fig.colorbar(ScalarMappable(Normalize(0, 1), heat_colours()), **kwargs)
    bar.set_label(COLORBAR_LABEL, fontsize=8)
    return bar


def plot_saliency(results, images, labels=None, class_names=None,
                  title: str = "Where the evidence sits", split: str = "test"):
    """The photos with their true labels, then one row of maps per method (and model).

    Taught in `07_looking_inside.ipynb`. `results`: {method: SaliencyResult}
    or {model label: {method: SaliencyResult}}, from `saliency` on `images`.
    Each map lies over the photo, see-through; above it, the class it
    explains and its probability (green: the true class). The row labels
    give each method's seconds. The results are on the Figure as
    `fig.tlh_saliency`.
    """
    rows = _rows(results)
    pictures = as_image_batch(images)
    labels = _labels(labels, len(pictures))
    for _, result in rows:
        _check_maps(result, pictures)
    n = len(pictures)
    fig, axes = new_figure(len(rows) + 1, n, width=1.75 * n + 1.6,
                           height=1.85 * (len(rows) + 1) + 0.6)
    for col in range(n):
        show_tile(axes[0, col], pictures[col],
                  f"true: {_name(class_names, labels[col])}" if labels is not None
                  else None)
        for row, (_, result) in enumerate(rows, start=1):
            _overlay(axes[row, col], pictures[col], result.maps[col])
            _map_title(axes[row, col], result, col, labels, class_names)
    axes[0, 0].set_ylabel("photo", fontsize=9)
    for row, (label, _) in enumerate(rows, start=1):
        axes[row, 0].set_ylabel(label, fontsize=8)
    _colorbar(fig, ax=axes[1:, :].ravel().tolist(), shrink=0.6)
    fig.supxlabel(f"{split} photo (red: the pixels the class score rests on most)",
                  fontsize=9)
    fig.suptitle(title)
    fig.tlh_saliency = results
    return fig


def plot_sanity_check(df, images, labels=None, class_names=None,
                      title: str = "Sanity check: do the maps need the learned weights?"):
    """Per method, the maps of the model and of its randomised copy, photo by photo.

    Taught in `07_looking_inside.ipynb`. `df`: what `sanity_check` returned
    for `images`. Each method's row is titled with its mean Spearman
    similarity and passes (the maps changed) or fails (they did not). The
    DataFrame is on the Figure as `fig.tlh_sanity`.
    """
    import matplotlib.pyplot as plt

    maps = getattr(df, "attrs", {}).get("maps")
    if not maps:
        raise ValueError("df has no maps in df.attrs['maps']; expected the DataFrame "
                         "that sanity_check returns")
    pictures = as_image_batch(images)
    labels = _labels(labels, len(pictures))
    n = len(pictures)
    records = df.set_index("method")
    fig = plt.figure(figsize=(2 * 1.45 * n + 1.6, 1.75 * (len(maps) + 1) + 0.6),
                     layout="constrained")
    plt.close(fig)  # shown once when returned, as `new_figure` does
    left, right = fig.subfigures(1, 2, width_ratios=[2 * n, 0.6])
    parts = left.subfigures(len(maps) + 1, 1)
    top = parts[0].subplots(1, n, squeeze=False)[0]
    for col in range(n):
        name = _name(class_names, labels[col]) if labels is not None else None
        show_tile(top[col], pictures[col], f"true: {name}" if name else f"photo {col + 1}")
    for part, (method, (original, changed)) in zip(parts[1:], maps.items()):
        _check_maps(original, pictures)
        _check_maps(changed, pictures)
        axes = part.subplots(1, 2 * n, squeeze=False)[0]
        for col in range(n):
            for ax, result, which in ((axes[2 * col], original, "trained"),
                                      (axes[2 * col + 1], changed, "randomised")):
                _overlay(ax, pictures[col], result.maps[col])
                ax.set_title(which, fontsize=8)
        rho = float(records.loc[method, "spearman"])
        verdict = "passes" if bool(records.loc[method, "passes"]) else "fails"
        part.suptitle(f"{TITLES.get(method, method)}: Spearman {rho:.2f} between the "
                      f"maps, {verdict}", fontsize=9)
    cax = right.add_axes((0.1, 0.15, 0.2, 0.6))
    _colorbar(right, cax=cax)
    fig.suptitle(f"{title}\n(randomised from {df.attrs.get('from_layer', '?')} up; "
                 "passes: the maps changed)", fontsize=10)
    fig.tlh_sanity = df
    return fig
