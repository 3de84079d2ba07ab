"""Bounded in-process caches (cachetools), safe to share between request threads.

cachetools' caches are not thread-safe on their own: a read reorders the LRU list.
Every operation here takes one short lock. ``on_lookup(hit)``, when given, hears of every
``get`` (the cache hit/miss metrics, chalicelib/metrics/); None (metrics off) costs nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from cachetools import Cache, LRUCache, TLRUCache

K = TypeVar("K")
V = TypeVar("V")


class Bounded(Generic[K, V]):
    def __init__(self, cache: Cache[K, V], on_lookup: Callable[[bool], None] | None = None) -> None:
        self._cache = cache
        self._lock = threading.Lock()
        self._on_lookup = on_lookup

    @classmethod
    def lru(cls, maxsize: int, on_lookup: Callable[[bool], None] | None = None) -> Bounded[K, V]:
        """Least recently used goes first; ``maxsize`` 0 keeps nothing."""
        return cls(LRUCache(maxsize), on_lookup)

    @classmethod
    def expiring(
        cls,
        maxsize: int,
        expires_at: Callable[[K, V, float], float],
        timer: Callable[[], float],
        on_lookup: Callable[[bool], None] | None = None,
    ) -> Bounded[K, V]:
        """Each entry lives until ``expires_at(key, value, now)`` by ``timer``; LRU beyond ``maxsize``."""
        return cls(TLRUCache(maxsize, expires_at, timer=timer), on_lookup)

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._cache.get(key)
        if self._on_lookup is not None:
            self._on_lookup(value is not None)
        return value

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
