"""Bounded in-process caches (cachetools), safe to share between request threads.

cachetools' caches are not thread-safe on their own: a read reorders the LRU list.
Every operation here takes one short lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from cachetools import Cache, LRUCache, TLRUCache

K = TypeVar("K")
V = TypeVar("V")


class Bounded(Generic[K, V]):
    def __init__(self, cache: Cache[K, V]) -> None:
        self._cache = cache
        self._lock = threading.Lock()

    @classmethod
    def lru(cls, maxsize: int) -> Bounded[K, V]:
        """Least recently used goes first; ``maxsize`` 0 keeps nothing."""
        return cls(LRUCache(maxsize))

    @classmethod
    def expiring(
        cls, maxsize: int, expires_at: Callable[[K, V, float], float], timer: Callable[[], float]
    ) -> Bounded[K, V]:
        """Each entry lives until ``expires_at(key, value, now)`` by ``timer``; LRU beyond ``maxsize``."""
        return cls(TLRUCache(maxsize, expires_at, timer=timer))

    def get(self, key: K) -> V | None:
        with self._lock:
            return self._cache.get(key)

    def put(self, key: K, value: V) -> None:
        if self._cache.maxsize <= 0:
            return
        with self._lock:
            self._cache[key] = value

    def discard(self, key: K) -> None:
        with self._lock:
            self._cache.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def __len__(self) -> int:
        return len(self._cache)
