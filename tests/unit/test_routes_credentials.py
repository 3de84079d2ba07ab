"""Credentials on any route: malformed, expired or forged Authorization headers are a 401.

Through chalice.test.Client in strict mode, on every backend and mode (tests/conftest.py ``api``).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.app_clients import Api, error_of


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer ", "Basic abc", "Bearer made-up", "Bearer a.b.c", "Bearer dk_nothing", "bearer x.y"],
)
def test_bad_credentials_are_401(api: Api, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    r = api.request("GET", "/entity/db?key=k", token=None, headers=headers)
    assert r.status == 401
    error_of(r)


def test_expired_session_is_401(configure: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from chalicelib.auth.sessions import SessionClaims

    api = configure()
    sessions = api.runtime.services.auth.sessions
    claims = SessionClaims(
        "admin", frozenset({"read", "write", "admin"}), None, api.runtime.services.auth.admin.fingerprint, False
    )  # type: ignore[union-attr]
    token, _ = sessions.issue(claims, datetime.now(UTC) - timedelta(days=2))
    r = api.get("/entity/db?key=k", token=token)
    assert r.status == 401 and "expired" in error_of(r)


def test_token_signed_with_another_key_or_alg_none_is_401(api: Api) -> None:
    import jwt

    payload = {"iss": "deltadb", "aud": "deltadb-api", "sub": "admin", "iat": int(time.time()),
               "exp": int(time.time()) + 60, "perms": ["admin"]}  # fmt: skip
    forged = jwt.encode(payload, b"x" * 32, algorithm="HS256")
    assert api.get("/api/keys", token=forged).status == 401
    unsigned = jwt.encode(payload, None, algorithm="none")  # type: ignore[arg-type]
    assert api.get("/api/keys", token=unsigned).status == 401
