"""What a filter responds to: gradient ascent on the input image.

Taught in `05_visualizing_features.ipynb`, after the Keras example "Visualizing
what convnets learn" (F. Chollet): start from a grey image with a little noise
and change its pixels, step by step, in the direction that raises one filter's
mean response. The response is taken before the layer's ReLU: deep filters
are all silent on a noise canvas, and a silent ReLU passes no gradient, so
ascent on the activation itself gains exactly nothing there. All chosen
filters of a layer are optimised together, one image per filter in one batch,
so a layer costs one forward and backward pass per step.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from ._common import check_positive_int, new_figure, show_tile
from .layers import image_batch, layer_model, resolve_base


@dataclasses.dataclass
class PatternSet:
    """Images that excite chosen filters of one layer, with the activation gained."""

    layer: str
    filters: list[int]
    images: np.ndarray        # (n, h, w, 3) uint8, display-ready
    start: np.ndarray         # (n,) mean pre-activation of each filter before
    end: np.ndarray           # (n,) and after gradient ascent

    @property
    def gain(self) -> np.ndarray:
        """How much each filter's mean response (before its ReLU) rose."""
        return self.end - self.start


def _deprocess(batch: np.ndarray, crop: int) -> np.ndarray:
    """Centre each image, fix its contrast, crop the border, map to uint8."""
    out = []
    for img in batch:
        img = img - img.mean()
        img = img / (img.std() + 1e-5) * 0.15 + 0.5
        if crop and img.shape[0] > 4 * crop and img.shape[1] > 4 * crop:
            img = img[crop:-crop, crop:-crop]
        out.append(np.clip(img * 255.0, 0, 255).astype(np.uint8))
    return np.stack(out)


def resized_base(model, size: int | None, copy: bool = False):
    """The base rebuilt for `size` x `size` inputs with the same weights.

    Convolutions do not care about the input size, and a smaller canvas makes
    gradient ascent several times cheaper. `copy`: rebuild even at the same
    size, so the caller may change the copy's layers.
    """
    base, backbone = resolve_base(model)
    if size is None:
        size = base.input_shape[1]
    if int(size) == base.input_shape[1] and not copy:
        return model
    size = check_positive_int("size", size, 8)
    shape = (size, size, int(base.input_shape[-1]))
    try:
        clone = keras.models.clone_model(base, input_tensors=keras.Input(shape=shape))
    except ValueError as err:
        raise ValueError(f"size={size} is too small for {base.name}: {err}") from None
    clone.set_weights(base.get_weights())
    clone.tlh_backbone = backbone
    return clone


def filter_patterns(model, layer: str, filters=8, steps: int = 20,
                    step_size: float = 4.0, size: int | None = None,
                    seed: int = 0) -> PatternSet:
    """Gradient ascent on the input for each chosen filter of `layer`.

    Taught in `05_visualizing_features.ipynb`. `filters`: how many (the first
    ones) or a list of channel indices. `step_size`: pixels (of 0..255) moved
    per step, along the gradient scaled to unit root-mean-square. `size`: the
    canvas side in pixels (default: the model's input size). Returns a
    PatternSet; `gain` > 0 shows the ascent worked.
    """
    import tensorflow as tf

    steps = check_positive_int("steps", steps)
    if not float(step_size) > 0:
        raise ValueError(f"step_size={step_size!r} is not valid; expected a "
                         "number > 0")
    model = resized_base(model, size, copy=True)
    target = resolve_base(model)[0].get_layer(layer)
    if hasattr(target, "activation"):
        # On the copy only: the learner's model keeps its ReLU.
        target.activation = keras.activations.linear
    extractor = layer_model(model, [layer])
    depth = int(extractor.outputs[0].shape[-1])
    if isinstance(filters, (int, np.integer)) and not isinstance(filters, bool):
        chosen = list(range(min(check_positive_int("filters", filters), depth)))
    else:
        chosen = [int(f) for f in filters]
    if not chosen or min(chosen) < 0 or max(chosen) >= depth:
        raise ValueError(f"filters={filters!r} is not valid; {layer} has filters "
                         f"0..{depth - 1}")
    base, _ = resolve_base(model)
    shape = tuple(int(d) for d in base.input_shape[1:])
    rng = np.random.default_rng(seed)
    start_images = 128.0 + rng.uniform(-20, 20, size=(len(chosen),) + shape)
    batch = tf.constant(image_batch(model, start_images.astype(np.float32)))
    # Row i of `pick` selects filter chosen[i]: image i is optimised for it.
    pick = tf.one_hot(chosen, depth, dtype=tf.float32)

    def per_filter(images):
        maps = extractor(images, training=False)
        maps = maps[0] if isinstance(maps, (list, tuple)) else maps
        # Border pixels see padding; leave them out, as the Keras example does.
        m = 2 if maps.shape[1] > 8 else 0
        if m:
            maps = maps[:, m:-m, m:-m, :]
        return tf.reduce_sum(tf.reduce_mean(maps, axis=(1, 2)) * pick, axis=1)

    @tf.function
    def ascent_step(images):
        with tf.GradientTape() as tape:
            tape.watch(images)
            total = tf.reduce_sum(per_filter(images))
        grads = tape.gradient(total, images)
        rms = tf.sqrt(tf.reduce_mean(tf.square(grads), axis=(1, 2, 3),
                                     keepdims=True))
        moved = images + step_size * grads / (rms + 1e-8)
        return tf.clip_by_value(moved, 0.0, 255.0)

    start = np.asarray(per_filter(batch))
    for _ in range(steps):
        batch = ascent_step(batch)
    end = np.asarray(per_filter(batch))
    crop = max(1, shape[0] // 16)
    return PatternSet(layer, chosen, _deprocess(np.asarray(batch), crop),
                      start.astype(np.float64), end.astype(np.float64))


def plot_patterns(pattern_sets, title: str = "What filters respond to",
                  row_labels: list[str] | None = None):
    """One row per layer, one tile per filter: the input that excites it most.

    Taught in `05_visualizing_features.ipynb`. `pattern_sets`: PatternSets from
    `filter_patterns` (or `regularised_patterns`, `07_looking_inside.ipynb`),
    early layers first. `row_labels`: one per row (default: each row's layer).
    Returns the Figure.
    """
    sets = [pattern_sets] if isinstance(pattern_sets, PatternSet) else \
        list(pattern_sets)
    if not sets:
        raise ValueError("pattern_sets is empty; expected at least one PatternSet")
    if row_labels is not None and len(row_labels) != len(sets):
        raise ValueError(f"row_labels has {len(row_labels)} labels for {len(sets)} rows")
    cols = max(len(s.filters) for s in sets)
    fig, axes = new_figure(len(sets), cols, width=1.45 * cols + 0.8,
                           height=1.6 * len(sets) + 0.8)
    for row, patterns in enumerate(sets):
        for col in range(cols):
            ax = axes[row, col]
            if col >= len(patterns.filters):
                ax.set_axis_off()
                continue
            image = patterns.images[col]
            image = image / 255.0
            show_tile(ax, image if image.shape[-1] == 3 else image[..., 0],
                      f"filter {patterns.filters[col]}")
        axes[row, 0].set_ylabel(patterns.layer if row_labels is None
                                else row_labels[row], fontsize=9)
    fig.supxlabel("filter (each tile: the input image gradient ascent found "
                  "for it)", fontsize=9)
    fig.supylabel("layer (top: early, bottom: late)", fontsize=9)
    fig.suptitle(title)
    return fig
