"""The bounded caches: least recently used goes first; an expiring entry is served until its time, then gone."""

from __future__ import annotations

from chalicelib.caches import Bounded, Expiring


def test_an_entry_lives_until_its_own_expiry_and_an_expired_one_is_a_miss() -> None:
    now = [100.0]
    lookups: list[bool] = []
    cache: Expiring[str, str] = Expiring(2, lambda: now[0], lookups.append)
    cache.put("a", "claims-a", expires_at=110.0)
    cache.put("b", "claims-b", expires_at=105.0)
    assert cache.get("a") == "claims-a" and cache.get("b") == "claims-b"
    now[0] = 105.0  # b's expiry: no longer valid
    assert cache.get("b") is None and cache.get("a") == "claims-a"
    assert cache.get("missing") is None
    assert lookups == [True, True, False, True, False]


def test_it_stays_bounded() -> None:
    cache: Expiring[int, int] = Expiring(3, lambda: 0.0)
    for i in range(10):
        cache.put(i, i, expires_at=1.0)
    assert [cache.get(i) for i in range(10)] == [None] * 7 + [7, 8, 9]


def test_the_least_recently_used_entry_goes_first() -> None:
    lookups: list[bool] = []
    cache: Bounded[str, int] = Bounded.lru(2, lookups.append)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recently used
    cache.put("c", 3)  # evicts b, not a
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    cache.put("a", 10)  # a replaced value counts as a use too
    cache.put("d", 4)  # evicts c
    assert (cache.get("a"), cache.get("c"), cache.get("d"), len(cache)) == (10, None, 4, 2)
    cache.discard("a")
    assert cache.get("a") is None and len(cache) == 1
    cache.clear()
    assert len(cache) == 0
    assert lookups == [True, True, False, True, True, False, True, False]


def test_a_cache_of_size_zero_keeps_nothing() -> None:
    cache: Bounded[str, int] = Bounded.lru(0)
    cache.put("a", 1)
    assert cache.get("a") is None and len(cache) == 0
