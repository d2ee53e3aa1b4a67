"""Freezing all but the top N layers, the per-layer trainable table, the slider's stops.

Taught in `03_fine_tuning.ipynb`. BatchNormalization layers stay frozen (and
so in inference mode) whatever N is.
"""

from __future__ import annotations

import dataclasses
import html
import re

import keras


def check_n_unfrozen(base: keras.Model, n_unfrozen) -> int:
    """Validate the number of top layers to unfreeze: an integer in 0..len(layers)."""
    top = len(base.layers)
    if isinstance(n_unfrozen, bool) or not isinstance(n_unfrozen, int) \
            or not 0 <= n_unfrozen <= top:
        raise ValueError(f"n_unfrozen={n_unfrozen!r} is not valid; expected an "
                         f"integer in 0..{top} (the base has {top} layers)")
    return n_unfrozen


def unfrozen_flags(base: keras.Model, n_unfrozen: int) -> list[bool]:
    """Which layers train when the top `n_unfrozen` are unfrozen (BatchNorm never)."""
    n_unfrozen = check_n_unfrozen(base, n_unfrozen)
    cut = len(base.layers) - n_unfrozen
    return [i >= cut and not isinstance(layer, keras.layers.BatchNormalization)
            for i, layer in enumerate(base.layers)]


def set_trainable(base: keras.Model, n_unfrozen: int) -> LayerTable:
    """The recipe's two freezing lines: base trainable, all but the last N frozen.

    Taught in `03_fine_tuning.ipynb`. Every layer's flag is set explicitly, so
    moving N down and up again works (`base.trainable = True` alone does not
    reach layers frozen one by one). Recompile afterwards.
    """
    flags = unfrozen_flags(base, n_unfrozen)
    base.trainable = True
    for layer, flag in zip(base.layers, flags):
        layer.trainable = flag
    return layer_table(base)


def leaf_layers(model: keras.Model) -> list:
    """Every layer that computes, nested models' layers included, once each, bottom up."""
    found, seen = [], set()
    stack = list(reversed(getattr(model, "layers", [])))
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        inner = getattr(layer, "layers", None)
        if inner is not None:  # a nested model: its layers compute, not it
            stack.extend(reversed(inner))
        else:
            found.append(layer)
    return found


def _count(variables) -> int:
    total = 0
    for v in variables:
        n = 1
        for d in v.shape:
            n *= int(d)
        total += n
    return total


@dataclasses.dataclass
class LayerTable:
    """Per-layer trainable table with totals; shows as HTML in a notebook."""

    frame: object  # pandas.DataFrame: index, name, type, output, params, trainable
    trainable_params: int
    frozen_params: int

    @property
    def trainable_layers(self) -> list[str]:
        f = self.frame
        return list(f.loc[f["trainable"] & (f["params"] > 0), "name"])

    def totals(self) -> str:
        return (f"trainable parameters: {self.trainable_params:,}   "
                f"frozen parameters: {self.frozen_params:,}")

    def __repr__(self) -> str:
        return f"{self.frame.to_string(index=False)}\n{self.totals()}"

    def _repr_html_(self) -> str:
        styled = self.frame.style.hide(axis="index").apply(
            lambda row: ["background:#e8f5e9" if row["trainable"] else ""] * len(row),
            axis=1)
        return styled.to_html() + f"<p><b>{html.escape(self.totals())}</b></p>"


def layer_table(base: keras.Model, flags: list[bool] | None = None) -> LayerTable:
    """Index, name, type, output shape, parameters and trainable flag per layer.

    Taught in `03_fine_tuning.ipynb`. `flags` previews a setting (as from
    `unfrozen_flags`) without changing the model.
    """
    import pandas as pd

    rows = []
    trainable_total = frozen_total = 0
    for i, layer in enumerate(base.layers):
        params = _count(layer.weights)
        if flags is None:
            trainable = bool(base.trainable and layer.trainable)
            n_train = _count(layer.trainable_weights) if base.trainable else 0
        else:
            trainable = bool(flags[i])
            n_train = _count(layer.weights) if trainable else 0
        trainable_total += n_train
        frozen_total += params - n_train
        output = getattr(layer, "output", None)
        shape = tuple(output.shape[1:]) if output is not None and \
            hasattr(output, "shape") else ()
        rows.append({"index": i, "name": layer.name, "type": type(layer).__name__,
                     "output": str(shape), "params": params, "trainable": trainable})
    return LayerTable(pd.DataFrame(rows), trainable_total, frozen_total)


_BLOCK = re.compile(r"^(block_?\d+[a-z]?|conv\d+|stem|top|input)")


def block_of(layer_name: str) -> str:
    """The block a layer belongs to: 'block5' for 'block5_conv3', else its own name."""
    match = _BLOCK.match(layer_name)
    return match.group(1) if match else layer_name


def layer_blocks(base: keras.Model) -> list[tuple[str, list]]:
    """Consecutive layers grouped by block, bottom to top."""
    groups: list[tuple[str, list]] = []
    for layer in base.layers:
        block = block_of(layer.name)
        if groups and groups[-1][0] == block:
            groups[-1][1].append(layer)
        else:
            groups.append((block, [layer]))
    return groups


def describe_block(layers: list) -> str:
    """'3 conv + pool' for a VGG block, 'N layers' otherwise."""
    convs = sum(isinstance(layer, keras.layers.Conv2D) for layer in layers)
    pools = sum(isinstance(layer, (keras.layers.MaxPooling2D,
                                   keras.layers.AveragePooling2D))
                for layer in layers)
    if convs and len(layers) == convs + pools:
        return f"{convs} conv" + (" + pool" if pools else "")
    return f"{len(layers)} layers"


def unfreeze_choices(base: keras.Model) -> list[tuple[str, int]]:
    """Slider stops at block boundaries, top first: ("4: block5 (3 conv + pool)", 4).

    Taught in `03_fine_tuning.ipynb`.
    """
    choices = [("0: all frozen", 0)]
    n = 0
    for block, layers in reversed(layer_blocks(base)):
        n += len(layers)
        if n == len(base.layers) and not any(layer.weights for layer in layers):
            choices.append((f"{n}: every layer ({block} has no weights)", n))
        else:
            choices.append((f"{n}: down to {block} ({describe_block(layers)})", n))
    return choices
