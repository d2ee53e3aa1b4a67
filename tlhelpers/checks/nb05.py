"""Self-checks for the exercises of `05_visualizing_features.ipynb`."""

from __future__ import annotations

from .core import Verdict, as_number, hint, passed, your_turn


def _lines(probe: dict) -> tuple[dict, dict]:
    """(loaded base, random control): the first and the last line of `probe`."""
    lines = list(probe.values())
    return lines[0], lines[-1]


def _points(answer):
    """A number as points of accuracy: 31.5 stays, a fraction 0.315 becomes 31.5."""
    value = as_number(answer)
    if value is None:
        return None
    return value * 100 if abs(value) <= 1 else value


def check_widest_gap(answer, probe: dict) -> Verdict:
    """Exercise 1: points by which the loaded base beats the control, where most."""
    learned, control = _lines(probe)
    gaps = {name: 100 * (learned[name] - control[name]) for name in learned}
    widest = max(gaps, key=gaps.get)
    if answer is None:
        return your_turn("Set `answer` to a number of points, e.g. 12.5. "
                         "`probe` maps each line's label to {block: accuracy}.")
    value = _points(answer)
    if value is None:
        return hint("Give one number: points of accuracy (12.5) or a "
                    "fraction (0.125).")

    def near(target):
        return abs(value - target) <= 0.5

    if near(gaps[widest]):
        return passed(f"At {widest} the loaded base reads {learned[widest]:.1%} "
                      f"and the random control {control[widest]:.1%}: "
                      f"{gaps[widest]:+.1f} points, the widest gap. That gap, "
                      "not the accuracy alone, is what the pretrained weights "
                      "bring.")
    if near(-gaps[widest]):
        return hint("Mind the order: the loaded base minus the control.")
    if near(100 * max(learned.values())):
        return hint("That is the loaded base's best accuracy; the question "
                    "asks how far it lies above the control.")
    best, control_best = (max(line, key=line.get) for line in (learned, control))
    if best != control_best and near(100 * (learned[best] - control[control_best])):
        return hint(f"That subtracts the control at {control_best} from the "
                    f"loaded base at {best}: two different blocks. Compare "
                    "the two lines at the same block.")
    for name, gap in gaps.items():
        if near(gap):
            return hint(f"That is the gap at {name}; another block has a wider "
                        "one.")
    return hint("Subtract the second line of `probe` from the first, block by "
                "block, and take the largest difference.")


def _head_layers(changes, base_model) -> list[str]:
    """Rows of `changes` outside the base: the head's layers with weights."""
    in_base = {layer.name for layer in base_model.layers}
    return [name for name in changes["layer"] if name not in in_base]


def moved_if_unfrozen(changes, base_model, n_unfrozen: int) -> int:
    """Layers with weights that train when the top `n_unfrozen` base layers do."""
    top = base_model.layers[-n_unfrozen:] if n_unfrozen else []
    return (sum(1 for layer in top if layer.weights)
            + len(_head_layers(changes, base_model)))


def check_moved_layers(answer, changes, base_model, n_unfrozen: int = 8) -> Verdict:
    """Exercise 2: layers with weights that move when the top `n_unfrozen` train."""
    expected = moved_if_unfrozen(changes, base_model, n_unfrozen)
    top = base_model.layers[-n_unfrozen:] if n_unfrozen else []
    in_top = sum(1 for layer in top if layer.weights)
    head = len(_head_layers(changes, base_model))
    moved_now = int((changes["relative_change"] > 0).sum())
    if answer is None:
        return your_turn("Set `answer` to a whole number: the layers with "
                         "weights in the base's top "
                         f"{n_unfrozen}, plus the head's.")
    if isinstance(answer, bool):
        return hint("Give a whole number of layers.")
    try:
        given = int(answer)
    except (TypeError, ValueError):
        return hint("Give a whole number of layers.")
    if given == expected:
        return passed(f"{in_top} of the top {n_unfrozen} layers hold weights "
                      f"(the others are pooling layers), and the head's {head} "
                      f"layers train in both phases: {expected}.")
    if given == moved_now:
        return hint(f"That is what moved in this run, with the top 4 layers "
                    f"unfrozen. Count again for the top {n_unfrozen}.")
    if given == n_unfrozen + head:
        return hint("Some of those layers are pooling layers: they hold no "
                    "weights, so there is nothing in them to move.")
    if given == in_top:
        return hint("The head trains too: it keeps learning in the "
                    "fine-tuning phase.")
    if given == n_unfrozen:
        return hint("That counts every unfrozen layer, pooling ones included, "
                    "and leaves out the head.")
    return hint(f"List `base_model.layers[-{n_unfrozen}:]`, keep the layers "
                "that hold weights (`layer.weights` not empty), then add the "
                "head's layers with weights (the rows of `changes` that are "
                "not in the base).")


def map_shape(base_model, layer: str, image_size: int) -> tuple[int, ...]:
    """(height, width, channels) of `layer`'s output for square photos of `image_size`."""
    shape = (None, int(image_size), int(image_size), 3)
    for each in base_model.layers[1:]:  # a chain of layers, as in VGG16
        shape = tuple(each.compute_output_shape(shape))
        if each.name == layer:
            return tuple(int(d) for d in shape[1:])
    raise ValueError(f"layer={layer!r} is not in {base_model.name}")


def check_map_shape(answer, base_model, layer: str, image_size: int) -> Verdict:
    """Exercise 3: (height, width, channels) of a layer's output at another image size."""
    expected = map_shape(base_model, layer, image_size)
    here = tuple(int(d) for d in base_model.get_layer(layer).output.shape[1:])
    if answer is None:
        return your_turn("Start from the image size, and count the pooling "
                         f"layers between the input and {layer}.")
    try:
        given = tuple(int(d) for d in answer)
    except (TypeError, ValueError):
        return hint("Give a tuple of three integers: (height, width, channels).")
    if len(given) != 3:
        return hint("Three numbers: height, width, channels (no batch dimension).")
    if given == expected:
        return passed(f"{layer} outputs {expected} for {image_size} x "
                      f"{image_size} photos, and {here} for this course's "
                      f"{base_model.input_shape[1]}-pixel ones: "
                      "the channels stay, the map's size follows the photo's.")
    if given == here:
        return hint(f"That is {layer}'s shape for this course's photos; the "
                    f"question asks about {image_size} x {image_size} photos.")
    if given[2] != expected[2]:
        return hint(f"The number of channels is set by {layer}'s block, not by "
                    "the photo: section 2 printed the channels of block3 and "
                    "block5.")
    names = [each.name for each in base_model.layers]
    pools = sum(1 for each in base_model.layers[:names.index(layer) + 1]
                if "pool" in type(each).__name__.lower())
    if given[:2] == (image_size, image_size):
        return hint("Each pooling layer halves the height and the width.")
    if given[0] in (image_size >> (pools - 1), image_size >> (pools + 1)):
        return hint(f"Count the pooling layers again: {layer} is the last "
                    "layer of its block, and its own pooling counts.")
    return hint("Halve the height and the width once per pooling layer, "
                "rounding down each time.")


def blocks_changed(blocks, changes, base_model) -> list[str]:
    """Blocks whose output depends on a layer that moved: at or above the lowest one."""
    order = [layer.name for layer in base_model.layers]
    moved = [name for name in changes.loc[changes["relative_change"] > 0, "layer"]
             if name in order]
    if not moved:
        return []
    lowest = min(order.index(name) for name in moved)
    return [block for block in blocks if order.index(block) >= lowest]


def check_changed_blocks(answer, blocks, changes, base_model) -> Verdict:
    """Exercise 4: which blocks' probe can differ between the base and the fine-tuned one."""
    expected = blocks_changed(blocks, changes, base_model)
    if answer is None:
        return your_turn("Set `answer` to a list of block names from `blocks`, "
                         "e.g. ['block1_pool', 'block2_pool'], or [] for none.")
    if isinstance(answer, str):
        answer = [answer]
    try:
        given = [str(name) for name in answer]
    except TypeError:
        return hint("Give a list of block names, e.g. ['block2_pool'].")
    unknown = [name for name in given if name not in blocks]
    if unknown:
        return hint(f"{', '.join(unknown)} is not a probed block; use names "
                    f"from `blocks`: {', '.join(blocks)}.")
    chosen = set(given)
    if chosen == set(expected):
        frozen = [block for block in blocks if block not in expected]
        rest = (f"; {', '.join(frozen)} compute exactly what they computed "
                "before, so their probes cannot change" if frozen else "")
        order = [layer.name for layer in base_model.layers]
        lowest = min((name for name in changes.loc[
            changes["relative_change"] > 0, "layer"] if name in order),
            key=order.index, default=None)
        where = (f"{', '.join(expected)}: at or above {lowest}, the lowest "
                 "layer that moved" if lowest else "none: no layer of the "
                 "base moved")
        return passed(f"{where}{rest}. Probing the fine-tuned base would "
                      "show it.")
    wrongly = [block for block in given if block not in expected]
    if wrongly:
        return hint(f"{', '.join(wrongly)}: every layer up to there was frozen. "
                    "Its weights did not move at all (the grey bars at zero), "
                    "so it computes the same numbers from every photo.")
    return hint("A block's output changes when any layer at or below it "
                "moved. Which is the lowest layer with a bar above zero?")
