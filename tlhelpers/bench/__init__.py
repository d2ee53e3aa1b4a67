"""`python -m tlhelpers bench`: each speed-up measured as a ratio in one run.

Summarised in docs/performance.md (`bench/README.md` says what
each figure means). `measure` runs the measurements, on what `machine` finds
about this computer; `report` prints the table and saves the JSON result to
the repository's `bench/results/` folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import config, tflogs
from .machine import (
    MATMUL_SIZE,
    PeakMemory,
    conv_flops_per_image,
    host_kind,
    machine_info,
    matmul_gflops,
    numpy_matmul_gflops,
    peak_gflops,
)
from .measure import (
    DEFAULT_COUNTS,
    GOALS,
    HEAD_EPOCHS,
    N_UNFROZEN,
    file_lists,
    measure,
    measure_prefix,
    resolve_data,
    synthetic_folder,
)
from .report import save, table

# What tests, the docs and `python -m tlhelpers bench` reach through the package.
__all__ = ["DEFAULT_COUNTS", "GOALS", "HEAD_EPOCHS", "MATMUL_SIZE", "N_UNFROZEN",
           "PeakMemory", "conv_flops_per_image", "file_lists", "host_kind",
           "machine_info", "main", "matmul_gflops", "measure", "measure_prefix",
           "numpy_matmul_gflops", "parser", "peak_gflops", "resolve_data", "save",
           "synthetic_folder", "table"]


def _counts(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f"counts={text!r} is not valid; expected comma-separated integers >= 1, "
            "e.g. 100,200,400")
    return values


def _size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 32:
        raise argparse.ArgumentTypeError(
            f"image-size={text!r} is not valid; expected an integer >= 32")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tlhelpers bench",
        description="Measure the stored features, stored activations, head "
                    "retraining and feature extraction, as ratios in one run.")
    p.add_argument("--json", action="store_true",
                   help="end with one line holding a JSON object with every "
                        "figure")
    p.add_argument("--data", metavar="DIR",
                   help=f"image folder or dataset name (default: {config.DATASET_ENV}"
                        ", else a synthetic folder)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="where the JSON result is saved (default: bench/results/)")
    p.add_argument("--no-save", action="store_true", help="do not save the result")
    p.add_argument("--quiet", action="store_true",
                   help="no progress lines on stderr")
    p.add_argument("--image-size", type=_size, default=150,
                   help="square input size in pixels (default: 150, as the seed)")
    p.add_argument("--counts", type=_counts, default=list(DEFAULT_COUNTS),
                   help="image counts for extraction (default: 100,200,400); the "
                        "largest is also used for the caches and the head")
    p.add_argument("--batch-size", type=int, default=None,
                   help="extraction and training batch size (default: the "
                        "feature extractor's own choice)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m tlhelpers bench`; returns the exit status."""
    args = parser().parse_args(argv if argv is not None else sys.argv[1:])
    tflogs.prepare()  # before anything imports TensorFlow
    try:
        result = measure(args)
    except ValueError as err:  # a bad --data, named by the data package
        print(f"bench: {err}", file=sys.stderr)
        return 2
    if not args.no_save:
        out = Path(args.out) if args.out else config.PROJECT_ROOT / "bench" / "results"
        result["saved_to"] = str(save(result, out))
    print(table(result))
    if not args.no_save:
        print(f"saved: {result['saved_to']}")
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return 0
