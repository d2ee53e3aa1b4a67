"""The course's models: the head, the classifier around a base, the small CNN, augmentation.

Taught in `01_train_from_scratch.ipynb` (the small CNN, augmentation) and
`02_feature_extraction.ipynb` (the head and the classifier).
"""

from __future__ import annotations

import keras

from .backbones import BackbonePreprocess, backbone_of
from .compile_guard import CourseModel
from .inference import PretrainedBase, training_only_layers

# The course's head pools with GAP and drops half the Dense units in training.
# Measured with ImageNet weights on the 550-photo subset at 150 px: a Flatten
# head fits the 400 training photos perfectly within three epochs, which
# leaves fine-tuning nothing to learn; GAP with dropout reaches the same
# validation accuracy without memorising (docs/expected_results.md).
HEADS = ("flatten", "gap")


def head_layers(n_classes: int, head: str = "gap", dense: int = 256,
                dropout: float = 0.5) -> list[keras.layers.Layer]:
    """The course's head (GAP, Dense 256 relu, Dropout 0.5, Dense n softmax), or Flatten."""
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
        raise ValueError(f"n_classes={n_classes!r} is not valid; expected an "
                         "integer >= 2")
    if head not in HEADS:
        raise ValueError(f"head={head!r} is unknown; valid heads: {', '.join(HEADS)}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout={dropout!r} is not valid; expected 0 <= dropout < 1")
    if isinstance(dense, bool) or not isinstance(dense, int) or dense < 1:
        raise ValueError(f"dense={dense!r} is not valid; expected an integer >= 1")
    pool = (keras.layers.Flatten(name="head_flatten") if head == "flatten"
            else keras.layers.GlobalAveragePooling2D(name="head_gap"))
    layers = [pool, keras.layers.Dense(dense, activation="relu", name="head_dense")]
    if dropout:
        layers.append(keras.layers.Dropout(dropout, name="head_dropout"))
    # float32 even under mixed precision: a float16 softmax can round small
    # probabilities to 0 and make the loss unstable (Keras' mixed precision guide).
    layers.append(keras.layers.Dense(n_classes, activation="softmax",
                                     name="predictions", dtype="float32"))
    return layers


def build_head(feature_shape, n_classes: int, head: str = "gap",
               dense: int = 256, dropout: float = 0.5) -> keras.Model:
    """The head alone, on stored feature maps; taught in `02_feature_extraction.ipynb`."""
    inputs = keras.Input(shape=tuple(feature_shape), name="features")
    x = inputs
    for layer in head_layers(n_classes, head, dense, dropout):
        x = layer(x)
    return CourseModel(inputs, x, name=f"head_{head}")


def build_classifier(base: keras.Model, n_classes: int, head: str = "gap",
                     dense: int = 256, dropout: float = 0.5,
                     augmentation: keras.layers.Layer | None = None) -> keras.Model:
    """Raw images -> [augmentation] -> preprocessing -> base -> head.

    Taught in `02_feature_extraction.ipynb`. The base is called with
    `training=False` as the Keras guide does; in Keras 3.15 `fit` overrides
    that, so a frozen base must be a `PretrainedBase` (as `load_base` returns)
    to keep its Dropout layers off, and `set_trainable` keeps every
    BatchNormalization layer frozen (then it stays in inference mode), as
    `03_fine_tuning.ipynb` measures on MobileNetV2.
    """
    backbone = backbone_of(base)
    active = training_only_layers(base)
    if active and not isinstance(base, PretrainedBase):
        raise ValueError(
            f"base {base.name!r} has layers that act differently in training "
            f"({', '.join(active[:3])}{' ...' if len(active) > 3 else ''}): even "
            "frozen, fit would run them in training mode. Load the base with "
            "tlh.models.load_base(...), or wrap it first: base_model = "
            "tlh.models.as_pretrained_base(base_model)")
    inputs = keras.Input(shape=base.input_shape[1:], name="image")
    x = augmentation(inputs) if augmentation is not None else inputs
    x = BackbonePreprocess(backbone, name="preprocess")(x)
    x = base(x, training=False)
    for layer in head_layers(n_classes, head, dense, dropout):
        x = layer(x)
    return CourseModel(inputs, x, name=f"{backbone}_{head}_classifier")


def build_small_cnn(input_shape, n_classes: int,
                    augmentation: keras.layers.Layer | None = None) -> keras.Model:
    """A small CNN trained from scratch, the baseline of `01_train_from_scratch.ipynb`."""
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = augmentation(inputs) if augmentation is not None else inputs
    x = keras.layers.Rescaling(1.0 / 255)(x)
    for filters in (32, 64, 128):
        x = keras.layers.Conv2D(filters, 3, activation="relu", padding="same")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(128, activation="relu")(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax",
                                 dtype="float32")(x)  # as in head_layers
    return CourseModel(inputs, outputs, name="small_cnn")


def default_augmentation(seed: int = 42) -> keras.Sequential:
    """Flips, small rotations and zooms, seeded; taught in `01_train_from_scratch.ipynb`."""
    return keras.Sequential([
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomRotation(0.1, seed=seed),
        keras.layers.RandomZoom(0.2, seed=seed),
    ], name="augmentation")


def is_softmax_layer(layer) -> bool:
    """True for a `Softmax` layer or a layer with a softmax activation (`predict`, `viz`)."""
    if isinstance(layer, keras.layers.Softmax):
        return True
    return getattr(getattr(layer, "activation", None), "__name__", "") == "softmax"
