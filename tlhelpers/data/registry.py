"""Dataset registry (name -> url, size, sha256, license) and `get_dataset`.

Taught in `00_setup_and_data.ipynb`. Modelled on d2l's DATA_HUB: notebooks name
a dataset, never a path. `TLH_DATASET` may name a registry entry or a folder;
without it the profile picks: `flowers-small` (shipped in `data/`) for quick,
the `flowers` download for full.
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
from .scan import IMAGE_SUFFIXES


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """One dataset: an archive to download, or a folder shipped in the repository."""

    name: str
    url: str     # the archive; empty for a shipped folder
    size: int    # bytes of the archive, or of the shipped folder's files
    sha256: str  # of the archive, or of the shipped folder's SHA256SUMS
    license: str
    credit: str
    subdir: str  # the folder inside the archive that holds the class folders
    shipped: str = ""  # a shipped folder, relative to the project root

    @property
    def is_shipped(self) -> bool:
        return bool(self.shipped)


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
    # 160 train photos per class of the same dataset, and its validation
    # photos cut into val (387) and test (384), longer side 192 px: small
    # enough to ship, so the quick profile needs no network.
    "flowers-small": DatasetSpec(
        name="flowers-small",
        url="",
        size=17_917_262,
        sha256="d669a514400cc7ac37afbb0761e62db6fc1c9bfcc4933297ea049794aa4acfd2",
        license="CC BY 2.0 (https://creativecommons.org/licenses/by/2.0/)",
        credit="1,571 photos of flower_photos by the TensorFlow team; each photo "
               "by its Flickr photographer, credited in data/flowers-small/"
               "LICENSE.txt",
        subdir="",
        shipped="data/flowers-small",
    ),
}
# The quick profile (tests, CI, a first run) must work with no network; the
# full profile trains on all 3,670 photos.
DEFAULT_DATASETS = {"full": "flowers", "quick": "flowers-small"}


class DatasetUnavailableError(RuntimeError):
    """The dataset is neither on disk nor downloadable from here."""


def default_dataset() -> str:
    """The registry entry the active profile uses when `TLH_DATASET` is unset."""
    return DEFAULT_DATASETS[config.profile_name()]


def requested_dataset() -> str:
    """The dataset named by `TLH_DATASET`, or the active profile's default."""
    return os.environ.get(config.DATASET_ENV, "").strip() or default_dataset()


def dataset_root(name: str) -> Path:
    """Where a registry dataset is extracted under `TLH_HOME`."""
    return config.home() / "datasets" / name


def shipped_folder(spec: DatasetSpec) -> Path:
    """Where a shipped dataset sits in this checkout."""
    return config.PROJECT_ROOT / spec.shipped


def count_images(folder: Path) -> int:
    """Image files under `folder`, hidden files left out (a file walk, no decoding)."""
    return sum(1 for path in folder.rglob("*")
               if path.suffix.lower() in IMAGE_SUFFIXES
               and not path.name.startswith(".") and path.is_file())


def missing_shipped_message(spec: DatasetSpec) -> str:
    return (
        f"The dataset {spec.name!r} ships with the course but is missing from "
        f"{shipped_folder(spec)}. Three ways out:\n"
        f"  1. restore it: `git checkout -- {spec.shipped}` in the repository, "
        f"or clone the repository again (an installed package has no data/);\n"
        f"  2. set {config.DATASET_ENV}=flowers to download the whole dataset "
        f"({DATASETS['flowers'].size / 1e6:.0f} MB);\n"
        f"  3. point {config.DATASET_ENV} at a folder of images "
        f"(DIR/<class>/*.jpg or DIR/train|val/<class>/*.jpg).")


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
    """A dataset's folder: a folder as is, a registry name shipped or downloaded once.

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
    if spec.is_shipped:
        folder = shipped_folder(spec)
        if not folder.is_dir():
            raise DatasetUnavailableError(missing_shipped_message(spec))
        return folder
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
    if spec.is_shipped:
        folder = shipped_folder(spec)
        if not folder.is_dir():
            return f"{spec.name} (shipped, but missing from {spec.shipped})"
        return f"{spec.name} (shipped, {count_images(folder)} photos)"
    if (dataset_root(spec.name) / ".complete").exists():
        return f"{spec.name} (cached)"
    return f"{spec.name} (not downloaded yet)"
