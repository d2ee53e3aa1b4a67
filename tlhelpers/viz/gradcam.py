"""Grad-CAM: where in the image the evidence for a class sits.

Taught in `05_visualizing_features.ipynb` (before and after fine-tuning). The
gradient of the class score with respect to a conv layer's maps, averaged over
each map, weighs the maps; their weighted sum, clipped at zero, is the heatmap
(Selvaraju et al., 2017); the class score is the one before the softmax.
Works on a flat model and on a classifier with the base nested inside, as
`models.build_classifier` makes it.
"""

from __future__ import annotations

import dataclasses

import keras
import matplotlib
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize

from ..models import is_softmax_layer
from ._common import as_image_batch, new_figure, show_tile, to_numpy
from .images import RIGHT, WRONG
from .layers import conv_layers, image_batch, resolve_base

TARGETS = ("predicted", "true")
# How much of the photo the heatmap's colour covers at the strongest evidence.
HEAT_ALPHA = 0.6


@dataclasses.dataclass
class CamResult:
    """Heatmaps in 0..1 at the layer's resolution, with the model's outputs."""

    layer: str
    heatmaps: np.ndarray       # (N, h, w) float in 0..1
    probabilities: np.ndarray  # (N, n_classes)
    classes: np.ndarray        # (N,) class each heatmap explains

    @property
    def predicted(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)


def _class_scores(last):
    """A function x -> (class scores, model output) for the model's last layer.

    Grad-CAM needs the score before the softmax (Selvaraju et al.): the
    softmax's gradient vanishes when the model is confident, so the maps of a
    well-trained model would come out all zero. A layer with a softmax
    activation is run once more as a linear copy with the same weights; the
    user's model is not changed. Without a softmax, the output is the score.
    """
    if isinstance(last, keras.layers.Softmax):
        return lambda x: (x, last(x))
    if not is_softmax_layer(last):
        def as_is(x):
            out = last(x)
            return out, out

        return as_is
    linear = last.__class__.from_config({**last.get_config(), "activation": "linear"})

    def scores(x):
        if not linear.built:
            linear.build(tuple(x.shape))
            linear.set_weights(last.get_weights())
        return linear(x), last(x)

    return scores


def _forward_with_maps(model, layer: str):
    """A function images -> (maps of `layer`, class scores, class probabilities)."""
    if any(item.name == layer for item in model.layers):
        last = model.layers[-1]
        both = keras.Model(model.inputs, [model.get_layer(layer).output, last.input])
        scores = _class_scores(last)

        def flat(images):
            maps, x = both(images, training=False)
            return (maps, *scores(x))

        return flat
    base, _ = resolve_base(model)
    if base is model or layer not in [item.name for item in base.layers]:
        raise ValueError(f"layer={layer!r} is not in the model; conv layers: "
                         f"{', '.join(conv_layers(model)[-6:])}")
    inner = keras.Model(base.inputs, [base.get_layer(layer).output, base.output])
    at = model.layers.index(base)
    before = [item for item in model.layers[:at]
              if not isinstance(item, keras.layers.InputLayer)]
    after = model.layers[at + 1:]
    scores = _class_scores(after[-1]) if after else (lambda x: (x, x))

    def forward(images):
        x = images
        for item in before:
            x = item(x, training=False)
        maps, x = inner(x, training=False)
        for item in after[:-1]:
            x = item(x, training=False)
        return (maps, *scores(x))

    return forward


def grad_cam(model, images, layer: str | None = None, classes="predicted"
             ) -> CamResult:
    """Grad-CAM heatmaps of raw 0..255 images for a classifier.

    Taught in `05_visualizing_features.ipynb`. `layer`: a conv layer (default:
    the last one). `classes`: "predicted", or the class ids to explain (e.g.
    the true labels). The gradient is that of the class score before the
    softmax. A heatmap that is all zero means no positive evidence.
    """
    import tensorflow as tf

    layer = layer or conv_layers(model)[-1]
    batch = tf.constant(image_batch(model, images))
    forward = _forward_with_maps(model, layer)
    with tf.GradientTape() as tape:
        maps, logits, probs = forward(batch)
        if len(probs.shape) != 2:
            raise ValueError(f"the model outputs shape {tuple(probs.shape)}; "
                             "expected (N, n_classes)")
        if isinstance(classes, str):
            if classes != "predicted":
                raise ValueError(f"classes={classes!r} is not valid; expected "
                                 "'predicted' or a list of class ids")
            targets = tf.argmax(probs, axis=1)
        else:
            targets = tf.constant(to_numpy(classes).astype(np.int64).reshape(-1))
            if targets.shape[0] != batch.shape[0]:
                raise ValueError(f"classes has {targets.shape[0]} entries for "
                                 f"{batch.shape[0]} images")
        n_classes = int(probs.shape[1])
        if int(tf.reduce_min(targets)) < 0 or \
                int(tf.reduce_max(targets)) >= n_classes:
            raise ValueError(f"classes must be in 0..{n_classes - 1}")
        chosen = tf.one_hot(targets, n_classes, dtype=logits.dtype)
        score = tf.reduce_sum(logits * chosen)
    grads = tape.gradient(score, maps)
    if grads is None:
        raise ValueError(f"no gradient reaches layer={layer!r} from the output")
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cams = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1)).numpy()
    top = cams.reshape(len(cams), -1).max(axis=1).reshape(-1, 1, 1)
    cams = np.divide(cams, top, out=np.zeros_like(cams), where=top > 0)
    return CamResult(layer, cams.astype(np.float32), np.asarray(probs),
                     np.asarray(targets))


def _name(class_names, i) -> str:
    return str(class_names[i]) if class_names is not None else str(i)


def heat_colours(name: str = "jet", strongest: float = HEAT_ALPHA) -> ListedColormap:
    """`name`'s colours, see-through at 0 and more opaque with the value.

    Drawn over a photo in `05_visualizing_features.ipynb`: where the heatmap is
    0 the photo shows untouched, and at 1 the colour covers `strongest` of it.
    A constant alpha would darken the whole photo and tint places without
    evidence.
    """
    rgba = matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256))
    rgba[:, 3] = np.linspace(0.0, strongest, 256)
    return ListedColormap(rgba, name=f"{name}_see_through")


def plot_grad_cam(models: dict, images, labels, class_names=None,
                  layer: str | None = None, title: str = "Grad-CAM",
                  split: str = "test"):
    """Each image with its true label, then one heatmap row per model.

    Taught in `05_visualizing_features.ipynb`. `models`: row label -> classifier
    (e.g. {"head trained": ..., "fine-tuned": ...}); each heatmap explains that
    model's predicted class, named above it with its probability (green right,
    red wrong), and is drawn over the photo more opaque where the evidence is
    stronger, with one colour bar for the figure. A map with no positive
    evidence says so. `split`: where the images come from, named under the
    figure. The CamResults are on the Figure as `fig.tlh_cams`.
    """
    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict: label -> classifier")
    pictures = as_image_batch(images)
    labels = to_numpy(labels).astype(int).reshape(-1)
    if len(labels) != len(pictures):
        raise ValueError(f"labels has {len(labels)} entries for {len(pictures)} "
                         "images")
    results = {name: grad_cam(m, images, layer) for name, m in models.items()}
    n = len(pictures)
    fig, axes = new_figure(len(models) + 1, n, width=1.75 * n + 0.8,
                           height=1.9 * (len(models) + 1) + 1.2)
    h, w = pictures.shape[1:3]
    heat = heat_colours()
    for col in range(n):
        show_tile(axes[0, col], pictures[col],
                  f"true: {_name(class_names, labels[col])}")
        for row, cam in enumerate(results.values(), start=1):
            ax = axes[row, col]
            show_tile(ax, pictures[col])
            ax.imshow(cam.heatmaps[col], cmap=heat, vmin=0, vmax=1,
                      extent=(-0.5, w - 0.5, h - 0.5, -0.5),
                      interpolation="bilinear")
            if not cam.heatmaps[col].max() > 0:
                # Nothing drawn would look like a missing panel.
                ax.text(0.5, 0.5, "no positive\nevidence", transform=ax.transAxes,
                        ha="center", va="center", fontsize=8,
                        bbox=dict(boxstyle="round", facecolor="white", alpha=0.85,
                                  edgecolor="none"))
            guess = int(cam.predicted[col])
            p = float(cam.probabilities[col, guess])
            ax.set_title(f"{_name(class_names, guess)} {p:.0%}", fontsize=8,
                         color=RIGHT if guess == labels[col] else WRONG)
    axes[0, 0].set_ylabel("image", fontsize=9)
    for row, (name, cam) in enumerate(results.items(), start=1):
        axes[row, 0].set_ylabel(f"{name}\n({cam.layer})", fontsize=8)
    # The bar shows the colours as drawn over white: faint where weak.
    bar = fig.colorbar(ScalarMappable(Normalize(0.0, 1.0), cmap=heat),
                       ax=axes[1:, :].ravel().tolist(), location="bottom",
                       shrink=0.7, aspect=35, pad=0.02)
    bar.set_label("evidence for the predicted class "
                  "(0 = none, 1 = the photo's strongest)", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    fig.supxlabel(f"{split} image; heatmap: Grad-CAM of the model's predicted "
                  "class", fontsize=9)
    fig.supylabel("model", fontsize=9)
    fig.suptitle(title)
    fig.tlh_cams = results
    return fig
