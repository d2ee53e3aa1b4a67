"""A trained classifier's answers, drawn: its worst mistakes, confusions, new photos.

Taught in `06_use_your_model.ipynb`. The loss of one image is -log(probability
of its true class): the gallery shows the images the model is most wrong
about (fastai's "top losses"), each with Grad-CAM on the class it predicted,
so you see what it took for the answer. Images are read with
`predict.read_image`, the training pipeline's own decoder.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..predict import class_names_of, class_probabilities, input_size, read_image
from ._common import check_positive_int, grid_shape, hide_unused, new_figure, show_tile
from .confusion import confusion_counts, confusion_matrix
from .gradcam import grad_cam, heat_colours
from .images import RIGHT, WRONG
from .layers import conv_layers

DOUBT = "#ef6c00"  # bars of a photo whose top probability is low


@dataclasses.dataclass
class Mistakes:
    """A model's probabilities on labelled images, and what follows from them."""

    images: np.ndarray          # (N, h, w, 3) uint8, as the model saw them
    labels: np.ndarray          # (N,) true class ids
    probabilities: np.ndarray   # (N, n_classes)
    class_names: list[str]
    sources: list[str]          # file names (or "image 3" for arrays)

    @property
    def predicted(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    @property
    def losses(self) -> np.ndarray:
        """Cross-entropy of each image: -log p(true class); 0 when sure and right."""
        p_true = self.probabilities[np.arange(len(self.labels)), self.labels]
        return -np.log(np.clip(p_true, 1e-7, 1.0))

    @property
    def accuracy(self) -> float:
        return float((self.predicted == self.labels).mean())

    def worst(self, n: int = 8) -> np.ndarray:
        """Indices of the `n` images with the highest loss, worst first."""
        n = check_positive_int("n", n)
        return np.argsort(-self.losses, kind="stable")[:n]

    def confused_pairs(self, top: int = 5):
        """The (true, predicted) pairs most often mixed up, as a pandas DataFrame."""
        return confused_pairs({"count": self}, top)

    def plot_confusion(self, title: str = "Confusion matrix"):
        """The confusion matrix (`viz.confusion_matrix`) of these predictions."""
        return confusion_matrix(self.labels, self.predicted, self.class_names,
                                title=title)

    def __repr__(self) -> str:
        wrong = int((self.predicted != self.labels).sum())
        return (f"Mistakes({len(self.labels)} images, {wrong} wrong, accuracy "
                f"{self.accuracy:.3f})")


def _labelled_images(data, size: int):
    """(images, labels, names) of (path, label) pairs or (images, labels) batches."""
    if isinstance(data, tuple) and len(data) == 2 and hasattr(data[0], "shape"):
        data = [data]  # one (images, labels) pair of arrays
    items = list(data) if not hasattr(data, "element_spec") else None
    if items and len(items[0]) == 2 and not hasattr(items[0][0], "shape"):
        images = np.stack([read_image(path, size) for path, _ in items])
        labels = np.array([int(label) for _, label in items])
        return images, labels, [getattr(p, "name", str(p)) for p, _ in items]
    pictures, labels = [], []
    for batch_images, batch_labels in (items if items is not None else data):
        pictures.append(np.asarray(batch_images))
        labels.append(np.asarray(batch_labels).reshape(-1))
    if not pictures:
        raise ValueError("data is empty; expected (path, label) pairs or "
                         "batches of (images, labels)")
    # The pipeline gives float 0..255 holding whole numbers: uint8 loses nothing.
    images = np.clip(np.concatenate(pictures), 0, 255).astype(np.uint8)
    labels = np.concatenate(labels).astype(int)
    return images, labels, [f"image {i}" for i in range(len(labels))]


def find_mistakes(model, data, class_names=None, *, from_stored: str | None = None,
                  precision: str = "float32") -> Mistakes:
    """A model's probabilities on labelled images; taught in `06_use_your_model.ipynb`.

    data: (path, label) pairs (`splits.files.test`) or a batched tf.data
    pipeline of (images, labels) (`splits.test_ds`). class_names: default the names
    saved in the model, else "class 0", ...
    from_stored: a layer of the model's base ("block4_pool"): the photos'
    maps there come from `features.extract` (stored on disk by notebook 02's
    pass, at its `precision`), and only the layers above it run, as when
    notebook 03 trained and graded on them. Only for (path, label) pairs.
    """
    names = class_names_of(model, class_names)
    images, labels, sources = _labelled_images(data, input_size(model))
    if labels.min() < 0 or labels.max() >= len(names):
        raise ValueError(f"labels outside 0..{len(names) - 1}: the data has "
                         "other classes than the model")
    if from_stored is None:
        probs = class_probabilities(model, images)
    else:
        probs = _probabilities_above(model, data, from_stored, precision)
    return Mistakes(images, labels, probs, names, sources)


def _probabilities_above(model, items, layer: str, precision: str) -> np.ndarray:
    """Class probabilities from the stored maps of `layer`, through the layers above it."""
    from .. import features
    from ..predict import as_probabilities
    from ..strategies.stored import stored_model
    from .layers import resolve_base

    if hasattr(items, "element_spec") or not all(
            len(item) == 2 and not hasattr(item[0], "shape") for item in items):
        raise ValueError(f"from_stored={layer!r} reads the maps stored for photo "
                         "files: pass (path, label) pairs, or leave from_stored "
                         "out for images and pipelines")
    base, _ = resolve_base(model)
    names = [held.name for held in base.layers]
    if layer not in names:
        raise ValueError(f"from_stored={layer!r} is not a layer of "
                         f"{base.name!r}; for example {names[-5]!r}")
    above = len(names) - 1 - names.index(layer)  # the base's layers that still run
    upper = stored_model(model, base, above)
    maps = features.extract(base, items, layer=None if above == 0 else layer,
                            precision=precision)
    return as_probabilities(model, upper.predict(maps.features, verbose=0,
                                                 batch_size=32))


def confused_pairs(results: dict, top: int = 5, sort_by: str | None = None):
    """The class pairs most mixed up, one count column per model, as a DataFrame.

    Taught in `06_use_your_model.ipynb`. `results`: label -> Mistakes on the
    same images (e.g. {"head trained": ..., "fine-tuned": ...}). Rows are
    sorted by the count of `sort_by` (default the first model), then by the
    others; a pair any model mixes up is listed.
    """
    import pandas as pd

    if not isinstance(results, dict) or not results:
        raise ValueError("results must be a non-empty dict: label -> Mistakes")
    top = check_positive_int("top", top)
    order = list(results)
    if sort_by is not None:
        if sort_by not in results:
            raise ValueError(f"sort_by={sort_by!r} is not valid; expected one "
                             f"of {', '.join(map(repr, results))}")
        order = [sort_by] + [label for label in results if label != sort_by]
    first = next(iter(results.values()))
    names = first.class_names
    counts = {label: confusion_counts(m.labels, m.predicted, len(names))
              for label, m in results.items()}
    rows = []
    for i, true in enumerate(names):
        for j, guess in enumerate(names):
            row = {label: int(c[i, j]) for label, c in counts.items()}
            if i != j and any(row.values()):
                rows.append({"true": true, "predicted as": guess, **row})
    columns = ["true", "predicted as", *results]
    frame = pd.DataFrame(rows, columns=columns)
    if frame.empty:
        return frame
    frame = frame.sort_values(order, ascending=False, kind="stable")
    return frame.head(top).reset_index(drop=True)


def _overlay(ax, image: np.ndarray, heatmap: np.ndarray | None) -> None:
    show_tile(ax, image)
    if heatmap is not None:
        # The same look as `plot_grad_cam`: no evidence leaves the photo as it is.
        h, w = image.shape[:2]
        ax.imshow(heatmap, cmap=heat_colours(), vmin=0, vmax=1,
                  extent=(-0.5, w - 0.5, h - 0.5, -0.5), interpolation="bilinear")


def plot_top_losses(mistakes: Mistakes, model, n: int = 8, layer: str | None = None,
                    title: str = "Highest loss"):
    """The `n` images with the highest loss, with Grad-CAM of the predicted class.

    Taught in `06_use_your_model.ipynb`. Each tile: true class, predicted
    class and its probability (red wrong, green right), and the loss. The
    indices shown are on the Figure as `fig.tlh_indices`.
    """
    picks = mistakes.worst(n)
    cams = grad_cam(model, mistakes.images[picks].astype(np.float32), layer)
    rows, cols = grid_shape(len(picks), cols=4)  # 8 tiles: two rows of four
    fig, axes = new_figure(rows, cols, width=2.3 * cols + 0.4,
                           height=2.6 * rows + 0.7)
    names, losses = mistakes.class_names, mistakes.losses
    for k, (ax, i) in enumerate(zip(axes.flat, picks)):
        guess, true = int(mistakes.predicted[i]), int(mistakes.labels[i])
        _overlay(ax, mistakes.images[i], cams.heatmaps[k])
        ax.set_title(f"true: {names[true]}\npredicted: {names[guess]} "
                     f"{mistakes.probabilities[i, guess]:.0%}\nloss "
                     f"{losses[i]:.2f}", fontsize=8,
                     color=RIGHT if guess == true else WRONG)
    hide_unused(axes, len(picks))
    fig.suptitle(f"{title} (heatmap: evidence for the predicted class, "
                 f"{cams.layer})", fontsize=10)
    fig.tlh_indices = picks
    return fig


def _heatmaps(model, results, layer):
    """Grad-CAM for the readable results, and why there is none (or None).

    Grad-CAM needs a convolution layer whose maps reach the output by a
    gradient; a model without one (`grad_cam` says so with a ValueError)
    gets its photos shown plainly, with the reason written on the figure.
    Any other error is a bug and is raised.
    """
    good = [r for r in results if r.ok]
    if model is None or not good:
        return {}, None
    if not conv_layers(model):
        return {}, f"no heatmap: the model {model.name!r} has no convolution layer"
    try:
        cams = grad_cam(model, np.stack([r.image for r in good]).astype(np.float32),
                        layer)
    except ValueError as err:
        return {}, f"no heatmap: {err}"
    return {id(r): cams.heatmaps[k] for k, r in enumerate(good)}, None


def plot_predictions(results, model=None, layer: str | None = None,
                     title: str | None = None):
    """Each photo (Grad-CAM over it when `model` is given) beside its top classes' bars.

    Taught in `06_use_your_model.ipynb`; the upload widget draws one per
    photo. `results`: Predictions from `predict.predict_images`. The note
    (low confidence) or the error is written under the bars.
    """
    results = list(results)
    if not results:
        raise ValueError("results is empty; expected Predictions from "
                         "predict_images")
    heat, no_heat = _heatmaps(model, results, layer)
    fig, axes = new_figure(len(results), 2, width=6.4,
                           height=2.3 * len(results) + (0.4 if title else 0),
                           gridspec_kw={"width_ratios": [1, 1.5]})
    for (photo, bars), result in zip(axes, results):
        bars.set_title(result.source, fontsize=9, loc="left")
        if not result.ok:
            photo.set_axis_off()
            bars.set_axis_off()
            bars.text(0, 0.5, f"cannot use this file:\n{result.error}",
                      color=WRONG, fontsize=9, wrap=True, va="center")
            continue
        _overlay(photo, result.image, heat.get(id(result)))
        labels = [name for name, _ in result.top][::-1]
        values = [p for _, p in result.top][::-1]
        bars.barh(labels, values, color=RIGHT if result.note is None else DOUBT)
        bars.set_xlim(0, 1)
        bars.xaxis.set_major_formatter("{x:.0%}")
        for y, p in enumerate(values):
            bars.text(min(p + 0.02, 0.8), y, f"{p:.0%}", va="center", fontsize=8)
        if result.note:
            bars.set_xlabel(result.note, color=DOUBT, fontsize=9)
    if title:
        fig.suptitle(title)
    if no_heat:
        fig.text(0.01, 0.005, no_heat, color=DOUBT, fontsize=8, va="bottom")
    return fig
