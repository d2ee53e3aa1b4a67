"""The backbones the course knows and each one's preprocessing, as a layer.

Taught in `02_feature_extraction.ipynb`: `preprocess_input` is a layer inside
the model, so raw 0..255 RGB images go in and no notebook can forget (or
double) the preprocessing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import keras


@dataclasses.dataclass(frozen=True)
class Backbone:
    """A pretrained convolutional base from `keras.applications`."""

    name: str
    constructor: Callable
    preprocess: Callable
    min_size: int  # smallest square input Keras accepts without a top


def _backbones() -> dict[str, Backbone]:
    apps = keras.applications
    return {
        "vgg16": Backbone("vgg16", apps.VGG16, apps.vgg16.preprocess_input, 32),
        "resnet50": Backbone("resnet50", apps.ResNet50,
                             apps.resnet50.preprocess_input, 32),
        "mobilenet_v2": Backbone("mobilenet_v2", apps.MobileNetV2,
                                 apps.mobilenet_v2.preprocess_input, 32),
        "efficientnet_b0": Backbone("efficientnet_b0", apps.EfficientNetB0,
                                    apps.efficientnet.preprocess_input, 32),
    }


BACKBONES = _backbones()
DEFAULT_BACKBONE = "vgg16"


def get_backbone(name: str) -> Backbone:
    """The registry entry; unknown names list the valid ones."""
    if name not in BACKBONES:
        raise ValueError(f"backbone={name!r} is unknown; valid backbones: "
                         f"{', '.join(BACKBONES)}")
    return BACKBONES[name]


# The names `keras.applications` gives its models (MobileNetV2 adds alpha and size).
_APPLICATION_NAMES = (
    (re.compile(r"^vgg16$"), "vgg16"),
    (re.compile(r"^resnet50$"), "resnet50"),
    (re.compile(r"^mobilenetv2_"), "mobilenet_v2"),
    (re.compile(r"^efficientnetb0$"), "efficientnet_b0"),
)


def backbone_of(base: keras.Model) -> str:
    """The backbone of a base: it picks the preprocessing.

    Taught in `02_feature_extraction.ipynb`. Read from `tlh_backbone` (set by
    `load_base`), else from the name `keras.applications` gave the model.
    Raises when neither tells, rather than guess a preprocessing the base was
    not trained with.
    """
    name = getattr(base, "tlh_backbone", None)
    if name is not None:
        get_backbone(name)  # an unknown name lists the valid ones
        return name
    for pattern, backbone in _APPLICATION_NAMES:
        if pattern.match(getattr(base, "name", "")):
            return backbone
    raise ValueError(
        f"cannot tell which backbone the model {getattr(base, 'name', base)!r} "
        "is, so not which preprocessing its inputs need; load it with "
        "tlh.models.load_base(...), or name it: base_model.tlh_backbone = "
        f"'vgg16' (valid backbones: {', '.join(BACKBONES)})")


def check_input_shape(backbone: str, input_shape) -> tuple[int, int, int]:
    """Validate (h, w, 3) against the backbone's minimum size."""
    spec = get_backbone(backbone)
    try:
        h, w, c = (int(v) for v in input_shape)
    except (TypeError, ValueError):
        raise ValueError(f"input_shape={input_shape!r} is not valid; expected "
                         "(height, width, 3)") from None
    if c != 3:
        raise ValueError(f"input_shape={input_shape!r}: expected 3 colour channels")
    if min(h, w) < spec.min_size:
        raise ValueError(
            f"image_size={min(h, w)} is too small for {backbone}; valid range: "
            f">= {spec.min_size} pixels")
    return (h, w, c)


@keras.saving.register_keras_serializable(package="tlhelpers")
class BackbonePreprocess(keras.layers.Layer):
    """Applies the backbone's own `preprocess_input` inside the model."""

    def __init__(self, backbone: str = DEFAULT_BACKBONE, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone

    def call(self, inputs):
        return get_backbone(self.backbone).preprocess(inputs)

    def get_config(self):
        return {**super().get_config(), "backbone": self.backbone}
