"""POST /api/login: admin key, API keys and dev mode; sessions that die with what issued them.

Through chalice.test.Client in strict mode, on every backend and mode (tests/conftest.py ``api``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.app_clients import ADMIN_KEY, Api, error_of


def test_login_with_admin_key(api: Api) -> None:
    r = api.post("/api/login", {"key": ADMIN_KEY}, token=None)
    assert r.status == 200
    body = r.json
    assert set(body) == {"token", "client_id", "expires_at", "permissions"}
    assert body["permissions"] == ["read", "write", "admin"]
    assert body["expires_at"].endswith("Z")
    assert api.get("/api/keys", token=body["token"]).status == 200


@pytest.mark.parametrize(
    "body",
    [{"key": "nope-nope-nope"}, {"key": "dk_0123456789abcdef_" + "A" * 43}, {"client_id": "x"}, {}],
)
def test_login_unknown_key_is_exactly_401(api: Api, body: dict[str, Any]) -> None:
    r = api.post("/api/login", body, token=None)
    assert r.status == 401
    error_of(r)


def test_login_bad_body_is_400(api: Api) -> None:
    assert api.post("/api/login", raw="{not json", token=None).status == 400
    assert api.post("/api/login", raw="[1]", token=None).status == 400


def test_dev_mode_login_by_client_id(configure: Any) -> None:
    api = configure(admin_key=None, dev_mode=True)
    r = api.post("/api/login", {"client_id": "x"}, token=None)
    assert r.status == 200
    assert r.json["client_id"] == "x" and r.json["permissions"] == ["read", "write"]
    token = r.json["token"]
    assert api.put("/entity/db", {"k": 1}, token=token).status == 200
    assert api.get("/entity/db?key=k", token=token).json == 1
    assert api.get("/api/keys", token=token).status == 403


def test_dev_tokens_die_when_dev_mode_ends(configure: Any) -> None:
    api = configure(admin_key=None, dev_mode=True)
    token = api.post("/api/login", {"client_id": "x"}, token=None).json["token"]
    api2 = configure()
    assert api2.get("/entity/db?key=k", token=token).status == 401


def test_admin_sessions_die_when_admin_key_changes(configure: Any) -> None:
    api = configure()
    token = api.login(ADMIN_KEY)
    api2 = configure(admin_key="another-admin-key-0123456789")
    assert api2.get("/api/keys", token=token).status == 401
