"""`check-data DIR [--json]`: the folder scan of `00_setup_and_data.ipynb` on the command line.

Exit 0 when the folder can be trained on (two classes or more, each with a
good image), 1 when it cannot, 2 for usage errors.
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import UsageError, json_text


def add_arguments(parser) -> None:
    parser.add_argument("folder", metavar="DIR", help="image folder to scan")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of a report")


def execute(args) -> int:
    from ..data.scan import scan_folder

    folder = Path(args.folder).expanduser()
    if not folder.exists():
        raise UsageError(f"DIR={args.folder!r} does not exist")
    if not folder.is_dir():
        raise UsageError(f"DIR={args.folder!r} is not a folder")
    try:
        scan = scan_folder(folder)
    except OSError as err:
        print(f"error: cannot read {folder}: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json_text(scan.to_json()))
    else:
        print(scan.report())
    return 0 if scan.usable else 1
