"""Fine-tuning in bfloat16 where the CPU computes it; met in `04_choosing_a_strategy.ipynb`.

Keras' mixed precision (`mixed_bfloat16`): the layers compute in bfloat16 and
keep their weights, and every update to them, in float32. Measured here (2
cores with AVX512_BF16 and AMX): an epoch of block5 on 1,600 stored rows took
10.5 s against 20.9 s in float32, and a prediction over them 1.8 s against
11.0. CPUs without the instructions would emulate it slowly: "auto" keeps
float32 there (`features.pass_precision`).
"""

from __future__ import annotations

import contextlib

from .. import compat
from ..features import bfloat16_errors_explained, pass_precision
from ..models import is_softmax_layer, leaf_layers

MIXED_BFLOAT16 = "mixed_bfloat16"


@contextlib.contextmanager
def computing_in(precision: str, model):
    """Inside the block, `model`'s layers compute in `precision`; yields the one used.

    precision: "float32", "bfloat16", or "auto" (bfloat16 where the CPU
    computes it natively). The softmax at the end stays float32, as Keras'
    mixed-precision guide advises, so the loss is computed from float32
    probabilities. On the way out every layer gets its own dtype policy back
    (a layer shared with another model, as `strategies.top_model`'s are, is put
    back for both) and the model's traced steps are dropped, so the next
    `fit` or `predict` outside the block computes in float32 again.
    """
    chosen = pass_precision(precision)
    if chosen == "float32":
        yield chosen
        return
    changed = [(layer, layer.dtype_policy) for layer in leaf_layers(model)
               if type(layer).__name__ != "InputLayer" and not is_softmax_layer(layer)]
    compat.forget_traced_functions(model)
    try:
        for layer, _ in changed:
            layer.dtype_policy = MIXED_BFLOAT16
        with bfloat16_errors_explained():
            yield chosen
    finally:
        for layer, policy in changed:
            layer.dtype_policy = policy
        compat.forget_traced_functions(model)
