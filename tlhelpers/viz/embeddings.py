"""Features of many images squeezed to 2-D (PCA and t-SNE), coloured by class.

Taught in `05_visualizing_features.ipynb`: if a layer separates the classes,
images of one class sit together in its 2-D map.
"""

from __future__ import annotations

import numpy as np

from ._common import new_figure, to_numpy

METHODS = ("pca", "tsne")
METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE"}
EXACT_UP_TO = 500  # points; above, t-SNE switches to Barnes-Hut
CONTROL_NAME = "random weights (control)"
# Ten colours told apart by colour-blind readers (Okabe-Ito's, its two blues
# far apart so that five classes never get two blues, then grey and wine from
# Paul Tol's set), and a marker per class as well: colour alone fails in
# grey print and for some readers. Yellow comes last: it is faint on white.
CLASS_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#000000",
                 "#D55E00", "#56B4E9", "#999999", "#882255", "#F0E442")
CLASS_MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def class_style(k: int) -> tuple[str, str]:
    """(colour, marker) of class k in the 2-D maps of `05_visualizing_features.ipynb`.

    Ten colours and seven markers cycle side by side, so no two of the first
    70 classes share both.
    """
    return CLASS_COLOURS[k % len(CLASS_COLOURS)], CLASS_MARKERS[k % len(CLASS_MARKERS)]


def flat_features(features) -> np.ndarray:
    """(N, D) float64: feature maps are averaged over height and width first."""
    array = to_numpy(features).astype(np.float64)
    if array.ndim == 4:
        array = array.mean(axis=(1, 2))
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"features have shape {array.shape}; expected (N, D) or "
                         "(N, height, width, channels)")
    if not np.isfinite(array).all():
        raise ValueError("features contain NaN or infinite values")
    return array


def project(features, method: str = "pca", seed: int = 0) -> np.ndarray:
    """(N, 2) coordinates of the features by PCA or t-SNE (scikit-learn).

    Taught in `05_visualizing_features.ipynb`. Features are standardised
    first, so no channel dominates by scale. t-SNE's perplexity shrinks for
    small N (it must stay below N). One feature gives (value, 0).
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    if method not in METHODS:
        raise ValueError(f"method={method!r} is unknown; valid: {', '.join(METHODS)}")
    array = flat_features(features)
    n = len(array)
    if n < 3:
        raise ValueError(f"features hold {n} image(s); a 2-D map needs at least 3")
    array = StandardScaler().fit_transform(array)
    if array.shape[1] == 1:
        return np.column_stack([array[:, 0], np.zeros(n)])
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(array)
    perplexity = float(min(30.0, max(2.0, (n - 1) / 3)))
    if array.shape[1] > 50:  # many dimensions: PCA first, as scikit-learn advises
        array = PCA(n_components=min(50, n - 1),
                    random_state=seed).fit_transform(array)
    # Exact gradients are cheaper than Barnes-Hut up to about 500 points (384
    # test photos: 3-5 s against 8-20 s on 2 cores), and 500 iterations (250
    # of them early exaggeration) settle such a small map.
    return TSNE(n_components=2, perplexity=perplexity, init="pca", max_iter=500,
                method="exact" if n <= EXACT_UP_TO else "barnes_hut",
                random_state=seed).fit_transform(array)


def _accuracies(name: str, values) -> dict:
    """`values` (layer -> accuracy in 0..1) checked, or {} when None."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ValueError(f"{name} must be a dict: layer -> accuracy")
    for layer, value in values.items():
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{name}[{layer!r}]={value!r} is not an accuracy in 0..1")
    return {layer: float(value) for layer, value in values.items()}


def _panel(ax, xy, labels, names, title: str, method: str) -> None:
    """One 2-D map: each class in its own colour and marker."""
    for k, name in enumerate(names):
        mask = labels == k
        if mask.any():
            shade, marker = class_style(k)
            ax.scatter(xy[mask, 0], xy[mask, 1], s=16, color=shade, marker=marker,
                       label=str(name), alpha=0.8, edgecolors="none")
    ax.set_title(title, fontsize=9)
    # The axes of these maps have no unit a reader could use: no numbers.
    ax.set_xticks([])
    ax.set_yticks([])
    first, second = ("component 1", "component 2") if method == "pca" \
        else ("t-SNE 1", "t-SNE 2")
    ax.set_xlabel(first, fontsize=8)
    ax.set_ylabel(second, fontsize=8)


def _title(layer: str, method: str, accuracy: float | None, control: bool = False
           ) -> str:
    """`layer, method`, then `probe 87%` when known; the control says it is one."""
    title = f"{layer}, {METHOD_NAMES[method]}"
    second = [CONTROL_NAME] if control else []
    if accuracy is not None:
        second.append(f"probe {accuracy:.0%}")
    return "\n".join([title, ", ".join(second)]) if second else title


def plot_embeddings(features_by_layer: dict, labels, class_names=None,
                    methods=("pca", "tsne"), seed: int = 0,
                    title: str = "Validation images in 2-D, by layer",
                    probe: dict | None = None, control: dict | None = None,
                    control_probe: dict | None = None, control_method: str = "tsne"):
    """A grid of 2-D maps: one row per layer, one column per method, plus a control.

    Taught in `05_visualizing_features.ipynb`. `features_by_layer`: layer name ->
    (N, D) or (N, h, w, c) features of the same N images, early layers first.
    `probe`: layer -> linear-probe accuracy, written in each panel's title.
    `control`: layer -> features of the same images from the same network with
    random weights, drawn by `control_method` in a last column (its
    accuracies in `control_probe`). Each class has its own colour and marker.
    The coordinates are on the Figure as `fig.tlh_points` (layer -> method ->
    (N, 2)) and `fig.tlh_control_points` (layer -> control_method -> (N, 2),
    empty without a control). Returns the Figure.
    """
    if not isinstance(features_by_layer, dict) or not features_by_layer:
        raise ValueError("features_by_layer must be a non-empty dict: layer -> "
                         "features")
    methods = [methods] if isinstance(methods, str) else list(methods)
    for method in [*methods, control_method]:
        if method not in METHODS:
            raise ValueError(f"method={method!r} is unknown; valid: "
                             f"{', '.join(METHODS)}")
    if control is not None and (not isinstance(control, dict) or not control):
        raise ValueError("control must be a non-empty dict: layer -> features")
    control = control or {}
    unknown = [layer for layer in control if layer not in features_by_layer]
    if unknown:
        raise ValueError(f"control has layers {unknown} that features_by_layer "
                         f"lacks; it has {list(features_by_layer)}")
    probe = _accuracies("probe", probe)
    control_probe = _accuracies("control_probe", control_probe)
    labels = to_numpy(labels).astype(int).reshape(-1)
    names = (list(class_names) if class_names is not None
             else [str(i) for i in range(int(labels.max()) + 1)])
    for layer, features in [*features_by_layer.items(),
                            *((f"control {k}", v) for k, v in control.items())]:
        if len(flat_features(features)) != len(labels):
            raise ValueError(f"features of {layer!r} hold "
                             f"{len(flat_features(features))} images for "
                             f"{len(labels)} labels")
    columns = len(methods) + bool(control)
    fig, axes = new_figure(len(features_by_layer), columns,
                           width=3.1 * columns + 0.4,
                           height=2.9 * len(features_by_layer) + 0.9)
    points, control_points = {}, {}
    for row, (layer, features) in enumerate(features_by_layer.items()):
        points[layer] = {}
        for col, method in enumerate(methods):
            xy = project(features, method, seed)
            points[layer][method] = xy
            _panel(axes[row, col], xy, labels, names,
                   _title(layer, method, probe.get(layer)), method)
        if not control:
            continue
        if layer not in control:
            axes[row, -1].set_axis_off()
            continue
        # The same seed as the pretrained map: only the weights differ.
        xy = project(control[layer], control_method, seed)
        control_points[layer] = {control_method: xy}
        _panel(axes[row, -1], xy, labels, names,
               _title(layer, control_method, control_probe.get(layer), control=True),
               control_method)
    # One legend for the figure, under the panels as in `figures.figure_legend`:
    # inside a panel it hides points, and above them it would sit on the title.
    handles, texts = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, texts, loc="outside lower center",
               ncols=min(len(texts), 5), fontsize=9, markerscale=1.6,
               frameon=False, handletextpad=0.2, columnspacing=1.2)
    fig.suptitle(title)
    fig.tlh_points = points
    fig.tlh_control_points = control_points
    return fig
