"""Profiles, paths and seeding: taught in `00_setup_and_data.ipynb`.

A profile holds every size the notebooks need (image size, images per class,
batch size, epochs), so the notebooks never branch on the profile themselves.
Nothing here imports TensorFlow at module level: the CLI's quick commands stay
fast, and nothing is seeded as a side effect of an import.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
from pathlib import Path

PROFILE_ENV = "TLH_PROFILE"
HOME_ENV = "TLH_HOME"
DATASET_ENV = "TLH_DATASET"
WEIGHTS_ENV = "TLH_WEIGHTS"
# Set to 1 (CI does): a run that would fall back to random weights stops instead.
REQUIRE_IMAGENET_ENV = "TLH_REQUIRE_IMAGENET"

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class Profile:
    """Every size a notebook asks for; taught in `00_setup_and_data.ipynb`."""

    name: str
    image_size: int          # square side in pixels fed to the backbone
    train_per_class: int | None  # cap on training images per class (None: all)
    val_per_class: int | None    # cap on validation images per class
    batch_size: int
    head_epochs: int         # feature extraction / head training
    fine_tune_epochs: int    # second phase of the recipe
    fine_tune_lr: float      # its learning rate (Adam), chosen by measurement
    scratch_epochs: int      # the small CNN as a baseline (notebooks 02, 04; run)
    # Notebook 01's small CNN: its own, smaller image size, so that the epochs
    # overfitting needs to show (`overfit_epochs`) take about a minute.
    scratch_image_size: int
    overfit_epochs: int
    allow_random_weights: bool  # fall back to random weights without a network
    sweep_sizes: tuple[int, ...]  # images per class for notebook 04's sweep
    end_to_end_epochs: int   # notebook 02's augmented run through the whole base
    # Views of the training photos stored for training: None as they are,
    # "flip" mirrored left to right (augmentation computed once).
    train_views: tuple[str | None, ...]
    # Of the frozen base's passes over the photos (`features.pass_precision`):
    # "auto" is bfloat16 where the CPU computes it natively, else float32.
    pass_precision: str
    # Of the fine-tuning runs of notebook 04's comparison and sweep and of
    # `run`: Keras' mixed_bfloat16 where the CPU computes bfloat16 natively
    # ("auto"), float32 weights kept (`training.computing_in`). Over three
    # seeds it fine-tuned block5 as well as float32 did, in half the time
    # (bench/results/2026-12-06-default-profile-study-bfloat16.json); notebook
    # 03's own run, the one its lesson is asserted on, stays float32 as in
    # the study that chose its recipe.
    fine_tune_precision: str = "auto"

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.image_size, self.image_size, 3)

    @property
    def flip_train(self) -> bool:
        """Whether mirrored training photos are stored (notebooks 02-04, `run`)."""
        return "flip" in self.train_views


PROFILES = {
    # The whole dataset at VGG16's own 224 px. `run fine-tuning` on 2 cores
    # with AVX-512 BF16, three seeds from an empty TLH_HOME
    # (bench/results/2026-12-07-full-run-fine-tuning-224px-avx512.json): at
    # 224 px without the mirrored photos, 93.0, 91.9 and 91.4 on the test
    # photos in 9.3 minutes; at 150 px with them (Chollet's size, the
    # profile's until then), 87.0, 89.8 and 90.1 in 7.5-8. The larger photos
    # cost 2.2 times as much per pass, so the mirrored copies, which would
    # double the pass, are left out. Epochs as measured at 150 px: one
    # end-to-end epoch, three of fine-tuning and three from scratch.
    # On a GPU raise the epochs with the exercises.
    "full": Profile(
        name="full", image_size=224, train_per_class=None, val_per_class=None,
        batch_size=32, head_epochs=8, fine_tune_epochs=3, fine_tune_lr=5e-5,
        scratch_epochs=3,
        # Notebook 01 as under quick (not measured on the whole dataset, where
        # the same epochs take about 3.6 times as long).
        scratch_image_size=64, overfit_epochs=10,
        allow_random_weights=False, sweep_sizes=(5, 20, 80, 300),
        end_to_end_epochs=1, train_views=(None,),
        # bfloat16 passes ran at ~36 photos/s against float32's 13-18 at
        # 150 px, and changed 1 of 771 validation predictions of notebook
        # 03's model.
        pass_precision="auto",
    ),
    # The default (workshops, CI, slow laptops): the 1,571 photos that ship in
    # data/flowers-small (160 training photos per class, about 77 validation
    # and 77 test), 150 px. Chosen by measurement
    # (bench/results/2026-12-04-default-profile-study.json): at 160 photos
    # per class, block5 fine-tuned at 5e-5 for 5 epochs (best epoch by
    # validation) beat the head phase by 4.5-5.7 points on the test photos
    # on each of three seeds, each paired 95% interval above zero; after 3
    # epochs one seed's interval still reached below zero, and at 80 per class
    # one seed stayed within the noise. The mirrored photos are stored once
    # (the study's recipe). The frozen layers' output is stored once, so an
    # epoch of block5 costs ~25 s here and the head's a second.
    "quick": Profile(
        name="quick", image_size=150, train_per_class=None, val_per_class=None,
        batch_size=32, head_epochs=5, fine_tune_epochs=5, fine_tune_lr=5e-5,
        scratch_epochs=3,
        # Notebook 01, measured here on the 800 training photos (3 seeds, Adam
        # 1e-3): at 150 px, 3 epochs left training accuracy below validation;
        # at 64 px, 10 epochs of the Flatten CNN ended 27-29 points above
        # validation without augmentation, 10-16 with it, ~3 s per epoch. At 48
        # px the gap also showed; 64 keeps the photos recognisable.
        scratch_image_size=64, overfit_epochs=10,
        # Three sizes about evenly apart on a log axis, the largest all there
        # is: notebook 04's fine-tuning at each is its costliest cell.
        allow_random_weights=True, sweep_sizes=(5, 30, 160),
        # An epoch through the whole base costs ~35 s here (~0.5 s on stored
        # features): one shows the cost without dominating.
        end_to_end_epochs=1,
        train_views=(None, "flip"),
        # "auto": bfloat16 where the CPU computes it natively (a pass of the
        # 2,371 rows takes ~46 s instead of ~70 in float32).
        pass_precision="auto",
    ),
}


# With nothing set, the course runs on what ships: the photos in data/ and the
# offline ImageNet weights, no network. `full` downloads the whole dataset.
DEFAULT_PROFILE = "quick"


def profile_name() -> str:
    """The profile chosen by `TLH_PROFILE` (default `quick`, the one that ships)."""
    name = (os.environ.get(PROFILE_ENV, DEFAULT_PROFILE).strip().lower()
            or DEFAULT_PROFILE)
    if name not in PROFILES:
        raise ValueError(
            f"{PROFILE_ENV}={name!r} is not a profile; valid profiles: "
            f"{', '.join(sorted(PROFILES))}")
    return name


def get_profile(name: str | None = None) -> Profile:
    """The active profile, or the one named; unknown names list the valid ones."""
    if name is None:
        return PROFILES[profile_name()]
    key = str(name).strip().lower()
    if key not in PROFILES:
        raise ValueError(
            f"profile={name!r} is not a profile; valid profiles: "
            f"{', '.join(sorted(PROFILES))}")
    return PROFILES[key]


def home() -> Path:
    """Where downloads, caches and run logs go (`TLH_HOME`, default data/cache).

    In a checkout the default is its data/cache; an installed package (a wheel)
    has no checkout around it, so it uses the user's cache folder instead of
    writing into site-packages.
    """
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    if (PROJECT_ROOT / "pyproject.toml").is_file():
        return PROJECT_ROOT / "data" / "cache"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser().resolve() / "tlhelpers"


def cache_dir(kind: str) -> Path:
    """A folder under `TLH_HOME` for one kind of cache, created when missing.

    A read-only or full `TLH_HOME` fails here with a message naming it.
    """
    import tempfile

    path = home() / kind
    try:
        path.mkdir(parents=True, exist_ok=True)
        # A name of its own per call: callers in other threads or kernels probe
        # the same folder at once, and one must not delete another's probe.
        fd, name = tempfile.mkstemp(prefix=".write-test-", dir=path)
        os.close(fd)
        probe = Path(name)
        try:
            probe.write_bytes(b"ok")  # creating takes no space; writing does
        finally:
            probe.unlink(missing_ok=True)
    except OSError as err:
        raise OSError(
            f"cannot write to {path} ({err.strerror or err}). Set {HOME_ENV} to a "
            f"writable folder with free space, e.g. {HOME_ENV}=~/tlh-cache"
        ) from err
    return path


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and Keras once; taught in every notebook's Setup cell."""
    import keras
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)


@contextlib.contextmanager
def random_state_kept():
    """Python's, NumPy's and Keras' random state after the block as before it.

    For one-time work inside a seeded run (building a model to convert the
    offline weights draws its random initial values): without it, the first
    run on a machine would train from other initial values than every later run.
    """
    import numpy as np

    from . import compat

    python_state, numpy_state = random.getstate(), np.random.get_state()
    generator = compat.keras_seed_generator()
    generator_state = None if generator is None else generator.state.numpy()
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        compat.set_keras_seed_generator(generator)
        if generator is not None:
            generator.state.assign(generator_state)


def device_name() -> str:
    """'GPU xN', 'CPU (N cores)', or 'CPU (N cores, oneDNN rewrites off)'."""
    import tensorflow as tf

    from .distribute import onednn_note
    from .tflogs import list_devices_quietly

    list_devices_quietly()  # the first listing logs cuInit's failure without a GPU
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return f"GPU x{len(gpus)}"
    note = onednn_note()
    return f"CPU ({os.cpu_count()} cores{', ' + note if note else ''})"
