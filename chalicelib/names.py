"""Validation and storage encoding of database names, entity keys, schema ids and key ids.

A name is any non-empty text without ``/``, ``\\`` or ``..``. On storage it becomes one
path component: ``%``, control characters and a leading ``.`` are percent-encoded
(``/`` and ``\\`` cannot occur), everything else, unicode included, is kept as UTF-8.
The encoding is reversible, so listings give back names exactly as written, and the
encoded component can never start with ``.`` — the prefix reserved for temp files.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from chalicelib.errors import BadRequest

# NAME_MAX is 255 on common filesystems; 5 bytes stay free for the ".json" of schema objects.
MAX_COMPONENT_BYTES = 250
# Names found valid lately: a request checks its names on both sides of the handler
# call, and most requests name the same few databases and keys. Cleared when full.
_VALID: dict[str, None] = {}
_REMEMBERED = 4096


def validate(name: object, what: str = "name") -> str:
    """Return ``name`` if it is a valid name, else raise BadRequest (HTTP 400)."""
    if not isinstance(name, str) or name == "":
        raise BadRequest(f"{what} must be a non-empty string")
    if name in _VALID:
        return name
    if "/" in name or "\\" in name or ".." in name:
        raise BadRequest(f"invalid {what}: must not contain '/', '\\' or '..'")
    try:
        encoded = encode(name)
    except UnicodeEncodeError:
        raise BadRequest(f"invalid {what}: not valid unicode") from None
    if len(encoded.encode("utf-8")) > MAX_COMPONENT_BYTES:
        raise BadRequest(f"invalid {what}: longer than {MAX_COMPONENT_BYTES} bytes when stored")
    if len(_VALID) >= _REMEMBERED:
        _VALID.clear()
    _VALID[name] = None
    return name


def from_path(raw: str, what: str = "name") -> str:
    """Decode a URL path segment exactly once (``%2F`` → ``/``), then validate it."""
    try:
        decoded = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest(f"invalid {what}: not valid UTF-8") from None
    return validate(decoded, what)


_ESCAPED = re.compile(r"[%\x00-\x1f\x7f]")  # plus a leading "." (see _needs_escape)


def _needs_escape(ch: str, first: bool) -> bool:
    return ch == "%" or ord(ch) < 0x20 or ord(ch) == 0x7F or (first and ch == ".")


def encode(name: str) -> str:
    """Encode a validated name as one storage path component."""
    if not name.startswith(".") and _ESCAPED.search(name) is None:  # the common case, without a loop in Python
        name.encode("utf-8")  # raises on lone surrogates
        return name
    out = []
    for i, ch in enumerate(name):
        if _needs_escape(ch, i == 0):
            out.append(f"%{ord(ch):02X}")
        else:
            out.append(ch)
    encoded = "".join(out)
    encoded.encode("utf-8")
    return encoded


def decode(component: str) -> str:
    """Inverse of :func:`encode`."""
    return unquote(component) if "%" in component else component
