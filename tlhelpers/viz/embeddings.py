"""Features of many images squeezed to 2-D (PCA and t-SNE), coloured by class.

Taught in `05_visualizing_features.ipynb`: if a layer separates the classes,
images of one class sit together in its 2-D map.
"""

from __future__ import annotations

import numpy as np

from ._common import colour, new_figure, to_numpy

METHODS = ("pca", "tsne")
EXACT_UP_TO = 500  # points; above, t-SNE switches to Barnes-Hut


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


def plot_embeddings(features_by_layer: dict, labels, class_names=None,
                    methods=("pca", "tsne"), seed: int = 0,
                    title: str = "Validation images in 2-D, by layer"):
    """A grid of 2-D maps: one row per layer, one column per method.

    Taught in `05_visualizing_features.ipynb`. `features_by_layer`: layer name ->
    (N, D) or (N, h, w, c) features of the same N images, early layers first.
    The coordinates are on the Figure as `fig.tlh_points` (layer -> method ->
    (N, 2)). Returns the Figure.
    """
    if not isinstance(features_by_layer, dict) or not features_by_layer:
        raise ValueError("features_by_layer must be a non-empty dict: layer -> "
                         "features")
    methods = [methods] if isinstance(methods, str) else list(methods)
    for method in methods:
        if method not in METHODS:
            raise ValueError(f"method={method!r} is unknown; valid: "
                             f"{', '.join(METHODS)}")
    labels = to_numpy(labels).astype(int).reshape(-1)
    names = (list(class_names) if class_names is not None
             else [str(i) for i in range(int(labels.max()) + 1)])
    fig, axes = new_figure(len(features_by_layer), len(methods),
                           width=3.4 * len(methods) + 1.8,
                           height=3.0 * len(features_by_layer) + 0.6)
    points = {}
    for row, (layer, features) in enumerate(features_by_layer.items()):
        points[layer] = {}
        if len(flat_features(features)) != len(labels):
            raise ValueError(f"features of {layer!r} hold "
                             f"{len(flat_features(features))} images for "
                             f"{len(labels)} labels")
        for col, method in enumerate(methods):
            xy = project(features, method, seed)
            points[layer][method] = xy
            ax = axes[row, col]
            for k, name in enumerate(names):
                mask = labels == k
                if mask.any():
                    ax.scatter(xy[mask, 0], xy[mask, 1], s=14, color=colour(k),
                               label=str(name), alpha=0.85, edgecolors="none")
            ax.set_title(f"{layer}: {'PCA' if method == 'pca' else 't-SNE'}",
                         fontsize=9)
            ax.set_xlabel("component 1" if method == "pca" else "t-SNE 1", fontsize=8)
            ax.set_ylabel("component 2" if method == "pca" else "t-SNE 2", fontsize=8)
            ax.tick_params(labelsize=7)
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                       title="class", title_fontsize=8)
    fig.suptitle(title)
    fig.tlh_points = points
    return fig
