"""The bounded caches: an expiring entry is served until its time, then gone (and counted as a miss)."""

from __future__ import annotations

from chalicelib.caches import Expiring


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
