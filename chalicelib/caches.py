"""Bounded in-process caches, safe to share between request threads.

``Bounded`` is a least-recently-used map over ``collections.OrderedDict``, whose
``move_to_end`` and ``popitem`` are C: a lookup is one short lock and two C calls. (It was
cachetools' ``LRUCache``, four Python-level calls a lookup; a PUT makes seven lookups, and
they cost it 3 % of its instructions, counted by bench/request_instructions.py.) Every
operation takes the lock: a read reorders the LRU order. ``on_lookup(hit)``, when given,
hears of every ``get`` (the cache hit/miss metrics, chalicelib/metrics/); None (metrics
off) costs nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Bounded(Generic[K, V]):
    def __init__(self, maxsize: int, on_lookup: Callable[[bool], None] | None = None) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._on_lookup = on_lookup

    @classmethod
    def lru(cls, maxsize: int, on_lookup: Callable[[bool], None] | None = None) -> Bounded[K, V]:
        """Least recently used goes first; ``maxsize`` 0 keeps nothing."""
        return cls(maxsize, on_lookup)

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
        if self._on_lookup is not None:
            self._on_lookup(value is not None)
        return value

    def put(self, key: K, value: V) -> None:
        if self.maxsize <= 0:
            return
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            if len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def discard(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class Expiring(Generic[K, V]):
    """A bounded LRU whose entries each end at a time of their own (verified tokens until their ``exp``).

    An expired entry is dropped when next looked up: a plain LRU and one comparison, a
    third of the cost of cachetools' TLRU, on every request that carries a token.
    """

    def __init__(self, maxsize: int, clock: Callable[[], float], on_lookup: Callable[[bool], None] | None = None):
        self._entries: Bounded[K, tuple[V, float]] = Bounded.lru(maxsize)
        self._clock = clock
        self._on_lookup = on_lookup

    def get(self, key: K) -> V | None:
        hit = self._entries.get(key)
        if hit is not None and hit[1] <= self._clock():
            self._entries.discard(key)
            hit = None
        if self._on_lookup is not None:
            self._on_lookup(hit is not None)  # an expired entry is a miss
        return hit[0] if hit is not None else None

    def put(self, key: K, value: V, expires_at: float) -> None:
        self._entries.put(key, (value, expires_at))

    def discard(self, key: K) -> None:
        self._entries.discard(key)
