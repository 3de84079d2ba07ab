"""Helpers shared by the storage tests of every backend."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from chalicelib.storage.base import Storage, VersionMismatch


def run_together(target: Callable[..., Any], args: Iterable[tuple[Any, ...]]) -> None:
    """Start one thread per argument tuple, all at once, and wait for every one."""
    threads = [threading.Thread(target=target, args=a) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def cas_increment(storage: Storage, key: str, times: int) -> None:
    """Increment the integer at ``key`` ``times`` times with If-Match, retrying lost races."""
    for _ in range(times):
        while True:
            cur = storage.get(key)
            try:
                storage.put(key, str(int(cur.data) + 1).encode(), if_match=cur.etag)
                break
            except VersionMismatch:
                continue


def cas_race(storage: Storage, key: str, threads: int, times: int) -> bytes:
    """``threads`` racing incrementers from 0; returns the final value (threads x times if none is lost)."""
    storage.put(key, b"0")
    run_together(cas_increment, [(storage, key, times)] * threads)
    return storage.get(key).data
