"""The activation explorer: pick a conv layer and an image, see that layer's channels.

Taught in `05_visualizing_features.ipynb`. It wraps
`tlhelpers.viz.activation_maps`, which the notebook also calls directly, so the
real work runs without clicks under nbval and in the unit tests.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from ..viz.activations import activation_maps
from ..viz.layers import conv_layers, image_batch, spread
from .common import WIDE, has_image, message, show_figure


class ActivationExplorer(widgets.VBox):
    """Layer and image dropdowns over the chosen layer's strongest channels."""

    def __init__(self, model, images, labels=None, class_names=None,
                 layers=None, n: int = 12, layer: str | None = None,
                 index: int = 0):
        self.model = model
        self.images = image_batch(model, images)
        self.n = n
        names = conv_layers(model) if layers is None else list(layers)
        if not names:
            raise ValueError("the model has no convolution layers to explore")
        layer = layer or spread(names, 3)[len(spread(names, 3)) // 2]
        if layer not in names:
            raise ValueError(f"layer={layer!r} is not valid; expected one of "
                             f"{', '.join(names)}")
        if not 0 <= int(index) < len(self.images):
            raise ValueError(f"index={index!r} is not valid; expected 0.."
                             f"{len(self.images) - 1}")
        self.figure = None
        self.layer = widgets.Dropdown(options=names, value=layer,
                                      description="Layer", style=WIDE)
        self.image = widgets.Dropdown(
            options=self._image_options(labels, class_names), value=int(index),
            description="Image", style=WIDE)
        self.status = widgets.HTML()
        self.output = widgets.Output(layout=widgets.Layout(min_height="60px"))
        self.output.add_class("tlh-activation-maps")
        self.layer.observe(self._on_change, names="value")
        self.image.observe(self._on_change, names="value")
        super().__init__([
            widgets.HTML("<b>Activation maps: choose a layer and an image</b>"),
            widgets.HBox([self.layer, self.image]), self.status, self.output,
        ])
        self.add_class("tlh-activation-explorer")
        self.render()

    def _image_options(self, labels, class_names) -> list[tuple[str, int]]:
        options = []
        for i in range(len(self.images)):
            text = f"image {i}"
            if labels is not None:
                label = int(np.asarray(labels).reshape(-1)[i])
                name = class_names[label] if class_names is not None else label
                text += f" ({name})"
            options.append((text, i))
        return options

    def render(self):
        """Draw the current layer and image into the output; returns the Figure."""
        layer, i = self.layer.value, int(self.image.value)
        try:
            self.figure = activation_maps(
                self.model, self.images[i], layer, n=self.n,
                title=f"Activations of {layer}, image {i}")
        except Exception as err:  # shown in the panel: a callback's traceback is hidden
            self.status.value = message(f"Error: {err}", "error")
            raise
        show_figure(self.output, self.figure)
        self.status.value = message(
            f"{layer}: the {self.n} most active channels for image {i}.", "info")
        return self.figure

    @property
    def shows_image(self) -> bool:
        """True when the output holds a picture (what the tests check)."""
        return has_image(self.output)

    def _on_change(self, _change) -> None:
        self.render()

    def __repr__(self) -> str:
        return (f"ActivationExplorer(layer={self.layer.value!r}, "
                f"image={self.image.value}, images={len(self.images)})")


def activation_explorer(model, images, labels=None, class_names=None, layers=None,
                        n: int = 12, layer: str | None = None,
                        index: int = 0) -> ActivationExplorer:
    """Layer and image pickers over `viz.activation_maps`.

    Taught in `05_visualizing_features.ipynb`. `model`: a base or a
    classifier; `images`: raw 0..255 images at the model's input size;
    `layers` default: every conv layer. The figure shown is `.figure`.
    """
    return ActivationExplorer(model, images, labels, class_names, layers, n, layer,
                              index)
