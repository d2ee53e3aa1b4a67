"""The feature explorer: pick a conv layer and a channel, see what excites it.

Taught in `07_looking_inside.ipynb`. It wraps
`tlhelpers.viz.feature_vis.plot_dataset_examples` (with `regularised_patterns`,
`filter_patterns` and `top_activating` underneath), which the notebook also
calls directly, so the real work runs without clicks under nbval and in the
unit tests.
"""

from __future__ import annotations

import inspect

import ipywidgets as widgets

from ..viz._common import check_positive_int
from ..viz.feature_vis import (
    layer_depth,
    plot_dataset_examples,
    regularised_patterns,
    top_activating,
)
from ..viz.layers import conv_layers
from ..viz.patterns import filter_patterns
from .common import WIDE, has_image, message, show_figure

# What `settings` may set: everything of `regularised_patterns` but what the panel picks.
PATTERN_SETTINGS = tuple(name for name in inspect.signature(regularised_patterns).parameters
                         if name not in ("model", "layer", "filters"))


class FeatureExplorer(widgets.VBox):
    """A layer dropdown and a channel box over the channel's optimum and its top photos."""

    def __init__(self, model, items, layers=None, layer: str | None = None,
                 channel: int = 0, k: int = 9, split: str | None = "validation",
                 class_names=None, plain_steps: int = 20, settings: dict | None = None):
        self.model = model
        self.items = items
        self.k = check_positive_int("k", k)
        self.split = split
        self.class_names = class_names
        self.plain_steps = check_positive_int("plain_steps", plain_steps, 0)
        self.settings = dict(settings or {})
        unknown = sorted(set(self.settings) - set(PATTERN_SETTINGS))
        if unknown:
            raise ValueError(f"settings={unknown} is not valid; expected settings of "
                             f"regularised_patterns: {', '.join(PATTERN_SETTINGS)}")
        names = conv_layers(model) if layers is None else list(layers)
        if not names:
            raise ValueError("the model has no convolution layers to explore")
        layer = layer or names[-1]
        if layer not in names:
            raise ValueError(f"layer={layer!r} is not valid; expected one of "
                             f"{', '.join(names)}")
        depth = layer_depth(model, layer)
        if isinstance(channel, bool) or not 0 <= int(channel) < depth:
            raise ValueError(f"channel={channel!r} is not valid; {layer} has channels "
                             f"0..{depth - 1}")
        self.figure = self.patterns = self.plain = self.examples = None
        self._quiet = False  # set while the layer's channel range is being changed
        self.layer = widgets.Dropdown(options=names, value=layer,
                                      description="Layer", style=WIDE)
        self.channel = widgets.BoundedIntText(
            value=int(channel), min=0, max=depth - 1, description="Channel",
            style=WIDE, layout=widgets.Layout(width="180px"))
        self.status = widgets.HTML()
        self.output = widgets.Output(layout=widgets.Layout(min_height="60px"))
        self.output.add_class("tlh-feature-examples")
        self.layer.observe(self._on_layer, names="value")
        self.channel.observe(self._on_change, names="value")
        super().__init__([
            widgets.HTML("<b>What excites a channel: choose a layer and a channel</b>"),
            widgets.HBox([self.layer, self.channel]), self.status, self.output,
        ])
        self.add_class("tlh-feature-explorer")
        self.render()

    def render(self):
        """Draw the current layer and channel into the output; returns the Figure."""
        layer, channel = self.layer.value, int(self.channel.value)
        # A new channel costs an optimisation of some seconds: say so first.
        self.status.value = message(f"{layer}, channel {channel}: optimising an "
                                    "image and finding the photos...", "info")
        try:
            self.patterns = regularised_patterns(self.model, layer, [channel],
                                                 **self.settings)
            self.plain = (filter_patterns(self.model, layer, [channel],
                                          steps=self.plain_steps,
                                          size=self.patterns.settings["size"])
                          if self.plain_steps else None)
            self.examples = top_activating(self.model, self.items, layer, channel,
                                           k=self.k, split=self.split)
            self.figure = plot_dataset_examples(
                self.examples, self.patterns, self.plain, self.class_names,
                title=f"What excites {layer}, channel {channel}")
        except Exception as err:  # shown in the panel: a callback's traceback is hidden
            self.status.value = message(f"Error: {err}", "error")
            raise
        show_figure(self.output, self.figure)
        photos = "stored maxima" if self.examples.from_cache else "a pass over them"
        self.status.value = message(
            f"{layer}, channel {channel}: pattern {self._pattern_cost()}; the "
            f"{self.examples.indices.shape[1]} {self.split or 'given'} photos from "
            f"{photos}.", "info")
        return self.figure

    def _pattern_cost(self) -> str:
        if self.patterns.from_cache:
            return "read from the cache"
        return f"optimised in {self.patterns.compute_seconds:.1f} s"

    @property
    def shows_image(self) -> bool:
        """True when the output holds a picture (what the tests check)."""
        return has_image(self.output)

    def _on_layer(self, _change) -> None:
        # The channel box's range follows the layer; lowering its maximum may
        # move its value, which must not draw a second time.
        self._quiet = True
        try:
            self.channel.max = layer_depth(self.model, self.layer.value) - 1
        finally:
            self._quiet = False
        self.render()

    def _on_change(self, _change) -> None:
        if not self._quiet:
            self.render()

    def __repr__(self) -> str:
        return (f"FeatureExplorer(layer={self.layer.value!r}, "
                f"channel={self.channel.value}, k={self.k})")


def feature_explorer(model, items, layers=None, layer: str | None = None,
                     channel: int = 0, k: int = 9, split: str | None = "validation",
                     class_names=None, plain_steps: int = 20,
                     settings: dict | None = None) -> FeatureExplorer:
    """Layer and channel pickers over `viz.plot_dataset_examples`.

    Taught in `07_looking_inside.ipynb`. `model`: a base or a classifier;
    `items`: (path, label) items of the `split` (e.g. the validation photos)
    or raw 0..255 images at the model's input size; `layers` default: every
    conv layer, the last one shown first. Each channel gets its regularised
    optimum (`settings`: passed to `regularised_patterns`), the plain ascent
    (`plain_steps`; 0 leaves it out) and its `k` top photos. The figure shown
    is `.figure`.
    """
    return FeatureExplorer(model, items, layers, layer, channel, k, split, class_names,
                           plain_steps, settings)
