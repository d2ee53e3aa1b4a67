"""Where ImageNet weights come from: Keras' cache, `TLH_HOME/weights`, or a download.

Taught in `00_setup_and_data.ipynb` (the Setup line) and used by `models.load_base`.
`python -m tlhelpers prefetch` fills `TLH_HOME/weights` for machines with no network.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import config

# Keras' own names for the no-top files; the origins and hashes are read from
# keras.applications so that they can never drift from what Keras downloads.
WEIGHT_FILES = {
    "vgg16": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "resnet50": "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "mobilenet_v2": "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{rows}_no_top.h5",
    "efficientnet_b0": "efficientnetb0_notop.h5",
}
MOBILENET_ROWS = (96, 128, 160, 192, 224)


class WeightsUnavailableError(RuntimeError):
    """ImageNet weights are neither cached nor downloadable from here."""


def _mobilenet_rows(image_size: int) -> int:
    # Keras picks the file by input size and falls back to 224 for others.
    return image_size if image_size in MOBILENET_ROWS else 224


def file_name(backbone: str, image_size: int = 224) -> str:
    """Keras' file name of the backbone's no-top ImageNet weights."""
    if backbone not in WEIGHT_FILES:
        raise ValueError(f"backbone={backbone!r} is unknown; valid: "
                         f"{', '.join(sorted(WEIGHT_FILES))}")
    return WEIGHT_FILES[backbone].format(rows=_mobilenet_rows(image_size))


def origin(backbone: str, image_size: int = 224) -> tuple[str, str | None]:
    """(url, md5 or sha256 hash as Keras checks it) of the no-top weights."""
    from keras.src.applications import efficientnet, mobilenet_v2, resnet, vgg16

    name = file_name(backbone, image_size)
    if backbone == "vgg16":
        return vgg16.WEIGHTS_PATH_NO_TOP, "6d6bbae143d832006294945121d1f1fc"
    if backbone == "resnet50":
        return resnet.BASE_WEIGHTS_PATH + name, resnet.WEIGHTS_HASHES["resnet50"][1]
    if backbone == "mobilenet_v2":
        return mobilenet_v2.BASE_WEIGHT_PATH + name, None
    return efficientnet.BASE_WEIGHTS_PATH + name, efficientnet.WEIGHTS_HASHES["b0"][1]


def search_dirs() -> list[Path]:
    """Folders searched for a weights file, in order."""
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return [config.home() / "weights", keras_home / "models"]


def find_cached(backbone: str, image_size: int = 224) -> Path | None:
    """The cached no-top weights file, or None."""
    name = file_name(backbone, image_size)
    for folder in search_dirs():
        candidate = folder / name
        if candidate.is_file() and candidate.stat().st_size > 0:
            return candidate
    return None


def fetch(backbone: str, dest: Path, image_size: int = 224) -> Path:
    """Download the no-top weights into `dest/weights/` (Keras checks the hash)."""
    import keras

    from .data import registry

    url, file_hash = origin(backbone, image_size)
    if not registry.host_reachable(url):
        raise WeightsUnavailableError(unavailable_message(backbone, "no network"))
    try:
        path = keras.utils.get_file(
            file_name(backbone, image_size), url, cache_dir=str(dest),
            cache_subdir="weights", file_hash=file_hash)
    except Exception as err:  # Keras wraps network errors in several types
        raise WeightsUnavailableError(unavailable_message(backbone, str(err))) from err
    return Path(path)


def unavailable_message(backbone: str, reason: str) -> str:
    return (
        f"ImageNet weights for {backbone} are not cached here and cannot be "
        f"downloaded ({reason}). Three ways out:\n"
        f"  1. connect to the internet and run again (Keras downloads them once);\n"
        f"  2. on a connected machine run `python -m tlhelpers prefetch --dest DIR "
        f"--backbones {backbone}`, copy DIR here and set {config.HOME_ENV}=DIR;\n"
        f"  3. pass weights=<path to the .h5 file>, or allow_random=True (the quick "
        f"profile) to see the mechanics with random weights.")


def describe_imagenet_weights(backbone: str = "vgg16", image_size: int = 224) -> str:
    """One phrase for the Setup line: cached, downloadable, or unavailable."""
    from .data.registry import host_reachable

    if find_cached(backbone, image_size):
        return f"{backbone} imagenet (cached)"
    url, _ = origin(backbone, image_size)
    if host_reachable(url, timeout=2.0):
        return f"{backbone} imagenet (downloads on first use)"
    if config.get_profile().allow_random_weights:
        return f"{backbone} RANDOM (no network, no cached ImageNet file)"
    return f"{backbone} imagenet UNAVAILABLE (no network, no cached file)"
