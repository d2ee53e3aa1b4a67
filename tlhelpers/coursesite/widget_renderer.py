"""The renderer that draws saved widget state in a static page, fetched once.

Jupyter's own `@jupyter-widgets/html-manager` (BSD-3-Clause) turns the widget
state a course run saves into the panels as they looked after the run. The
site copies its files in, so the pages never ask a CDN for them. Its tarball
comes from the npm registry once, checked against its size and sha256, and is
kept under `TLH_HOME/site`; `site --renderer TGZ` takes a copy brought in.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from .. import config
from ..data.archive import DownloadError, download, sha256_of

VERSION = "1.0.15"
URL = ("https://registry.npmjs.org/@jupyter-widgets/html-manager/-/"
       f"html-manager-{VERSION}.tgz")
SIZE = 5_142_829
SHA256 = "2b9d65cb7913e1c7d671757a10008b32c9c2448d4429513371e55c07d6107638"
# The standalone bundle (no require.js) that renders every widget-view script
# tag on load, and the font files its stylesheet points to.
SCRIPT = "embed.js"
FONTS = (".woff2", ".woff", ".ttf", ".eot", ".svg")
LICENCE = "embed.js.LICENSE.txt"


def tarball(brought: Path | None = None) -> Path:
    """The verified html-manager tarball: a copy brought in, the stored one, or a download."""
    if brought is not None:
        verify_copy(Path(brought))
        return Path(brought)
    stored = config.cache_dir("site") / f"html-manager-{VERSION}.tgz"
    try:
        return download(URL, stored, size=SIZE, sha256=SHA256, progress=False)
    except DownloadError as err:
        raise DownloadError(
            f"{err}\nThe site draws the notebooks' panels with Jupyter's widget renderer "
            f"(@jupyter-widgets/html-manager {VERSION}), fetched once from the npm "
            "registry. On a machine with no network, copy the tarball from one that has "
            f"it ({URL}) and pass it: python -m tlhelpers site --renderer FILE.tgz") from None


def verify_copy(path: Path) -> None:
    """Check a tarball brought in by hand; unlike a download, it is never deleted."""
    if not path.is_file():
        raise DownloadError(f"{path}: no such file (the widget renderer's tarball)")
    size, digest = path.stat().st_size, sha256_of(path)
    if (size, digest) != (SIZE, SHA256):
        raise DownloadError(f"{path} is not html-manager {VERSION}: {size:,} bytes, sha256 "
                            f"{digest}; expected {SIZE:,} bytes, sha256 {SHA256}")


def install(target: Path, brought: Path | None = None) -> Path:
    """Copy the renderer's script, fonts and licences into `target`; returns the script."""
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball(brought)) as archive:
        for member in archive.getmembers():
            name = Path(member.name)
            # Only regular files straight under package/dist: nothing else of
            # the package is needed, or trusted with a path.
            if member.isfile() and name.parent == Path("package/dist") and (
                    name.name in (SCRIPT, LICENCE) or name.suffix in FONTS):
                with archive.extractfile(member) as src, open(target / name.name, "wb") as out:
                    shutil.copyfileobj(src, out)
    script = target / SCRIPT
    if not script.is_file():
        raise DownloadError(f"html-manager {VERSION}'s tarball holds no dist/{SCRIPT}")
    return script
