"""Finding the layers to look at: conv layers, block outputs, early/middle/late.

Taught in `05_visualizing_features.ipynb`. Every function takes either a
convolutional base (as `models.load_base` returns) or a classifier with the base
nested inside (as `models.build_classifier` makes, or a saved one reloaded),
and reads raw 0..255 RGB images: the backbone's preprocessing is added here.
"""

from __future__ import annotations

import keras
import numpy as np

from ..models import BackbonePreprocess, backbone_of, layer_blocks

CONV_TYPES = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)


def _has_conv(model) -> bool:
    return any(isinstance(layer, CONV_TYPES) for layer in model.layers)


def resolve_base(model) -> tuple[keras.Model, str | None]:
    """(the convolutional base, its backbone name or None) of a base or a classifier.

    The backbone name picks the preprocessing; None (a home-made model) means
    the images go in as they are.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"model={type(model).__name__} is not valid; expected a "
                         "keras Model (a base or a classifier)")
    backbone = getattr(model, "tlh_backbone", None)
    for layer in model.layers:
        if isinstance(layer, BackbonePreprocess):
            backbone = backbone or layer.backbone
    base = model
    nested = [layer for layer in model.layers
              if isinstance(layer, keras.Model) and _has_conv(layer)]
    if nested and not _has_conv(model):
        base = max(nested, key=lambda m: len(m.layers))
        backbone = backbone or getattr(base, "tlh_backbone", None)
    if backbone is None:
        try:  # a `keras.applications` model recognised by its name
            backbone = backbone_of(base)
        except ValueError:
            backbone = None  # a home-made model: images go in as they are
    return base, backbone


def conv_layers(model) -> list[str]:
    """Names of the convolution layers, bottom to top."""
    base, _ = resolve_base(model)
    return [layer.name for layer in base.layers if isinstance(layer, CONV_TYPES)]


def _is_map(layer) -> bool:
    output = getattr(layer, "output", None)
    return output is not None and len(getattr(output, "shape", ())) == 4


def block_outputs(model) -> list[str]:
    """The last layer of each block (for VGG16: block1_pool ... block5_pool)."""
    base, _ = resolve_base(model)
    names = []
    for block, layers in layer_blocks(base):
        if block != "input" and _is_map(layers[-1]) and \
                not isinstance(layers[-1], keras.layers.InputLayer):
            names.append(layers[-1].name)
    return names


def spread(names: list[str], k: int = 3) -> list[str]:
    """`k` names evenly spread from first to last: early, middle, late."""
    if not names:
        raise ValueError("names is empty; the model has no layers of that kind")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k={k!r} is not valid; expected an integer >= 1")
    if k >= len(names):
        return list(names)
    picks = np.linspace(0, len(names) - 1, k).round().astype(int)
    return [names[i] for i in picks]


def check_layers(model, layers) -> list[str]:
    """The names as a list, each checked against the base's layers."""
    base, _ = resolve_base(model)
    names = [layers] if isinstance(layers, str) else list(layers)
    known = [layer.name for layer in base.layers]
    for name in names:
        if name not in known:
            valid = ", ".join(conv_layers(model)[:12])
            raise ValueError(f"layer={name!r} is not in {base.name}; conv layers "
                             f"include: {valid}")
    if not names:
        raise ValueError("layers is empty; expected at least one layer name")
    return names


def layer_model(model, layers, pooled: bool = False) -> keras.Model:
    """Raw images -> preprocessing -> the base -> the named layers' outputs.

    Taught in `05_visualizing_features.ipynb`. One name gives one output,
    several give a list. `pooled`: average each map over its height and
    width, giving (N, channels).
    """
    base, backbone = resolve_base(model)
    names = check_layers(model, layers)
    inner = keras.Model(base.inputs, [base.get_layer(n).output for n in names],
                        name=f"{base.name}_layers")
    inputs = keras.Input(shape=tuple(base.input_shape[1:]), name="image")
    x = inputs
    if backbone is not None and base.input_shape[-1] == 3:
        x = BackbonePreprocess(backbone)(x)
    outputs = inner(x, training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    if pooled:
        outputs = [keras.layers.GlobalAveragePooling2D()(o) if len(o.shape) == 4
                   else o for o in outputs]
    outputs = list(outputs)
    return keras.Model(inputs, outputs[0] if len(outputs) == 1 else outputs,
                       name="layer_outputs")


def image_batch(model, images) -> np.ndarray:
    """Images as a float32 batch matching the base's input (one image is allowed)."""
    base, _ = resolve_base(model)
    array = np.asarray(images.numpy() if hasattr(images, "numpy") else images,
                       dtype=np.float32)
    expected = tuple(int(d) for d in base.input_shape[1:] if d is not None)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] != base.input_shape[-1]:
        raise ValueError(f"images have shape {array.shape}; expected "
                         f"(N, {', '.join(map(str, expected))}) or one image")
    if len(expected) == 3 and tuple(array.shape[1:]) != expected:
        raise ValueError(f"images have shape {array.shape[1:]}; the base expects "
                         f"{expected} (load them at the profile's image size)")
    if len(array) == 0:
        raise ValueError("images is empty; expected at least one image")
    return array
