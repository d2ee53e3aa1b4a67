"""`site`: the course as a static site, from the executed copies a course run left.

Used by `make site`. Nothing is executed again: run `python -m tlhelpers
course` first. The site opens from the file system with no network.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .. import config


def add_arguments(parser) -> None:
    build = config.PROJECT_ROOT / "build"
    parser.add_argument("--course", default=str(build / "course"),
                        help="the executed copies of a course run (default build/course)")
    parser.add_argument("--out", default=str(build / "site"),
                        help="where the site goes (default build/site); it is replaced "
                             "only when the new one built")
    parser.add_argument("--renderer", default="",
                        help="html-manager's tarball brought from a machine with a "
                             "network, for a machine with none")


def execute(args) -> int:
    from ..coursesite import build, pages
    from ..data.archive import DownloadError
    from . import COMMANDS

    root = config.PROJECT_ROOT
    out = Path(args.out).resolve()
    src = out.with_name(out.name + "-src")  # the pages' sources, kept for a look
    renderer = Path(args.renderer) if args.renderer else None
    try:
        build.stage(root, root / "notebooks", Path(args.course), src,
                    commands=list(COMMANDS), renderer=renderer)
        index = build.build(src, out)
    except (pages.SiteError, DownloadError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"The course site is in {out}: open {index} in a browser (no server or network needed).")
    return 0
