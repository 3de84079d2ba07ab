"""Helpers shared by the storage tests of every backend."""

from __future__ import annotations

import threading

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


def cas_race(storage: Storage, key: str, threads: int, times: int) -> bytes:
    """``threads`` racing incrementers from 0; returns the final value (threads x times if none is lost)."""
    storage.put(key, b"0")
    racers = [threading.Thread(target=cas_increment, args=(storage, key, times)) for _ in range(threads)]
    for t in racers:
        t.start()
    for t in racers:
        t.join()
    return storage.get(key).data
