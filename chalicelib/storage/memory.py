"""In-memory Storage for unit tests: same semantics as the real adapters."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

from chalicelib.storage.base import NotModified, ObjectNotFound, Page, StoredObject, VersionMismatch


class MemoryStorage:
    def __init__(self) -> None:
        self._objects: dict[str, StoredObject] = {}
        self._lock = threading.Lock()
        self._versions = itertools.count(1)

    def get(self, key: str, *, if_none_match: str | None = None) -> StoredObject:
        obj = self._objects.get(key)
        if obj is None:
            raise ObjectNotFound(key)
        if if_none_match is not None and obj.etag == if_none_match:
            raise NotModified(key)
        return obj

    def put(self, key: str, data: bytes, *, if_match: str | None = None, if_none_match: bool = False) -> str:
        with self._lock:
            current = self._objects.get(key)
            if if_none_match and current is not None:
                raise VersionMismatch(key)
            if if_match is not None and (current is None or current.etag != if_match):
                raise VersionMismatch(key)
            etag = f'"m{next(self._versions)}"'
            self._objects[key] = StoredObject(bytes(data), etag)
            return etag

    def delete(self, key: str, *, if_match: str | None = None) -> None:
        with self._lock:
            current = self._objects.get(key)
            if current is None:
                raise ObjectNotFound(key)
            if if_match is not None and current.etag != if_match:
                raise VersionMismatch(key)
            del self._objects[key]

    def list(self, prefix: str) -> Iterator[str]:
        return iter([k for k in list(self._objects) if k.startswith(prefix)])

    def list_page(self, folder: str, *, after: str = "", starts_with: str = "", limit: int = 100) -> Page:
        leaves = sorted(
            k[len(folder) :] for k in list(self._objects) if k.startswith(folder) and "/" not in k[len(folder) :]
        )
        chosen = [n for n in leaves if n > after and n.startswith(starts_with)]
        return Page(chosen[:limit], len(chosen) > limit)

    def list_folders(self, prefix: str) -> tuple[str, ...]:
        rest = [k[len(prefix) :] for k in list(self._objects) if k.startswith(prefix)]
        return tuple(sorted({r.split("/", 1)[0] for r in rest if "/" in r}))

    def check(self) -> str | None:
        return None

    def raw(self) -> dict[str, StoredObject]:
        """The objects themselves, for tests that tamper with stored bytes."""
        return self._objects
