"""The REST contract (docs/api-contract.md), against the real ``deltadb serve`` over HTTP:
concurrent reads and writes, answered correctly and promptly, never torn.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.http_client import Reply
from tests.e2e.http_helpers import MAX_LATENCY, assert_ok, same_json
from tests.e2e.servers import ServerProcess

pytestmark = pytest.mark.e2e


def run_concurrently(n: int, fn: Any) -> list[Any]:
    """Run ``fn(i)`` for i in range(n) on n threads released together by a barrier."""
    barrier = threading.Barrier(n)

    def task(i: int) -> Any:
        barrier.wait(timeout=30)
        return fn(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(task, range(n)))


def test_fifty_concurrent_gets(server: ServerProcess) -> None:
    value = {"n": 42, "text": "héllo wörld ☃", "nested": {"list": [1, 2.5, None, True, "x" * 1000]}}
    assert_ok(server.put("conc-get", {"doc": value}))

    results = run_concurrently(50, lambda _i: server.get("conc-get", "doc"))

    assert [r.status for r in results] == [200] * 50, [r for r in results if r.status != 200]
    for r in results:
        assert same_json(r.json(), value), r
    slow = [round(r.elapsed, 3) for r in results if r.elapsed > MAX_LATENCY]
    assert not slow, f"GETs slower than {MAX_LATENCY}s: {slow}"


def test_thirty_concurrent_puts_of_distinct_keys(server: ServerProcess) -> None:
    def value(i: int) -> dict[str, Any]:
        return {"i": i, "float": i / 7, "big": 10**20 + i, "unicode": f"日本-{i}-🙂", "list": list(range(i))}

    results = run_concurrently(30, lambda i: server.put("conc-put", {f"key-{i:02d}": value(i)}))

    for r in results:
        assert_ok(r)
    slow = [round(r.elapsed, 3) for r in results if r.elapsed > MAX_LATENCY]
    assert not slow, f"PUTs slower than {MAX_LATENCY}s: {slow}"
    for i in range(30):
        r = server.get("conc-put", f"key-{i:02d}")
        assert r.status == 200, r
        assert same_json(r.json(), value(i)), (i, r)


def test_two_concurrent_writers_on_one_key(server: ServerProcess) -> None:
    """Each round: two writers race on one key while readers poll it.

    Both writes succeed, the final value is exactly one of the two, and no read ever
    sees anything but a complete value written by someone (never an error or a mix).
    """
    rounds = 8
    pad = "p" * 20_000  # large enough that a torn write would show

    def val(rnd: int, writer: str) -> dict[str, Any]:
        return {"round": rnd, "writer": writer, "pad": writer * 5 + pad, "nums": [rnd, 1.5, -(10**18)]}

    valid = {json.dumps(val(r, w), sort_keys=True) for r in range(rounds) for w in ("A", "B")}
    assert_ok(server.put("race", {"k": val(0, "A")}))
    reads: list[Reply] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            reads.append(server.get("race", "k"))

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        for rnd in range(rounds):
            a, b = val(rnd, "A"), val(rnd, "B")
            ra, rb = run_concurrently(2, lambda i, a=a, b=b: server.put("race", {"k": (a, b)[i]}))
            assert_ok(ra)
            assert_ok(rb)
            assert max(ra.elapsed, rb.elapsed) <= MAX_LATENCY, (ra.elapsed, rb.elapsed)
            final = server.get("race", "k")
            assert final.status == 200, final
            assert final.json() in (a, b), final
    finally:
        stop.set()
        for t in readers:
            t.join(timeout=30)
    assert reads, "readers never ran"
    for r in reads:
        assert r.status == 200, r
        assert json.dumps(r.json(), sort_keys=True) in valid, r
        assert r.elapsed <= MAX_LATENCY, r.elapsed
