"""Self-checks for the exercises of `05_visualizing_features.ipynb`."""

from __future__ import annotations

from .core import Verdict, hint, passed, your_turn


def check_best_block(answer, probe: dict) -> Verdict:
    """Exercise 1: the block whose pooled output gave the best probe accuracy."""
    scores = next(iter(probe.values()))  # the first line: the loaded base
    best = max(scores, key=scores.get)
    if answer is None:
        return your_turn("Set `answer` to a block name such as 'block2_pool'. "
                         "`probe` maps each line's label to {block: accuracy}.")
    if answer not in scores:
        return hint(f"Use one of the probed blocks: {', '.join(scores)}.")
    if scores[answer] < scores[best]:
        return hint(f"{answer} scored {scores[answer]:.0%}; another block scored "
                    "higher. Look at the first line of `probe` (the loaded base, "
                    "not the control).")
    return passed(f"{answer} gave {scores[answer]:.0%}, the best of the blocks "
                  "for this base.")


def check_moved_layers(answer, changes) -> Verdict:
    """Exercise 2: how many layers with weights moved during fine-tuning."""
    expected = int((changes["relative_change"] > 0).sum())
    if answer is None:
        return your_turn("Count the rows of `changes` whose `relative_change` is "
                         "above zero.")
    try:
        given = int(answer)
    except (TypeError, ValueError):
        return hint("Give a whole number of layers.")
    if given == len(changes):
        return hint("Not every layer moved: frozen layers change by exactly 0.")
    if given != expected:
        return hint("Count only layers with a change above zero; pooling layers "
                    "hold no weights and are not in `changes`.")
    return passed(f"{expected} layers moved: the unfrozen top of the base and "
                  "the head. Everything frozen stayed exactly as it was.")


def check_map_shape(answer, base_model, layer: str) -> Verdict:
    """Exercise 3: (height, width, channels) of a layer's output."""
    expected = tuple(int(d) for d in base_model.get_layer(layer).output.shape[1:])
    if answer is None:
        return your_turn("Start from the image size; four pooling layers lie between "
                         f"the input and {layer}.")
    try:
        given = tuple(int(d) for d in answer)
    except (TypeError, ValueError):
        return hint("Give a tuple of three integers: (height, width, channels).")
    if len(given) != 3:
        return hint("Three numbers: height, width, channels (no batch dimension).")
    if given[2] != expected[2]:
        return hint("Blocks 4 and 5 of VGG16 have the largest number of channels.")
    if given[:2] != expected[:2]:
        return hint("Each pooling layer halves height and width, rounding down.")
    return passed(f"{layer} outputs {expected}.")
