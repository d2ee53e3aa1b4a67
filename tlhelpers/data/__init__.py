"""Datasets: registry and downloads, folder scans, tf.data pipelines.

Taught in `00_setup_and_data.ipynb`. Submodules, each with one job:
`registry` (names, checksums, `get_dataset`), `archive` (verified download,
safe extraction), `scan` (good and bad files), `images` (decode any image to
RGB), `pipeline` (splits and tf.data).
"""

from .archive import ArchiveError, DownloadError, download, extract
from .images import load_rgb, to_rgb
from .pipeline import (
                       FileSplit,
                       SkippedFiles,
                       SkippedFileWarning,
                       Splits,
                       load_splits,
                       make_dataset,
                       split_files,
)
from .registry import DATASETS, DatasetSpec, DatasetUnavailableError, get_dataset
from .scan import BadFile, FolderScan, scan_folder

__all__ = [
    "ArchiveError", "DownloadError", "download", "extract",
    "DATASETS", "DatasetSpec", "DatasetUnavailableError", "get_dataset",
    "BadFile", "FolderScan", "scan_folder", "load_rgb", "to_rgb",
    "FileSplit", "SkippedFiles", "SkippedFileWarning", "Splits", "load_splits",
    "make_dataset", "split_files",
]
