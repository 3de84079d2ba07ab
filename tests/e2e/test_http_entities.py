"""The REST contract (docs/api-contract.md), against the real ``deltadb serve`` over HTTP:
entity PUT/GET/DELETE across server processes, several entities in one PUT.
"""

from __future__ import annotations

import pytest

from tests.e2e.http_helpers import assert_error, assert_ok, same_json
from tests.e2e.servers import ADMIN_KEY, ServerProcess

pytestmark = pytest.mark.e2e


def test_read_after_write_across_server_processes(server: ServerProcess) -> None:
    """Each request opens a new connection, so writes and reads land on either worker process."""
    for i in range(20):
        assert_ok(server.put("raw", {"k": {"i": i}}))
        r = server.get("raw", "k")
        assert r.status == 200 and r.json() == {"i": i}, (i, r)
    assert_ok(server.request("DELETE", "/entity/raw?key=k", credential=ADMIN_KEY))
    assert_error(server.get("raw", "k"), 404)


def test_several_entities_in_one_put(server: ServerProcess) -> None:
    body = {f"multi-{i}": {"i": i, "s": "ü" * i} for i in range(10)}
    assert_ok(server.put("multi", body))
    for key, value in body.items():
        r = server.get("multi", key)
        assert r.status == 200 and same_json(r.json(), value), r
    assert_error(server.get("multi", "multi-10"), 404)
