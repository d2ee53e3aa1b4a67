"""Learning-rate range test (as fastai's `lr_find`); taught in `03_fine_tuning.ipynb`.

The rate grows exponentially batch by batch from `min_lr` to `max_lr` while
each batch's own loss is recorded, smoothed by a moving average (`beta`);
the test stops once the smoothed loss is four times its lowest value, as
fastai's does. Reading the curve is the course's own rule, not fastai's: the
*floor* is the loss a quarter of the batches stay below, the *edge* is the
highest rate whose loss is still within 25% of that floor (past it the loss
climbs for good), and the suggestion is a tenth of the edge. fastai's
`minimum` suggestion is a tenth of the rate at the lowest loss; its
default, `valley`, picks a rate inside the longest stretch over which the
loss keeps falling. On a flat, noisy floor (a head already trained) both
follow where lucky batches fell; the edge does not. The model's weights,
its compiled optimizer (state and rate), its dropout's random state and the
global random state are put back afterwards, so the test changes nothing:
a seeded run goes on as if it had not happened.
"""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np
from matplotlib.figure import Figure

from .. import compat, config
from ..figures import new_figure
from .recipes import (
    array_batch_sizes,
    check_lr,
    compile_for_training,
    random_states,
    require_fresh_compile,
    set_random_states,
)


@dataclasses.dataclass
class LRRangeResult:
    """Rates tried, the (smoothed) loss at each, and the suggested rate."""

    lrs: np.ndarray
    losses: np.ndarray
    suggestion: float

    @property
    def edge(self) -> float:
        """The highest rate before the loss climbs for good (see `edge`)."""
        return edge(self.lrs, self.losses)

    def figure(self, title: str = "Learning-rate range test") -> Figure:
        """Loss against rate (log scale) with the edge and the suggestion marked."""
        fig, axes = new_figure(1, 1, width=6.0, height=3.6)
        ax = axes[0, 0]
        ax.plot(self.lrs, self.losses, marker=".")
        ax.set_xscale("log")
        ax.axvline(self.edge, color="tab:grey", linestyle=":",
                   label=f"loss climbs after {self.edge:.1e}")
        ax.axvline(self.suggestion, color="tab:red", linestyle="--",
                   label=f"suggested {self.suggestion:.1e} (a tenth)")
        ax.set_xlabel("learning rate (log scale)")
        ax.set_ylabel("training loss (smoothed)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
        return fig


# Below this best loss, "four times the best" is noise, not divergence.
DIVERGENCE_FLOOR = 0.1


def has_diverged(smoothed: float, best: float) -> bool:
    """Whether the range test should stop: the loss is four times its best.

    Taught in `03_fine_tuning.ipynb`. Below `DIVERGENCE_FLOOR` the best loss
    counts as the floor: a trained head's loss of 0.01 rising to 0.05 is
    noise, and stopping there would leave a curve of a few batches.
    """
    return not math.isfinite(smoothed) or smoothed > 4 * max(best, DIVERGENCE_FLOOR)


class _RateRamp(keras.callbacks.Callback):
    def __init__(self, lrs, beta):
        super().__init__()
        self.lrs, self.beta = lrs, beta
        self.losses, self.avg, self.best, self.step = [], 0.0, math.inf, 0

    def on_train_batch_begin(self, batch, logs=None):
        # Keras logs the mean loss since the epoch began; reset, the logged
        # loss is this batch's own, and the curve no longer lags the rate.
        self.model.reset_metrics()
        self.model.optimizer.learning_rate.assign(self.lrs[self.step])

    def on_train_batch_end(self, batch, logs=None):
        loss = float(logs["loss"])
        self.avg = self.beta * self.avg + (1 - self.beta) * loss
        smoothed = self.avg / (1 - self.beta ** (self.step + 1))
        self.losses.append(smoothed)
        self.best = min(self.best, smoothed)
        self.step += 1
        if self.step >= len(self.lrs) or has_diverged(smoothed, self.best):
            self.model.stop_training = True


def _compile_args(model: keras.Model) -> dict | None:
    """The arguments of the model's last compile, with its optimizer object itself."""
    if not getattr(model, "compiled", False):
        return None
    args = keras.saving.deserialize_keras_object(model.get_compile_config())
    args["optimizer"] = model.optimizer  # the same object: its state and rate
    return args


def _repeated_batches(train_ds):
    """The training batches, endlessly: the test may need more than one epoch."""
    if not isinstance(train_ds, tuple):
        return train_ds.repeat()
    import tensorflow as tf

    x, y = train_ds
    batch = array_batch_sizes(train_ds, None)["batch_size"]
    return (tf.data.Dataset.from_tensor_slices((x, y))
            .shuffle(len(y), seed=0).repeat().batch(batch))


def lr_range_test(model: keras.Model, train_ds, min_lr: float = 1e-7,
                  max_lr: float = 1.0, num_steps: int = 60,
                  beta: float = 0.9) -> LRRangeResult:
    """Try rates from `min_lr` to `max_lr` over `num_steps` batches; nothing is changed.

    Taught in `03_fine_tuning.ipynb`. `train_ds` is a tf.data dataset or an
    `(x, y)` tuple of arrays (stored activations), batched as `fit` would.
    Uses the trainable layers the model has
    now, so unfreeze first to test the rate for fine-tuning. Afterwards the
    model has its weights and dropout's random state back and is compiled as
    before, with the same optimizer (state and rate); a model not compiled
    before is left needing `compile`. The global random state is as before.
    """
    min_lr, max_lr = check_lr(min_lr), check_lr(max_lr)
    if min_lr >= max_lr:
        raise ValueError(f"min_lr={min_lr} must be below max_lr={max_lr}")
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) \
            or num_steps < 5:
        raise ValueError(f"num_steps={num_steps!r} is not valid; expected an "
                         "integer >= 5")
    saved, dropout_states = model.get_weights(), random_states(model)
    previous = _compile_args(model)
    lrs = np.geomspace(min_lr, max_lr, num_steps)
    ramp = _RateRamp(lrs, beta)
    compile_for_training(model, min_lr)
    require_fresh_compile(model)
    batches = _repeated_batches(train_ds)
    try:
        with config.random_state_kept():  # Python's, NumPy's and Keras' draws
            model.fit(batches, epochs=1, steps_per_epoch=num_steps,
                      callbacks=[ramp], verbose=0)
    finally:
        model.set_weights(saved)
        set_random_states(model, dropout_states)
        # Left compiled at the last, largest rate, the next fit would train there.
        if previous is not None:
            model.compile(**previous)
        else:
            compat.mark_uncompiled(model)  # fit then asks for compile, as before the test
    losses = np.array(ramp.losses)
    tried = lrs[:len(losses)]
    return LRRangeResult(tried, losses, suggest(tried, losses))


# A loss within this factor of the floor is still on it.
CLIMB_FACTOR = 1.25


def finite_part(lrs, losses) -> tuple[np.ndarray, np.ndarray]:
    """The curve up to its first NaN or infinite loss: later rates diverged."""
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    diverged = np.flatnonzero(~np.isfinite(losses))
    if len(diverged):
        lrs, losses = lrs[:diverged[0]], losses[:diverged[0]]
    if not len(losses):
        raise ValueError("every loss of the range test is NaN or infinite; "
                         "lower min_lr and run the test again")
    return lrs, losses


def edge(lrs, losses) -> float:
    """The highest rate whose loss is still within 25% of the curve's floor.

    Taught in `03_fine_tuning.ipynb`. The floor is the loss a quarter of the
    batches stay below, so one or two lucky batches (often the first ones,
    where the smoothing has seen little) do not set it. Past the edge the
    loss climbs and does not come back: training there diverges.
    """
    lrs, losses = finite_part(lrs, losses)
    floor = float(np.percentile(losses, 25))
    on_floor = np.flatnonzero(losses <= CLIMB_FACTOR * floor)
    return float(lrs[on_floor[-1]] if len(on_floor) else lrs[0])


def suggest(lrs: np.ndarray, losses: np.ndarray) -> float:
    """A tenth of the edge, the highest rate before the loss climbs.

    Taught in `03_fine_tuning.ipynb`. Never below the first rate tried.
    """
    return float(max(edge(lrs, losses) / 10, float(np.asarray(lrs)[0])))
