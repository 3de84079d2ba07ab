"""The REST contract (docs/api-contract.md), against the real ``deltadb serve`` over HTTP:
JSON schemas: put, enforce, replace and delete, seen at once by every server process.
"""

from __future__ import annotations

import pytest

from tests.e2e.http_helpers import assert_error, assert_ok
from tests.e2e.servers import ServerProcess

pytestmark = pytest.mark.e2e


def test_schemas(server: ServerProcess) -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"msg": {"type": "string"}, "n": {"type": "integer", "minimum": 0}},
        "required": ["msg"],
    }
    for cred in (None, "not-a-key"):
        assert_error(server.request("PUT", "/schema/chat.v1", schema, credential=cred), 401)
    assert_ok(server.admin("PUT", "/schema/chat.v1", schema))
    assert "chat.v1" in server.request("GET", "/admin/schemas").json()
    r = server.request("GET", "/schema/chat.v1")  # no auth needed
    assert r.status == 200 and r.json() == schema, r

    assert_ok(server.put("chat.v1", {"m1": {"msg": "hi", "n": 3}}))
    bad = server.put("chat.v1", {"m2": {"msg": "hi", "n": -1}})
    assert "n" in assert_error(bad, 400), bad
    assert_error(server.put("chat.v1", {"m3": {"n": 1}}), 400)
    assert_error(server.get("chat.v1", "m2"), 404)

    assert_error(server.admin("PUT", "/schema/broken", {"type": 12}), 400)
    assert_error(server.admin("PUT", "/schema/broken", b"{not json"), 400)
    assert_error(server.request("GET", "/schema/broken"), 404)

    # a second PUT replaces the schema, at once in every server process (fresh connections
    # land on either worker)
    assert_ok(server.admin("PUT", "/schema/chat.v1", {"type": "object", "required": ["other"]}))
    for _ in range(6):
        assert_error(server.put("chat.v1", {"m4": {"msg": "hi"}}), 400)
    assert_ok(server.put("chat.v1", {"m4": {"other": 1}}))

    assert_error(server.request("DELETE", "/schema/chat.v1"), 401)
    assert_ok(server.admin("DELETE", "/schema/chat.v1"))
    assert "chat.v1" not in server.request("GET", "/admin/schemas").json()
    assert_error(server.request("GET", "/schema/chat.v1"), 404)
    assert_error(server.admin("DELETE", "/schema/chat.v1"), 404)
    # entities stay, and the database accepts anything again, in every server process
    r = server.get("chat.v1", "m1")
    assert r.status == 200 and r.json() == {"msg": "hi", "n": 3}, r
    for i in range(6):
        assert_ok(server.put("chat.v1", {f"m5-{i}": "anything"}))
