"""The Setup cell's `setup()`: taught in `00_setup_and_data.ipynb`, run in every notebook.

It sits where the Setup line's pieces meet: the profile (`config`), devices and
precision (`distribute`), the dataset (`data.registry`) and the weights
(`weights`), so that none of those has to reach up for another's description.
"""

from __future__ import annotations

import dataclasses

from . import config, distribute, tflogs
from . import weights as weights_mod
from .data import registry


@dataclasses.dataclass
class SetupReport:
    """What `setup()` found; the notebooks read sizes from `profile`."""

    profile: config.Profile
    seed: int
    tf_version: str
    keras_version: str
    device: str
    strategy: str    # distribute.short_description: "one replica", ...
    precision: str   # Keras' dtype policy: "float32" or "mixed_float16"
    dataset: str
    weights: str

    def line(self) -> str:
        p = self.profile
        return (f"profile={p.name} ({p.image_size}px, batch {p.batch_size}) | "
                f"TF {self.tf_version}, Keras {self.keras_version} | "
                f"{self.device}, {self.strategy}, {self.precision} | "
                f"data: {self.dataset} | weights: {self.weights} | "
                f"seed {self.seed}")


def setup(seed: int = 42, verbose: bool = True,
          mixed_precision: bool = True) -> SetupReport:
    """Seed, check versions, pick devices, print one line; every notebook's first cell.

    Taught in `00_setup_and_data.ipynb`. The `tf.distribute` strategy and the
    precision are chosen here, before any model exists (docs/scaling_out.md);
    `mixed_precision=False` keeps float32 on a GPU that could do more.
    """
    import keras
    import tensorflow as tf

    if int(keras.__version__.split(".")[0]) < 3:
        raise RuntimeError(
            f"Keras {keras.__version__} found; this course needs Keras 3. "
            "Run `make lab` to create the course environment.")
    profile = config.get_profile()
    # The first listing logs a red cuInit failure on a machine without a GPU;
    # it does not start TensorFlow's runtime, so the CPU can still be split.
    tflogs.list_devices_quietly()
    # First: splitting the CPU for TLH_CPU_REPLICAS must precede any TF work.
    strategy = distribute.use_strategy()
    precision = distribute.configure_precision(enable=mixed_precision)
    config.seed_everything(seed)
    tflogs.hide_keras_reminders()

    report = SetupReport(
        profile=profile, seed=seed, tf_version=tf.__version__,
        keras_version=keras.__version__, device=config.device_name(),
        strategy=distribute.short_description(strategy), precision=precision.policy,
        dataset=registry.describe_default_dataset(),
        weights=weights_mod.describe_imagenet_weights("vgg16"),
    )
    if verbose:
        print(report.line())
        if distribute.distributed_kind(strategy) is not None:
            # Which worker this process is and on which devices it trains.
            print(distribute.describe_strategy(strategy))
    return report
