"""Backbones, the course's classifier head, freezing the top N layers, the layer table.

Taught in `02_feature_extraction.ipynb` and `03_fine_tuning.ipynb`. One module
a job: `backbones` (the registry and each one's preprocessing, as a layer),
`loading` (ImageNet weights, a file or random, with the banner), `inference`
(a frozen base stays in inference mode inside `fit`), `compile_guard` (the
Keras 3 freezing trap), `builders` (the head, the classifier, the small CNN),
`freezing` (the top N layers, the layer table, the slider's stops) and
`reinit` (weights drawn again from their initializers, seeded).
"""

from .backbones import (
    BACKBONES,
    DEFAULT_BACKBONE,
    Backbone,
    BackbonePreprocess,
    backbone_of,
    check_input_shape,
    get_backbone,
)
from .builders import (
    HEADS,
    build_classifier,
    build_head,
    build_small_cnn,
    default_augmentation,
    head_layers,
    is_softmax_layer,
)
from .compile_guard import (
    KERAS_CHECKED,
    CompileRecord,
    CourseModel,
    RecompileNeededError,
    require_fresh_compile,
    stale_layers,
)
from .freezing import (
    LayerTable,
    block_of,
    check_n_unfrozen,
    describe_block,
    layer_blocks,
    layer_table,
    leaf_layers,
    set_trainable,
    unfreeze_choices,
    unfrozen_flags,
)
from .inference import PretrainedBase, as_pretrained_base, training_only_layers
from .loading import (
    UNPACK_FLOOR,
    UNPACK_RATIO,
    check_model_archive,
    failed_fetch,
    load_base,
    show_random_weights_banner,
)
from .reinit import reinitialise

__all__ = [
    "BACKBONES", "DEFAULT_BACKBONE", "Backbone", "BackbonePreprocess", "backbone_of",
    "check_input_shape", "get_backbone", "HEADS", "build_classifier", "build_head",
    "build_small_cnn", "default_augmentation", "head_layers", "is_softmax_layer",
    "KERAS_CHECKED", "CompileRecord", "CourseModel", "RecompileNeededError",
    "require_fresh_compile", "stale_layers", "LayerTable", "block_of",
    "check_n_unfrozen", "describe_block", "layer_blocks", "layer_table", "leaf_layers",
    "set_trainable", "unfreeze_choices", "unfrozen_flags", "PretrainedBase",
    "as_pretrained_base", "training_only_layers", "UNPACK_FLOOR", "UNPACK_RATIO",
    "check_model_archive", "failed_fetch", "load_base", "show_random_weights_banner",
    "reinitialise",
]
