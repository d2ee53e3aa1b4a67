"""Dataset registry (name -> url, size, sha256, license) and `get_dataset`.

Taught in `00_setup_and_data.ipynb`. Modelled on d2l's DATA_HUB: notebooks name
a dataset, never a path. `TLH_DATASET` may name a registry entry or a folder.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import urllib.parse
import urllib.request
from pathlib import Path

from .. import config
from .archive import ArchiveError, DownloadError, download, extract


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """One downloadable dataset."""

    name: str
    url: str
    size: int
    sha256: str
    license: str
    credit: str
    subdir: str  # the folder inside the archive that holds the class folders


DATASETS = {
    "flowers": DatasetSpec(
        name="flowers",
        url="https://storage.googleapis.com/download.tensorflow.org/"
            "example_images/flower_photos.tgz",
        size=228_813_984,
        sha256="4c54ace7911aaffe13a365c34f650e71dd5bf1be0a58b464e5a7183e3e595d9c",
        license="CC BY 2.0 (https://creativecommons.org/licenses/by/2.0/)",
        credit="flower_photos by the TensorFlow team; each photo by its Flickr "
               "photographer, credited in the archive's LICENSE.txt",
        subdir="flower_photos",
    ),
}
DEFAULT_DATASET = "flowers"


class DatasetUnavailableError(RuntimeError):
    """The dataset is neither on disk nor downloadable from here."""


def requested_dataset() -> str:
    """The dataset named by `TLH_DATASET`, or the default registry entry."""
    return os.environ.get(config.DATASET_ENV, "").strip() or DEFAULT_DATASET


def dataset_root(name: str) -> Path:
    """Where a registry dataset is extracted under `TLH_HOME`."""
    return config.home() / "datasets" / name


def _extracted_folder(spec: DatasetSpec) -> Path:
    return dataset_root(spec.name) / spec.subdir


def host_reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the URL's host opens within `timeout` seconds."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":  # a mirror on a local or mounted disk
        return Path(urllib.request.url2pathname(parts.path)).is_file()
    if not parts.hostname:
        return False
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def unavailable_message(spec: DatasetSpec, reason: str) -> str:
    return (
        f"The dataset {spec.name!r} is not on this machine and cannot be "
        f"downloaded ({reason}). Three ways out:\n"
        f"  1. connect to the internet and run again (it downloads "
        f"{spec.size / 1e6:.0f} MB once into {dataset_root(spec.name)});\n"
        f"  2. on a connected machine run `python -m tlhelpers prefetch --dest DIR`, "
        f"copy DIR here and set {config.HOME_ENV}=DIR;\n"
        f"  3. point {config.DATASET_ENV} at a folder of images "
        f"(DIR/<class>/*.jpg or DIR/train|val/<class>/*.jpg).")


def get_dataset(name_or_path: str | os.PathLike | None = None,
                progress: bool = True) -> Path:
    """The folder of a dataset: a folder as it is, a registry name downloaded once.

    Taught in `00_setup_and_data.ipynb`.
    """
    requested = str(name_or_path) if name_or_path is not None else requested_dataset()
    as_path = Path(requested).expanduser()
    if as_path.is_dir():
        return as_path.resolve()
    spec = DATASETS.get(requested)
    if spec is None:
        raise ValueError(
            f"dataset={requested!r} is neither a folder nor a registered dataset; "
            f"registered: {', '.join(sorted(DATASETS))}")
    folder = _extracted_folder(spec)
    if (dataset_root(spec.name) / ".complete").exists() and folder.is_dir():
        return folder
    archive_path = config.cache_dir("downloads") / Path(
        urllib.parse.urlsplit(spec.url).path).name
    if not archive_path.exists() and not host_reachable(spec.url):
        raise DatasetUnavailableError(unavailable_message(spec, "no network"))
    try:
        download(spec.url, archive_path, spec.size, spec.sha256, progress=progress)
    except DownloadError as err:
        raise DatasetUnavailableError(unavailable_message(spec, str(err))) from err
    extract(archive_path, dataset_root(spec.name))
    if not folder.is_dir():
        raise ArchiveError(f"{archive_path.name} has no folder {spec.subdir!r}; "
                           f"the registry entry {spec.name!r} is wrong")
    (dataset_root(spec.name) / ".complete").write_text(spec.sha256)
    return folder


def describe_default_dataset() -> str:
    """One phrase for the Setup line: which dataset, and whether it is on disk."""
    requested = requested_dataset()
    if Path(requested).expanduser().is_dir():
        return f"folder {Path(requested).expanduser().resolve().name}"
    spec = DATASETS.get(requested)
    if spec is None:
        return f"{requested!r} (unknown: not a folder or a registered name)"
    if (dataset_root(spec.name) / ".complete").exists():
        return f"{spec.name} (cached)"
    return f"{spec.name} (not downloaded yet)"
