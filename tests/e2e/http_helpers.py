"""Assertions and calls shared by the tests/e2e/test_http_*.py modules (the REST contract)."""

from __future__ import annotations

import math
from typing import Any

from tests.e2e.http_client import Reply
from tests.e2e.servers import ServerProcess

MAX_LATENCY = 2.0  # seconds: "each answered correctly within a second or two"


def same_json(a: Any, b: Any) -> bool:
    """Deep equality that also keeps JSON types apart (1 vs 1.0 vs True, -0.0 vs 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return bool(a == b)


def assert_error(reply: Reply, *statuses: int, srv: ServerProcess | None = None) -> str:
    """``reply`` has one of ``statuses`` and the contract's ``{"error": "..."}`` body."""
    assert reply.status in statuses, reply
    message = reply.error()
    assert "Traceback" not in message, reply
    if srv is not None:
        assert str(srv.data_dir) not in message, reply
        assert str(srv.secrets_dir) not in message, reply
    return message


def assert_ok(reply: Reply) -> None:
    assert reply.status == 200, reply
    assert reply.json() == {"status": "ok"}, reply


def create_key(srv: ServerProcess, name: str, permissions: list[str], **extra: Any) -> dict[str, Any]:
    r = srv.admin("POST", "/api/keys", {"name": name, "permissions": permissions, **extra})
    assert r.status == 201, r
    doc = r.json()
    assert isinstance(doc, dict)
    return doc


def login(srv: ServerProcess, key: str) -> dict[str, Any]:
    r = srv.request("POST", "/api/login", {"key": key})
    assert r.status == 200, r
    doc = r.json()
    assert isinstance(doc, dict)
    return doc
