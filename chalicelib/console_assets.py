"""The web console's files (chalicelib/console/), read from the package: an allow-list, never a path lookup.

Only the names listed in ``ASSETS`` can be served; a request for any other name is a
404 before anything is read, so no request can reach another file of the package.
Each file is read once per process, with a strong ETag of its content.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

INDEX = "index.html"
# name -> Content-Type. All text: API Gateway passes them through as they are (no binary_types needed).
ASSETS: dict[str, str] = {
    INDEX: "text/html; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "dom.js": "text/javascript; charset=utf-8",
    "data.js": "text/javascript; charset=utf-8",
    "admin.js": "text/javascript; charset=utf-8",
    "icon.svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Asset:
    name: str
    content_type: str
    text: str
    etag: str  # quoted, strong: the content's hash

    def matches(self, if_none_match: str | None) -> bool:
        """True when the client's ``If-None-Match`` names this version (or is ``*``)."""
        if not if_none_match:
            return False
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or self.etag in tags


def asset(name: str) -> Asset | None:
    """The allow-listed file ``name``, or None for any other name (checked first: only listed names are cached)."""
    return _load(name) if name in ASSETS else None


@functools.cache
def _load(name: str) -> Asset:
    from importlib import resources  # (with tempfile and shutil, ~8 ms: not at cold start)

    content_type = ASSETS[name]
    text = resources.files("chalicelib").joinpath("console", name).read_text(encoding="utf-8")
    etag = '"' + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + '"'
    return Asset(name, content_type, text, etag)
