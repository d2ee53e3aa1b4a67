"""A frozen base that stays in inference mode inside `fit` (Keras 3 passes `training=True` in).

Met in `02_feature_extraction.ipynb` (`build_classifier`) and measured in
`03_fine_tuning.ipynb` on MobileNetV2.
"""

from __future__ import annotations

import keras

# Layers that act differently in training mode and have no weights, so
# `trainable = False` does not switch them off (BatchNormalization it does).
_TRAINING_ONLY = (keras.layers.Dropout, keras.layers.SpatialDropout1D,
                  keras.layers.SpatialDropout2D, keras.layers.SpatialDropout3D,
                  keras.layers.GaussianDropout, keras.layers.GaussianNoise,
                  keras.layers.AlphaDropout)


@keras.saving.register_keras_serializable(package="tlhelpers")
class PretrainedBase(keras.Model):
    """A base that runs in inference mode while it has nothing to train.

    In Keras 3.15, `fit` passes `training=True` into a nested base over the
    `training=False` written at build time, so the Dropout layers of a frozen
    EfficientNet would drop features that `features.extract` never drops.
    """

    def call(self, inputs, training=None, mask=None):
        if not self.trainable_weights:
            training = False
        return super().call(inputs, training=training, mask=mask)


def as_pretrained_base(base: keras.Model) -> PretrainedBase:
    """The same layers as a `PretrainedBase` (`load_base` returns one already).

    For a base made with `keras.applications` directly: `build_classifier`
    names this when the base has Dropout layers.
    """
    if isinstance(base, PretrainedBase):
        return base
    wrapped = PretrainedBase(base.input, base.output, name=base.name)
    for key, value in vars(base).items():
        if key.startswith("tlh_"):  # backbone, weights and where they came from
            setattr(wrapped, key, value)
    return wrapped


def training_only_layers(base: keras.Model) -> list[str]:
    """Names of the layers (nested too) that `trainable = False` leaves active."""
    found = []
    for layer in base.layers:
        if isinstance(layer, _TRAINING_ONLY):
            found.append(layer.name)
        elif isinstance(layer, keras.Model):
            found += training_only_layers(layer)
    return found
