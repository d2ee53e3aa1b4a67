"""Plots for the course, one module per kind; each plot is a matplotlib Figure.

Taught across the notebooks: `show_images`, `class_balance` (00), `plot_history`
(01, 03), `confusion_matrix` (02), `compare_histories` (04), the mistakes
gallery in `06_use_your_model.ipynb`, and the rest in
`05_visualizing_features.ipynb`; saliency methods, their sanity check and
what fine-tuning changed inside block5, dataset examples and regularised
feature visualisation in `07_looking_inside.ipynb`. Figures
are closed when made, so they show once when returned as a cell's last value
(or through `display(fig)`) and do not pile up in memory.
"""

from ..training.curves import (
    compare_histories,
    history_dict,
    join_phases,
    plot_from_start,
    plot_history,
)
from .activations import activation_maps, activations, compare_depths, depth_layers
from .balance import class_balance
from .channel_change import channel_changes, plot_channel_changes, top_block_pooled
from .confusion import confusion_counts, confusion_matrix
from .embeddings import plot_embeddings, project
from .feature_vis import (
    RegularisedPatterns,
    SpatialMaxima,
    TopExamples,
    plot_dataset_examples,
    regularised_patterns,
    spatial_maxima,
    top_activating,
)
from .filters import filter_tiles, first_conv, plot_first_filters
from .gradcam import CamResult, grad_cam, plot_grad_cam
from .images import show_images, take_images
from .layers import block_outputs, conv_layers, layer_model, resolve_base, spread
from .mistakes import Mistakes, confused_pairs, find_mistakes, plot_predictions, plot_top_losses
from .patterns import PatternSet, filter_patterns, plot_patterns
from .probes import PooledFeatures, linear_probe, plot_probes, pooled_features
from .saliency_maps import (
    METHODS,
    SaliencyResult,
    map_similarity,
    plot_saliency,
    plot_sanity_check,
    randomized_copy,
    saliency,
    sanity_check,
)
from .weight_change import plot_weight_change, weight_change, weighted_layers

__all__ = [
    "activation_maps", "activations", "compare_depths", "depth_layers",
    "class_balance", "confusion_counts", "confusion_matrix",
    "channel_changes", "plot_channel_changes", "top_block_pooled",
    "compare_histories", "history_dict", "join_phases", "plot_from_start", "plot_history",
    "plot_embeddings", "project",
    "filter_tiles", "first_conv", "plot_first_filters",
    "CamResult", "grad_cam", "plot_grad_cam",
    "show_images", "take_images",
    "Mistakes", "confused_pairs", "find_mistakes", "plot_predictions",
    "plot_top_losses",
    "block_outputs", "conv_layers", "layer_model", "resolve_base", "spread",
    "PatternSet", "filter_patterns", "plot_patterns",
    "PooledFeatures", "linear_probe", "plot_probes", "pooled_features",
    "plot_weight_change", "weight_change", "weighted_layers",
    "METHODS", "SaliencyResult", "map_similarity", "plot_saliency", "plot_sanity_check",
    "randomized_copy", "saliency", "sanity_check",
    "RegularisedPatterns", "SpatialMaxima", "TopExamples", "plot_dataset_examples",
    "regularised_patterns", "spatial_maxima", "top_activating",
]
