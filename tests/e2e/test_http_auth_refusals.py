"""The REST contract (docs/api-contract.md), against the real ``deltadb serve`` over HTTP:
made-up, missing or malformed credentials are each a prompt 401 and change nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.http_client import Reply
from tests.e2e.http_helpers import MAX_LATENCY, assert_error
from tests.e2e.servers import ADMIN_KEY, ServerProcess

pytestmark = pytest.mark.e2e


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
