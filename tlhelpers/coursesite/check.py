"""What a built site must hold: every internal link and image resolves, nothing fetched.

Run by `python -m tlhelpers site` after Sphinx, and by the site's tests.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Where a page names another file: links, images, scripts, stylesheets, frames.
LINKING = {"a": "href", "link": "href", "img": "src", "script": "src", "iframe": "src",
           "source": "src"}
# Namespaces and the sites a page only links to, never loads from.
NOT_LOADED = ("http://www.w3.org/",)


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        name = LINKING.get(tag)
        value = dict(attrs).get(name) if name else None
        if value:
            self.refs.append((tag, value))


def references(page: Path) -> list[tuple[str, str]]:
    """(tag, address) for every file a page links to or loads."""
    parser = _Refs()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.refs


def broken_links(site: Path) -> list[str]:
    """'page: address' for each internal link or image whose file is missing."""
    broken = []
    for page in sorted(site.rglob("*.html")):
        for _tag, address in references(page):
            parts = urlsplit(address)
            if parts.scheme or parts.netloc or not parts.path:
                continue  # another site, mailto:, or an anchor on this page
            if not (page.parent / unquote(parts.path)).exists():
                broken.append(f"{page.relative_to(site)}: {address}")
    return broken


def remote_loads(site: Path) -> list[str]:
    """'page: address' for each script, stylesheet, image or frame fetched from the network."""
    found = []
    for page in sorted(site.rglob("*.html")):
        for tag, address in references(page):
            if tag != "a" and re.match(r"^(https?:)?//", address) \
                    and not address.startswith(NOT_LOADED):
                found.append(f"{page.relative_to(site)}: {address}")
    return found
