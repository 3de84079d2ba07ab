"""The REST contract (docs/api-contract.md), against the real ``deltadb serve`` over HTTP:
request bodies: the size limit, how bodies are read on a kept-alive connection,
and malformed or deeply nested JSON (a 4xx, never a 500).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.http_client import Reply
from tests.e2e.http_helpers import assert_error, assert_ok
from tests.e2e.servers import ADMIN_KEY, ServerProcess

pytestmark = pytest.mark.e2e


def test_oversized_body_is_refused_cleanly_and_keeps_the_connection(server: ServerProcess) -> None:
    conn = server.connection(timeout=20)
    try:
        big = b'{"k":"' + b"x" * (2 * 1024 * 1024) + b'"}'
        r = server.request("PUT", "/entity/big", big, credential=ADMIN_KEY, conn=conn)
        assert_error(r, 413, 400)
        assert r.headers.get("connection", "").lower() != "close", r.headers
        assert conn.sock is not None, "the client closed the connection: the server asked for it"
        local = conn.sock.getsockname()

        # the same keep-alive connection answers the next requests correctly
        r2 = server.request("GET", "/health", conn=conn)
        assert r2.status == 200, r2
        assert r2.json() == {"status": "ok"}
        assert conn.sock is not None and conn.sock.getsockname() == local, "a new connection was needed"

        r3 = server.request("PUT", "/entity/big", {"small": [1, 2, 3]}, credential=ADMIN_KEY, conn=conn)
        assert_ok(r3)
        r4 = server.request("GET", "/entity/big?key=small", credential=ADMIN_KEY, conn=conn)
        assert r4.status == 200 and r4.json() == [1, 2, 3], r4
        assert conn.sock is not None and conn.sock.getsockname() == local

        # chunked upload over the limit: same answer, same connection
        def chunks() -> Any:
            for _ in range(40):
                yield b"y" * 65536

        conn.request("PUT", "/entity/big", body=chunks(), headers=server.auth(), encode_chunked=True)
        resp = conn.getresponse()
        chunked = Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read(), 0.0)
        assert_error(chunked, 413, 400)
        r5 = server.request("GET", "/entity/big?key=small", credential=ADMIN_KEY, conn=conn)
        assert r5.status == 200 and r5.json() == [1, 2, 3], r5
        assert conn.sock is not None and conn.sock.getsockname() == local
    finally:
        conn.close()
    # the refused body was not stored
    assert_error(server.get("big", "k"), 404)


def test_bodies_are_read_exactly_when_announced(server: ServerProcess) -> None:
    """A request without Content-Length or Transfer-Encoding is answered without reading a body
    (local/asgi_plumbing.py); one with either is read whole; the connection stays in step."""
    conn = server.connection()
    try:

        def chunks() -> Any:
            yield b'{"c": '
            yield b"[1, 2]}"

        headers = {**server.auth(), "Content-Type": "application/json"}
        conn.request("PUT", "/entity/bodies", body=chunks(), headers=headers, encode_chunked=True)
        resp = conn.getresponse()
        assert resp.status == 200, resp.read()
        resp.read()
        assert conn.sock is not None
        local = conn.sock.getsockname()
        r = server.request("GET", "/entity/bodies?key=c", credential=ADMIN_KEY, conn=conn)
        assert r.status == 200 and r.json() == [1, 2], r
        r = server.request("GET", "/entity/bodies?key=c", b'{"x": 1}', credential=ADMIN_KEY, conn=conn)
        assert r.status == 200 and r.json() == [1, 2], r  # a GET's body is read and ignored
        assert_error(server.request("PUT", "/entity/bodies", b"", credential=ADMIN_KEY, conn=conn), 400)
        assert server.request("DELETE", "/entity/bodies?key=c", credential=ADMIN_KEY, conn=conn).status == 200
        assert_error(server.request("GET", "/entity/bodies?key=c", credential=ADMIN_KEY, conn=conn), 404)
        assert conn.sock is not None and conn.sock.getsockname() == local, "a new connection was needed"
    finally:
        conn.close()


def test_body_limit_boundary(server: ServerProcess) -> None:
    limit = 1024 * 1024
    prefix, suffix = b'{"edge":"', b'"}'
    exact = prefix + b"e" * (limit - len(prefix) - len(suffix)) + suffix
    assert len(exact) == limit
    assert_ok(server.request("PUT", "/entity/limits", exact, credential=ADMIN_KEY))
    r = server.get("limits", "edge")
    assert r.status == 200 and r.json() == "e" * (limit - len(prefix) - len(suffix))

    over = prefix + b"e" * (limit - len(prefix) - len(suffix) + 1) + suffix
    assert_error(server.request("PUT", "/entity/limits", over, credential=ADMIN_KEY), 413, 400)


def test_deeply_nested_json_is_400_never_500(server: ServerProcess) -> None:
    deep = b"[" * 1000 + b"]" * 1000
    deeper = b"[" * 100_000 + b"]" * 100_000
    cases = [
        ("PUT", "/entity/nested", b'{"k":' + deep + b"}"),
        ("PUT", "/entity/nested", b'{"k":' + deeper + b"}"),
        ("PUT", "/entity/nested", b'{"k":' + b'{"a":' * 1000 + b"1" + b"}" * 1000 + b"}"),
        ("PUT", "/entity/nested", deep),
        ("POST", "/api/login", b'{"key":' + deep + b"}"),
        ("POST", "/api/keys", b'{"name":"n","permissions":' + deep + b"}"),
        ("PUT", "/schema/nested", b'{"items":' + b'{"items":' * 1000 + b"{}" + b"}" * 1000 + b"}"),
        ("PUT", "/schema/nested", deep),
    ]
    for method, path, body in cases:
        r = server.request(method, path, body, credential=ADMIN_KEY)
        assert_error(r, 400, srv=server)
    assert_error(server.get("nested", "k"), 404)
    # and the server is still fine
    assert server.request("GET", "/health").status == 200


def test_malformed_bodies_are_400(server: ServerProcess) -> None:
    for body in (b"", b"nope", b"[1,2]", b"{}", b'"str"', b"\xff\xfe", b'{"k": NaN}', b'{"k": 1e400}', b'{"k":1'):
        assert_error(server.request("PUT", "/entity/malformed", body, credential=ADMIN_KEY), 400)
    assert_error(server.get("malformed", "k"), 404)
