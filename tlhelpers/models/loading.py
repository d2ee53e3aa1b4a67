"""Loading a base: ImageNet weights from the cache, a download or the offline copy; a file; random.

Taught in `02_feature_extraction.ipynb`. Random weights come only when
allowed, with a banner; a saved model's archive is checked before Keras
opens it (`06_use_your_model.ipynb`).
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import keras

from .. import weights as weights_mod
from .backbones import DEFAULT_BACKBONE, Backbone, check_input_shape, get_backbone
from .inference import as_pretrained_base
from .reinit import reinitialise


def show_random_weights_banner(backbone: str, reason: str) -> None:
    """A visible box in a notebook (a warning elsewhere): numbers show mechanics only."""
    text = (f"{backbone} is running with RANDOM weights ({reason}). The numbers "
            "below show the mechanics of transfer learning, not transfer itself: "
            "a random base has learned nothing to transfer. Connect to the "
            "internet or run `python -m tlhelpers prefetch` to use ImageNet "
            "weights.")
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display

        if get_ipython() is not None and hasattr(get_ipython(), "kernel"):
            display(HTML(
                '<div class="tlh-banner" style="border:3px solid #c0392b;'
                'background:#fdecea;padding:10px;margin:6px 0;font-size:14px">'
                f"<b>Random weights.</b> {html.escape(text)}</div>"))
            return
    except ImportError:
        pass
    import warnings
    warnings.warn(text, stacklevel=3)


def load_base(name: str = DEFAULT_BACKBONE, weights: str | Path | None = "imagenet",
              input_shape=None, allow_random: bool = False,
              seed: int | None = None) -> keras.Model:
    """A convolutional base without its top; taught in `02_feature_extraction.ipynb`.

    weights: "imagenet" (Keras downloads and caches it), a path to a weights
    file, or None / "random". allow_random: with no network and no cached file,
    continue with random weights (and show a banner) instead of raising.
    seed: with weights None / "random", the random values drawn from it, so
    every notebook's random control is the same base (`05` and `07` find each
    other's stored features); without it they follow Keras' global seed.
    The result carries `tlh_backbone` and `tlh_weights` ("imagenet", "random",
    or the file path) for the caches and the run log.
    """
    from .. import config

    spec = get_backbone(name)
    if input_shape is None:
        input_shape = config.get_profile().image_shape
    input_shape = check_input_shape(name, input_shape)
    kwargs = dict(include_top=False, input_shape=input_shape)
    random = weights is None or weights == "random"
    if seed is not None and (not random or isinstance(seed, bool)
                             or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"seed={seed!r} is not valid here; expected an integer >= 0, "
                         "with weights=None or 'random' (other weights are not drawn)")
    if random:
        base, source = spec.constructor(weights=None, **kwargs), "random"
        if seed is not None:
            reinitialise(base.layers, seed)
    elif weights == "imagenet":
        required = os.environ.get(config.REQUIRE_IMAGENET_ENV, "").strip() == "1"
        base, source = _load_imagenet(spec, kwargs, allow_random and not required)
    else:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise ValueError(f"weights={str(weights)!r} is not valid; expected "
                             "'imagenet', 'random', None, or an existing file")
        try:
            base = spec.constructor(weights=str(path), **kwargs)
        # h5py's OSError for a file that is not HDF5 or cut short; Keras'
        # ValueError for one of another model.
        except (OSError, ValueError) as err:
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise ValueError(
                f"weights={str(weights)!r} is not a {name} weights file Keras can "
                f"load ({first[:200]}); pass the no-top {name} .h5 file, "
                "'imagenet' or 'random'") from None
        source = str(path)
    base = as_pretrained_base(base)
    base.tlh_backbone = name
    base.tlh_weights = source
    return base


# A `.keras` file stores its members uncompressed: what one unpacks to is
# about its size. A zip bomb declares far more (1 GiB from 1.4 MB).
UNPACK_RATIO = 10
UNPACK_FLOOR = 64 * 2 ** 20


def check_model_archive(path: str | Path) -> None:
    """Refuse a `.keras` file whose members unpack to far more than it holds.

    Used by `training.load_saved_model` and `predict.load_model` (taught in
    `06_use_your_model.ipynb`) before Keras opens the file: Keras unpacks
    the members into memory, so a zip bomb would exhaust the machine.
    ValueError names both sizes.
    """
    import zipfile

    path = Path(path)
    size = path.stat().st_size
    with zipfile.ZipFile(path) as archive:
        declared = sum(info.file_size for info in archive.infolist())
    if declared > max(UNPACK_FLOOR, UNPACK_RATIO * size):
        raise ValueError(
            f"{path.name} would unpack to {declared / 2 ** 20:,.0f} MiB from a "
            f"{size / 2 ** 20:,.1f} MiB file: not a model Keras saved (a zip "
            "bomb?); refused without opening it")


def failed_fetch(err: BaseException) -> bool:
    """True for the errors Keras' `get_file` raises when a download fails.

    It turns HTTP and URL errors into a bare `Exception("URL fetch failure
    ...")` and a bad checksum into a `ValueError`; timeouts and a full disk
    are `OSError`s. Anything else (a corrupt HDF5 file, a bug) is not a
    failed download and must not turn into random weights.
    """
    if isinstance(err, OSError):
        return True
    text = str(err)
    return text.startswith("URL fetch failure") or "corrupted file" in text


def _load_imagenet(spec: Backbone, kwargs: dict, allow_random: bool):
    # Tried in order: a checked cached file, Keras' download, the offline copy
    # (VGG16 only), random. `tlh_weights_source` says which one was used.
    def labelled(weights, source: str, label: str = "imagenet"):
        base = spec.constructor(weights=weights, **kwargs)
        base.tlh_weights_source = source
        return base, label

    size = kwargs["input_shape"][0]
    cached = weights_mod.find_cached(spec.name, size)
    if cached is not None:
        return labelled(str(cached), "Keras' file, cached")
    # A converted copy already on disk holds the same values: no download needed.
    converted = weights_mod.find_offline(spec.name)
    if converted is not None:
        return labelled(str(converted), weights_mod.OFFLINE_SOURCE)
    from ..data.registry import host_reachable

    url, _ = weights_mod.origin(spec.name, size)
    reason = "no network and no cached file"
    if host_reachable(url):
        try:
            return labelled("imagenet", "Keras' download")
        except Exception as err:
            if not failed_fetch(err):
                raise  # a corrupt file or a bug is not "no network": say so
            reason = f"download failed: {err}"
    if weights_mod.offline_possible(spec.name):
        try:
            path = weights_mod.convert_offline(spec.name)
            return labelled(str(path), weights_mod.OFFLINE_SOURCE)
        except weights_mod.WeightsUnavailableError as err:
            reason = f"{reason}; {err}"
    if not allow_random:
        raise weights_mod.WeightsUnavailableError(
            weights_mod.unavailable_message(spec.name, reason))
    show_random_weights_banner(spec.name, reason)
    return labelled(None, f"random ({reason})", "random")
