"""Small local files written whole: created exactly once (first-start secrets), or replaced atomically (key files)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def create_exclusive(path: Path, content: bytes) -> bool:
    """Create ``path`` (mode 0600) with ``content`` unless it exists; True when this call created it.

    The content goes to a temp file first, fsynced, then is linked into place: ``link``
    fails if the name exists, so concurrent first starts agree on one winner, and a
    reader never sees a half-written file.
    """
    tmp = _synced_temp(path, content)
    try:
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)


def write_atomically(path: Path, content: bytes) -> None:
    """Replace ``path`` (mode 0600) with ``content``: a reader sees the old file or the new one, whole."""
    tmp = _synced_temp(path, content)
    try:
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def _synced_temp(path: Path, content: bytes) -> Path:
    """``content`` in a fresh 0600 temp file beside ``path``, on disk (fsynced)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)
    return tmp
