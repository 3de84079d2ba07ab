"""The REST contract (/work/shared/api-contract.md) against the real ``deltadb serve`` over HTTP.

Paths are sent exactly as written (http.client does not normalise them), so encoded
forms such as ``%2F`` reach the server intact.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.http_client import Reply, q
from tests.e2e.servers import ADMIN_KEY, ServerFactory, ServerProcess

pytestmark = pytest.mark.e2e

MAX_LATENCY = 2.0  # seconds: "each answered correctly within a second or two"


# -- helpers -----------------------------------------------------------------------
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


def run_concurrently(n: int, fn: Any) -> list[Any]:
    """Run ``fn(i)`` for i in range(n) on n threads released together by a barrier."""
    barrier = threading.Barrier(n)

    def task(i: int) -> Any:
        barrier.wait(timeout=30)
        return fn(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(task, range(n)))


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


# -- health --------------------------------------------------------------------------
def test_health_reveals_nothing_else(server: ServerProcess) -> None:
    r = server.request("GET", "/health")
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {"status": "ok"}


# -- concurrency and load ------------------------------------------------------------
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


def test_thousand_made_up_tokens_are_each_401_promptly(server: ServerProcess) -> None:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    def fake_jwt(alg: str = "HS256") -> str:
        now = int(time.time())
        header = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
        payload = b64(
            json.dumps(
                {
                    "iss": "deltadb",
                    "aud": "deltadb-api",
                    "sub": "admin",
                    "iat": now,
                    "exp": now + 3600,
                    "perms": ["admin", "read", "write"],
                    "adm": secrets.token_hex(8),
                    "key_id": secrets.token_hex(8),
                }
            ).encode()
        )
        if alg == "none":
            return f"{header}.{payload}."
        sig = hmac.new(secrets.token_bytes(32), f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{b64(sig)}"

    makers: list[Callable[[], str]] = [
        lambda: secrets.token_urlsafe(secrets.randbelow(64) + 1),
        lambda: secrets.token_hex(32),
        fake_jwt,
        lambda: fake_jwt("none"),
        lambda: f"{b64(secrets.token_bytes(20))}.{b64(secrets.token_bytes(40))}.{b64(secrets.token_bytes(32))}",
        lambda: f"dk_{secrets.token_hex(8)}_{secrets.token_urlsafe(32)}",  # well-formed, unknown id
        lambda: f"dk_{secrets.token_urlsafe(24)}",  # malformed dk_
        lambda: "ak_" + secrets.token_urlsafe(32),
        lambda: ADMIN_KEY + secrets.token_hex(1),
        lambda: ADMIN_KEY[:-1],
        lambda: "tok\xe9n." + secrets.token_hex(4) + ".x",  # latin-1 byte in the header
    ]
    routes: list[tuple[str, str, Any]] = [
        ("GET", "/entity/storm?key=k", None),
        ("PUT", "/entity/storm", {"k": 1}),
        ("DELETE", "/entity/storm?key=k", None),
        ("GET", "/api/keys", None),
        ("POST", "/api/keys", {"name": "storm", "permissions": ["admin"]}),
        ("DELETE", "/api/keys/0123456789abcdef", None),
        ("GET", "/admin/workers", None),
        ("PUT", "/schema/storm", {"type": "object"}),
        ("DELETE", "/schema/storm", None),
    ]
    jobs = [(makers[i % len(makers)](), routes[i % len(routes)]) for i in range(1000)]

    def send(job: tuple[str, tuple[str, str, Any]]) -> tuple[str, Reply]:
        token, (method, path, body) = job
        return token, server.request(method, path, body, credential=token)

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(send, jobs))
    total = time.monotonic() - t0

    wrong = [(tok, r) for tok, r in results if r.status != 401]
    assert not wrong, f"{len(wrong)} made-up tokens not answered 401, e.g. {wrong[:5]}"
    for _tok, r in results:
        assert_error(r, 401)
    assert total < 30, f"1000 rejected requests took {total:.1f}s"
    assert max(r.elapsed for _t, r in results) <= MAX_LATENCY
    # nothing got through
    assert "storm" not in server.request("GET", "/admin/schemas").json()
    assert all(k["name"] != "storm" for k in server.admin("GET", "/api/keys").json())


def test_missing_or_malformed_authorization_is_401(server: ServerProcess) -> None:
    cases: list[dict[str, str]] = [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": f"Basic {base64.b64encode(f'admin:{ADMIN_KEY}'.encode()).decode()}"},
        {"Authorization": ADMIN_KEY},  # no scheme
        {"Authorization": f"Token {ADMIN_KEY}"},
    ]
    for headers in cases:
        for method, path, body in (
            ("GET", "/entity/db?key=k", None),
            ("PUT", "/entity/db", {"k": 1}),
            ("PUT", "/schema/noauth", {"type": "object"}),
            ("DELETE", "/schema/noauth", None),
            ("GET", "/admin/workers", None),
            ("GET", "/api/keys", None),
        ):
            r = server.request(method, path, body, headers=headers)
            assert_error(r, 401)
            assert r.status == 401, (headers, method, path, r)


# -- body limits and parser limits -----------------------------------------------------
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


# -- names and traversal ---------------------------------------------------------------
def test_encoded_traversal_is_rejected(server: ServerProcess) -> None:
    good = {"k": 1}
    cases: list[tuple[str, str, Any]] = [
        ("PUT", "/entity/a%2Fb", good),
        ("PUT", "/entity/a%2fb", good),
        ("PUT", "/entity/%2E%2E", good),
        ("PUT", "/entity/..%2F..%2Fetc", good),
        ("PUT", "/entity/a%5Cb", good),
        ("PUT", "/entity/db", {"..%2F..%2Fetc%2Fpasswd": 1}),
        ("PUT", "/entity/db", {"../../etc/passwd": 1}),
        ("PUT", "/entity/db", {"a/b": 1}),
        ("PUT", "/entity/db", {"a\\b": 1}),
        ("PUT", "/entity/db", {"..": 1}),
        ("PUT", "/entity/db", {"": 1}),
        ("PUT", "/entity/db", {"ok": 1, "../evil": 2}),
        ("GET", "/schema/schema%2F..%2Fevil", None),
        ("PUT", "/schema/schema%2F..%2Fevil", {"type": "object"}),
        ("DELETE", "/schema/schema%2F..%2Fevil", None),
        ("GET", "/schema/%2E%2E", None),
        ("GET", "/entity/db?key=..%2F..%2Fetc%2Fpasswd", None),
        ("GET", "/entity/db?key=../../etc/passwd", None),
        ("GET", "/entity/db?key=a%5Cb", None),
        ("GET", "/entity/db?key=", None),
        ("GET", "/entity/db", None),
        ("DELETE", "/entity/db?key=..%2Fx", None),
        ("GET", "/entity/a%2Fb?key=k", None),
        ("DELETE", "/api/keys/..%2F..%2Fkeys", None),
    ]
    for method, path, body in cases:
        r = server.request(method, path, body, credential=ADMIN_KEY)
        assert r.status == 400, (method, path, body, r)
        assert_error(r, 400, srv=server)
    # the partially valid multi-entity body stored nothing
    assert_error(server.get("db", "ok"), 404)
    # nothing escaped the data folder
    root = server.data_dir.parent
    leaked = [p for p in root.rglob("*") if p.name in ("passwd", "evil", "etc") or "evil" in p.name]
    assert not leaked, leaked


def test_unknown_paths_are_404_json(server: ServerProcess) -> None:
    paths = [  # (/ is the web console's page: tests/unit/test_console_routes.py)
        "/nope",
        "/index.html",
        "/console",
        "/console/",
        "/console/app.js/x",
        "/entity",
        "/entity/",
        "/entity/db/extra",
        "/entity//x",
        "/api",
        "/api/keys/x/y",
        "/schema",
        "/schema/",
        "/admin",
        "/admin/schemas/x",
        "/health/x",
        "/HEALTH",
        "/../etc/passwd",
        "/%2e%2e/etc/passwd",
        "/static/index.html",
    ]
    for path in paths:
        for method in ("GET", "POST"):
            r = server.request(method, path, {"a": 1} if method == "POST" else None, credential=ADMIN_KEY)
            assert r.status == 404, (method, path, r)
            assert_error(r, 404)


def test_wrong_methods_are_refused(server: ServerProcess) -> None:
    entity_cases = [
        ("OPTIONS", "/entity/db", None, {"Origin": "https://evil.example", "Access-Control-Request-Method": "PUT"}),
        ("OPTIONS", "/entity/db", None, {}),
        ("PATCH", "/entity/db", {"k": 1}, {}),
        ("TRACE", "/entity/db", None, {}),
        ("DELETE", "/entity/db", None, {}),
        ("POST", "/entity/db", {"k": 1}, {}),
    ]
    for method, path, body, headers in entity_cases:
        for cred in (ADMIN_KEY, None):
            r = server.request(method, path, body, credential=cred, headers=headers)
            if cred is None and method == "DELETE":
                # auth is checked first on a known route+method: 401 is also a clean refusal
                assert r.status in (400, 401, 405), (method, r)
            else:
                assert r.status in (400, 405), (method, path, cred, r)
            assert_error(r, r.status)
            assert "access-control-allow-origin" not in r.headers, r.headers
            assert "access-control-allow-methods" not in r.headers, r.headers

    for method in ("POST", "DELETE", "PATCH", "PUT", "OPTIONS"):
        r = server.request(method, "/health", b"{}" if method in ("POST", "PUT", "PATCH") else None)
        assert 400 <= r.status < 500, (method, r)
        assert_error(r, r.status)

    for method, path in (("OPTIONS", "/api/login"), ("OPTIONS", "/schema/x"), ("GET", "/api/login")):
        r = server.request(method, path, credential=ADMIN_KEY)
        assert 400 <= r.status < 500, (method, path, r)
        assert_error(r, r.status)


NAMES = [
    "alice@example.com",
    "session_001",
    "Chat_id",
    "with space",
    "ünïcødé-日本",
    "100%",
    ".hidden",
    "a.b",
    "a+b",
    "a&b=c",
    "#frag",
    "?q",
    "%2F",  # a literal percent sequence (sent double-encoded), not a slash
    "emoji-🙂",
    "x" * 200,
]

VALUE: dict[str, Any] = {
    "int": 1,
    "neg": -17,
    "zero": 0,
    "float": 1.5,
    "float_int": 1.0,
    "neg_zero": -0.0,
    "tiny": 5e-324,
    "huge": 1.7976931348623157e308,
    "bigint": 123456789012345678901234567890,
    "tenth": 0.1,
    "bool": [True, False],
    "null": None,
    "text": 'quotes " and \\ backslash\n\ttab, nul \u0000 end',
    "unicode": "ünïcødé 日本語 🙂 \u202eRTL e\u0301",
    "empty": {"obj": {}, "list": [], "str": ""},
    "nested": {"a": [{"b": [{"c": [1, [2, [3, [4]]]]}]}]},
}


@pytest.mark.parametrize("name", NAMES, ids=[n.encode("unicode_escape").decode()[:30] for n in NAMES])
def test_names_round_trip(server: ServerProcess, name: str) -> None:
    # the name as entity key in a plain database, and as database name itself
    for db in ("names", name):
        value = {**VALUE, "name": name, "db": db}
        assert_ok(server.put(db, {name: value}))
        r = server.get(db, name)
        assert r.status == 200, (db, name, r)
        assert r.headers["content-type"].startswith("application/json")
        assert same_json(r.json(), value), (db, name, r)
    # delete round-trips too
    assert_ok(server.request("DELETE", f"/entity/{q(name)}?key={q(name)}", credential=ADMIN_KEY))
    assert_error(server.get(name, name), 404)
    assert_error(server.request("DELETE", f"/entity/{q(name)}?key={q(name)}", credential=ADMIN_KEY), 404)
    # the other copy is untouched
    r = server.get("names", name)
    assert r.status == 200 and r.json()["db"] == "names", r


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


@pytest.mark.parametrize("db", ["d" * 250, "日" * 83, "%" * 83], ids=["250-bytes", "249-bytes-cjk", "83-percent-signs"])
def test_longest_database_names_work_when_schemas_exist(server: ServerProcess, db: str) -> None:
    assert_ok(server.admin("PUT", "/schema/long-name-anchor", {"type": "object"}))  # templates/ exists
    assert_ok(server.admin("PUT", f"/schema/{q(db)}", {"type": "object"}))  # and a schema of that name
    r = server.put(db, {"k": {"v": 1}})
    assert r.status == 200, r
    r = server.get(db, "k")
    assert r.status == 200 and r.json() == {"v": 1}, r
    assert r.status == 200 and server.request("GET", f"/schema/{q(db)}").status == 200


def test_long_schema_ids_are_clean_4xx(server: ServerProcess) -> None:
    assert_ok(server.admin("PUT", "/schema/long-name-anchor", {"type": "object"}))  # templates/ exists
    for sid in ("s" * 251, "s" * 255):
        assert_error(server.request("GET", f"/schema/{sid}"), 400)
        assert_error(server.admin("PUT", f"/schema/{sid}", {"type": "object"}), 400)
        assert_error(server.admin("DELETE", f"/schema/{sid}"), 400)


def test_names_too_long_are_400(server: ServerProcess) -> None:
    for name in ("x" * 251, "x" * 256, "日" * 84, "%" * 84):
        assert_error(server.put("db", {name: 1}), 400)
        assert_error(server.put(name, {"k": 1}), 400)
        assert_error(server.get("db", name), 400)
        assert_error(server.request("GET", f"/schema/{q(name)}"), 400)


def test_invalid_utf8_in_key_query_is_400(server: ServerProcess) -> None:
    assert_error(server.request("GET", "/entity/%FF?key=k", credential=ADMIN_KEY), 400)  # path: 400
    assert_ok(server.put("utf8q", {"\ufffd": "replacement character"}))
    r = server.request("GET", "/entity/utf8q?key=%FF", credential=ADMIN_KEY)
    assert r.status == 400, f"?key=%FF answered {r}: it aliased the entity named U+FFFD"
    r = server.request("DELETE", "/entity/utf8q?key=%FF", credential=ADMIN_KEY)
    assert r.status == 400, r
    assert server.get("utf8q", "\ufffd").json() == "replacement character"


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


# -- auth ------------------------------------------------------------------------------
def test_login_with_admin_key(server: ServerProcess) -> None:
    doc = login(server, ADMIN_KEY)
    assert set(doc) >= {"token", "client_id", "expires_at", "permissions"}, doc
    assert doc["permissions"] == ["read", "write", "admin"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["expires_at"]), doc
    token = doc["token"]
    assert token != ADMIN_KEY and ADMIN_KEY not in token
    assert server.request("GET", "/api/keys", credential=token).status == 200
    assert_ok(server.put("login", {"k": {"v": 1}}, credential=token))
    assert server.get("login", "k", credential=token).json() == {"v": 1}
    r = server.request("GET", "/admin/workers", credential=token)
    assert r.status == 200, r
    workers = r.json()
    assert isinstance(workers, list)
    for w in workers:
        assert set(w) >= {"worker_id", "status", "key_id", "last_seen", "tags"}, w
    assert_error(server.request("GET", "/admin/workers"), 401)

    for body in ({"key": "wrong-key-0123456789"}, {"key": "dk_" + "0" * 16 + "_" + "A" * 43}, {"key": ADMIN_KEY + "x"}):
        r = server.request("POST", "/api/login", body)
        assert r.status == 401, (body, r)
        assert_error(r, 401)
    # no dev mode: a client_id alone gives nothing
    assert_error(server.request("POST", "/api/login", {"client_id": "x"}), 401)
    # a tampered token is refused
    assert_error(
        server.request("GET", "/api/keys", credential=token[:-2] + ("AA" if token[-2:] != "AA" else "BB")), 401
    )


def test_api_keys_and_permissions(server: ServerProcess) -> None:
    assert_ok(server.put("perm", {"k": {"v": "seed"}}))

    # validation of POST /api/keys
    for body in (
        {"permissions": ["read"]},
        {"name": "x"},
        {"name": "x", "permissions": ["root"]},
        {"name": "x", "permissions": []},
    ):
        assert_error(server.admin("POST", "/api/keys", body), 400)
    assert_error(server.request("POST", "/api/keys", {"name": "x", "permissions": ["read"]}), 401)

    ro = create_key(server, "reader", ["read"])
    assert set(ro) == {"id", "name", "secret", "permissions", "expires_at", "created_at"}, ro
    assert ro["secret"].startswith("dk_") and ro["name"] == "reader"
    assert ro["permissions"] == ["read"] and ro["expires_at"] is None
    rw = create_key(server, "writer", ["write"])
    adm = create_key(server, "keyadmin", ["admin"], expires_in="24h")
    assert isinstance(adm["expires_at"], str) and adm["expires_at"].endswith("Z"), adm

    listing = server.admin("GET", "/api/keys")
    assert listing.status == 200, listing
    for k in (ro, rw, adm):
        assert k["secret"].encode() not in listing.body
        entry = next(e for e in listing.json() if e["id"] == k["id"])
        assert set(entry) == {"id", "name", "permissions", "created_at", "expires_at", "enabled"}, entry
        assert entry["enabled"] is True and entry["name"] == k["name"]

    # read-only key: GET yes; writes and admin no (403, not 401)
    assert server.get("perm", "k", credential=ro["secret"]).json() == {"v": "seed"}
    assert_error(server.put("perm", {"k": {"v": "ro"}}, credential=ro["secret"]), 403)
    assert_error(server.request("DELETE", "/entity/perm?key=k", credential=ro["secret"]), 403)
    assert_error(server.request("PUT", "/schema/perm", {"type": "object"}, credential=ro["secret"]), 403)
    assert_error(server.request("GET", "/api/keys", credential=ro["secret"]), 403)
    assert_error(server.request("GET", "/admin/workers", credential=ro["secret"]), 403)
    assert server.get("perm", "k").json() == {"v": "seed"}

    # its session token carries the same permissions
    session = login(server, ro["secret"])
    assert session["permissions"] == ["read"] and session["client_id"] == "reader", session
    token = session["token"]
    assert server.get("perm", "k", credential=token).json() == {"v": "seed"}
    assert_error(server.put("perm", {"k": {"v": "ro"}}, credential=token), 403)
    assert_error(server.request("POST", "/api/keys", {"name": "n", "permissions": ["admin"]}, credential=token), 403)

    # write-only key
    assert_ok(server.put("perm", {"w": {"by": "writer"}}, credential=rw["secret"]))
    assert_error(server.get("perm", "w", credential=rw["secret"]), 403)
    assert_error(server.request("GET", "/api/keys", credential=rw["secret"]), 403)
    wtoken = login(server, rw["secret"])
    assert wtoken["permissions"] == ["write"]

    # admin-permission API key (and its session) manages keys
    atoken = login(server, adm["secret"])["token"]
    assert server.request("GET", "/api/keys", credential=adm["secret"]).status == 200
    tmp = server.request("POST", "/api/keys", {"name": "tmp", "permissions": ["read"]}, credential=atoken)
    assert tmp.status == 201, tmp
    assert_ok(server.request("DELETE", f"/api/keys/{tmp.json()['id']}", credential=atoken))

    # deleting a key rejects its secret and every session made from it at once
    before = [server.get("perm", "k", credential=c) for c in (ro["secret"], token)]
    assert [r.status for r in before] == [200, 200]
    assert_ok(server.admin("DELETE", f"/api/keys/{ro['id']}"))
    for _ in range(6):  # several fresh connections: both server processes see it
        assert_error(server.get("perm", "k", credential=ro["secret"]), 401)
        assert_error(server.get("perm", "k", credential=token), 401)
    assert_error(server.request("POST", "/api/login", {"key": ro["secret"]}), 401)
    assert all(e["id"] != ro["id"] for e in server.admin("GET", "/api/keys").json())
    assert_error(server.admin("DELETE", f"/api/keys/{ro['id']}"), 404)
    assert_error(server.admin("DELETE", "/api/keys/0123456789abcdef"), 404)
    # the other keys still work
    assert_ok(server.put("perm", {"w2": 2}, credential=wtoken["token"]))


def test_expired_api_key_and_its_sessions_are_401(server: ServerProcess) -> None:
    key = create_key(server, "short-lived", ["read"], expires_in="2s")
    assert isinstance(key["expires_at"], str), key
    assert_ok(server.put("expiry", {"k": 1}))
    session = login(server, key["secret"])
    assert session["expires_at"] <= key["expires_at"], (session, key)  # a session never outlives its key
    assert server.get("expiry", "k", credential=key["secret"]).status == 200
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and server.get("expiry", "k", credential=key["secret"]).status == 200:
        time.sleep(0.2)
    assert_error(server.get("expiry", "k", credential=key["secret"]), 401)
    assert_error(server.get("expiry", "k", credential=session["token"]), 401)
    assert_error(server.request("POST", "/api/login", {"key": key["secret"]}), 401)
    listed = next(e for e in server.admin("GET", "/api/keys").json() if e["id"] == key["id"])
    assert listed["expires_at"] == key["expires_at"], listed


def test_no_secrets_in_clear_in_storage(server: ServerProcess) -> None:
    key = create_key(server, "clear-check", ["read"])
    token = login(server, key["secret"])["token"]
    marker = f"CLEAR-CHECK-{secrets.token_hex(8)}"
    assert_ok(server.put("clear", {"k": {"marker": marker}}))
    needles = [key["secret"].encode(), ADMIN_KEY.encode(), token.encode(), marker.encode()]
    for path in server.files():
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"{needle[:12]!r}... in clear in {path}"
    for path in (p for p in server.secrets_dir.rglob("*") if p.is_file()):
        data = path.read_bytes()
        assert ADMIN_KEY.encode() not in data and key["secret"].encode() not in data, path


# -- processes: restart, first start ---------------------------------------------------
def test_persistence_across_restart(server_factory: ServerFactory) -> None:
    srv = server_factory()
    values = {"a": {"n": 1, "s": "ü"}, "b": [1.0, 2, None], "alice@example.com": "x" * 10_000}
    assert_ok(srv.put("persist", values))
    assert_ok(srv.admin("PUT", "/schema/persist", {"type": ["object", "array", "string"]}))
    key = create_key(srv, "survivor", ["read", "write"])
    token = login(srv, key["secret"])["token"]
    admin_token = login(srv, ADMIN_KEY)["token"]

    assert srv.stop() is not None
    assert not srv.running
    srv.start()

    for k, v in values.items():
        r = srv.get("persist", k)
        assert r.status == 200 and same_json(r.json(), v), (k, r)
    assert "persist" in srv.request("GET", "/admin/schemas").json()
    assert_error(srv.put("persist", {"c": 5}), 400)  # the schema is still enforced
    assert srv.get("persist", "a", credential=key["secret"]).status == 200
    assert srv.get("persist", "a", credential=token).status == 200  # sessions survive a restart
    assert srv.request("GET", "/api/keys", credential=admin_token).status == 200
    assert_ok(srv.put("persist", {"a": {"n": 2}}, credential=token))
    assert srv.get("persist", "a").json() == {"n": 2}

    # restart with a new admin key: the old key and its sessions stop working, data stays
    srv.stop()
    old_key, srv.admin_key = ADMIN_KEY, "e2e-rotated-admin-key-9876543210"
    srv.start()
    assert_error(srv.request("GET", "/api/keys", credential=old_key), 401)
    assert_error(srv.request("GET", "/api/keys", credential=admin_token), 401)
    assert_error(srv.request("POST", "/api/login", {"key": old_key}), 401)
    assert srv.admin("GET", "/api/keys").status == 200
    assert srv.get("persist", "a").json() == {"n": 2}
    assert srv.get("persist", "b", credential=key["secret"]).json() == [1.0, 2, None]


def test_generated_admin_key_is_printed_once_and_survives_restart(server_factory: ServerFactory) -> None:
    srv = server_factory(admin_key=None)
    first = srv.stdout() + srv.stderr()
    found = re.findall(r"ak_[A-Za-z0-9_\-]+", first)
    assert len(found) == 1, srv.output()  # printed once, by one process
    admin_key = found[0]
    assert len(admin_key) >= 16
    assert "DEV MODE" not in first

    doc = login(srv, admin_key)
    assert doc["permissions"] == ["read", "write", "admin"]
    assert srv.request("GET", "/api/keys", credential=admin_key).status == 200
    assert_error(srv.request("GET", "/api/keys", credential="ak_" + secrets.token_urlsafe(32)), 401)
    assert_ok(srv.put("gen", {"k": 1}, credential=admin_key))
    # only a hash of it is kept
    for path in [*srv.files(), *(p for p in srv.secrets_dir.rglob("*") if p.is_file())]:
        assert admin_key.encode() not in path.read_bytes(), path

    srv.stop()
    srv.start()
    second = srv.stdout() + srv.stderr()
    assert "ak_" not in second, srv.output()
    assert login(srv, admin_key)["permissions"] == ["read", "write", "admin"]
    assert srv.get("gen", "k", credential=admin_key).json() == 1
    assert_error(srv.request("GET", "/api/keys", credential=ADMIN_KEY), 401)


def test_stop_leaves_no_process_behind(server_factory: ServerFactory) -> None:
    srv = server_factory()
    assert srv.proc is not None
    pgid = srv.proc.pid
    assert srv.request("GET", "/health").status == 200
    srv.stop()
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                members.append(entry.name)
    assert not members, f"processes of the server group still running: {members}"
