"""Helpers shared by the storage tests of every backend."""

from __future__ import annotations

from chalicelib.storage.base import PreconditionFailed, Storage


def cas_increment(storage: Storage, key: str, times: int) -> None:
    """Increment the integer at ``key`` ``times`` times with If-Match, retrying lost races."""
    for _ in range(times):
        while True:
            cur = storage.get(key)
            try:
                storage.put(key, str(int(cur.data) + 1).encode(), if_match=cur.etag)
                break
            except PreconditionFailed:
                continue
