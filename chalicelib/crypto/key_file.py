"""The local keyring file (``keyring.json``): master key versions, read and changed safely.

Format version 2 (version 1 files stay readable and are upgraded by the first change)::

    {"version": 2, "active": "<key id>",
     "keys": [{"id", "material": b64, "created_at", "state": "active" | "enabled"},
              {"id", "created_at", "destroyed_at", "state": "destroyed"}]}   # a tombstone, no material

Changes (rotate, destroy) hold an exclusive ``flock`` on ``<file>.lock`` while they read,
change and write, so two commands never lose each other's change; the new file is
written to a temp file (0600), fsynced, renamed over the old one and the folder fsynced,
so a reader sees the old file or the new one, never a mix. Running processes notice the
change by stat (see LocalKeyRing) and reload it.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalicelib.files import write_atomically
from chalicelib.timestamps import rfc3339

FILE_VERSION = 2
ACTIVE, ENABLED, DESTROYED = "active", "enabled", "destroyed"


class KeyFileError(Exception):
    """The key file is missing, malformed, or the change asked for is not allowed."""


@dataclass(frozen=True, slots=True)
class FileKey:
    id: str
    created_at: str | None
    state: str
    material: bytes | None  # None once destroyed


def key_id_for(material: bytes) -> str:
    """A stable, non-secret id for a KEK (a truncated hash under a fixed label)."""
    import hashlib

    return "local-" + hashlib.sha256(b"deltadb key id\x00" + material).hexdigest()[:16]


def parse(doc: Any, where: Path | str) -> tuple[str, list[FileKey]]:
    """(active id, keys) of a version 1 or 2 document."""
    try:
        if doc.get("version") not in (1, FILE_VERSION):
            raise KeyFileError(f"unsupported key file version in {where}")
        active = str(doc["active"])
        keys = []
        for k in doc["keys"]:
            material = base64.b64decode(k["material"], validate=True) if "material" in k else None
            if material is not None and len(material) != 32:
                raise KeyFileError(f"key {k['id']} in {where} is not 32 bytes")
            state = str(k.get("state", ENABLED))
            if state != DESTROYED:  # the top-level "active" says which one is current, whatever a hand edit left
                state = ACTIVE if k["id"] == active else ENABLED
            keys.append(FileKey(str(k["id"]), k.get("created_at"), state, material if state != DESTROYED else None))
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, KeyFileError):
            raise
        raise KeyFileError(f"malformed key file {where}") from None
    if not any(k.id == active and k.material is not None for k in keys):
        raise KeyFileError(f"the active key of {where} is not among its keys")
    return active, keys


def read(path: Path) -> tuple[str, list[FileKey]]:
    try:
        return parse(json.loads(Path(path).read_bytes()), path)
    except ValueError:
        raise KeyFileError(f"malformed key file {path}") from None


def render(active: str, keys: list[FileKey], destroyed_at: dict[str, str] | None = None) -> bytes:
    out: list[dict[str, Any]] = []
    for k in keys:
        entry: dict[str, Any] = {"id": k.id, "created_at": k.created_at}
        if k.state == DESTROYED:
            entry |= {"state": DESTROYED, "destroyed_at": (destroyed_at or {}).get(k.id)}
        else:
            assert k.material is not None
            entry |= {"material": base64.b64encode(k.material).decode(), "state": ACTIVE if k.id == active else ENABLED}
        out.append(entry)
    return json.dumps({"version": FILE_VERSION, "active": active, "keys": out}, indent=2).encode()


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock over read-change-write of ``path`` (a sibling lock file: the key file is replaced)."""
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock

    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _destroyed_dates(path: Path) -> dict[str, str]:
    doc = json.loads(path.read_bytes())
    return {k["id"]: k["destroyed_at"] for k in doc["keys"] if k.get("destroyed_at")}


def rotate(path: Path) -> str:
    """Add a fresh key and make it active (the previous one stays, ``enabled``); return its id."""
    with locked(path):
        _active, keys = read(path)
        material = os.urandom(32)
        new = FileKey(key_id_for(material), rfc3339(datetime.now(UTC)), ACTIVE, material)
        write_atomically(path, render(new.id, [*keys, new], _destroyed_dates(path)))
        return new.id


def destroy(path: Path, key_id: str) -> None:
    """Remove a key's material, keeping a tombstone (id, dates) so ``key list`` still shows it."""
    with locked(path):
        active, keys = read(path)
        if key_id == active:
            raise KeyFileError(f"{key_id} is the current key version; rotate first")
        if not any(k.id == key_id for k in keys):
            raise KeyFileError(f"no key version {key_id!r}")
        dates = _destroyed_dates(path) | {key_id: rfc3339(datetime.now(UTC))}
        kept = [FileKey(k.id, k.created_at, DESTROYED, None) if k.id == key_id else k for k in keys]
        write_atomically(path, render(active, kept, dates))
