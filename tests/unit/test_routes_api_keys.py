"""The /api/keys routes: creating, listing, deleting and expiring API keys, and what each may do.

Through chalice.test.Client in strict mode, on every backend and mode (tests/conftest.py ``api``).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.app_clients import Api, error_of


def test_create_key_shape_and_secret_strength(api: Api) -> None:
    r = api.post("/api/keys", {"name": "ci", "permissions": ["read", "write"], "expires_in": "7d"})
    assert r.status == 201
    body = r.json
    assert set(body) == {"id", "name", "secret", "permissions", "expires_at", "created_at"}
    assert body["secret"].startswith("dk_")
    assert body["secret"][3:20] == body["id"] + "_"
    random_part = body["secret"][20:]
    assert len(random_part) >= 43  # 32 bytes base64url = 256 bits
    assert body["permissions"] == ["read", "write"]
    assert body["expires_at"] is not None
    no_expiry = api.create_key(["read"])
    assert no_expiry["expires_at"] is None


@pytest.mark.parametrize(
    "body",
    [
        {"permissions": ["read"]},
        {"name": "x"},
        {"name": "", "permissions": ["read"]},
        {"name": "x", "permissions": []},
        {"name": "x", "permissions": ["root"]},
        {"name": "x", "permissions": "read"},
        {"name": "x", "permissions": ["read"], "expires_in": "forever"},
        {"name": "x", "permissions": ["read"], "expires_in": "0h"},
        {"name": "x", "permissions": ["read"], "expires_in": 5},
    ],
)
def test_create_key_bad_body_is_400(api: Api, body: dict[str, Any]) -> None:
    r = api.post("/api/keys", body)
    assert r.status == 400
    error_of(r)


def test_key_routes_need_admin(api: Api) -> None:
    rw = api.create_key(["read", "write"])["secret"]
    assert api.get("/api/keys", token=None).status == 401
    assert api.get("/api/keys", token=rw).status == 403
    assert api.post("/api/keys", {"name": "x", "permissions": ["read"]}, token=rw).status == 403
    assert api.delete("/api/keys/0123456789abcdef", token=rw).status == 403
    admin_key = api.create_key(["admin"])["secret"]
    assert api.get("/api/keys", token=admin_key).status == 200


def test_list_keys_never_shows_secrets(api: Api) -> None:
    created = api.create_key(["read"])
    listing = api.get("/api/keys").json
    assert [k["id"] for k in listing] == [created["id"]]
    assert set(listing[0]) == {"id", "name", "permissions", "created_at", "expires_at", "enabled"}
    assert created["secret"] not in json.dumps(listing)


def test_secret_is_stored_only_as_hash(api: Api) -> None:
    created = api.create_key(["read"])
    objects = api.objects()
    assert any(k.startswith("_auth/") for k in objects)
    for data in objects.values():
        assert created["secret"].encode() not in data


def test_deleted_key_and_its_sessions_are_refused_at_once(api: Api) -> None:
    created = api.create_key(["read", "write"])
    token = api.login(created["secret"])
    assert api.put("/entity/db", {"k": 1}, token=token).status == 200
    r = api.delete(f"/api/keys/{created['id']}")
    assert r.status == 200 and r.json == {"status": "ok"}
    assert api.get("/entity/db?key=k", token=created["secret"]).status == 401
    assert api.get("/entity/db?key=k", token=token).status == 401
    assert api.post("/api/login", {"key": created["secret"]}, token=None).status == 401
    assert api.delete(f"/api/keys/{created['id']}").status == 404


def test_delete_unknown_or_invalid_key_id(api: Api) -> None:
    assert api.delete("/api/keys/0123456789abcdef").status == 404
    assert api.delete("/api/keys/..%2Fx").status == 400


def test_expired_api_key_is_401(api: Api) -> None:
    from datetime import UTC, datetime

    created = api.create_key(["read"], expires_in="1s")
    token = api.login(created["secret"])
    expires = datetime.strptime(created["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert api.get("/entity/db?key=k", token=created["secret"]).status == 404  # still valid
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.05)
    assert api.get("/entity/db?key=k", token=created["secret"]).status == 401
    assert api.get("/entity/db?key=k", token=token).status == 401


def test_session_carries_key_permissions(api: Api) -> None:
    ro = api.create_key(["read"])
    r = api.post("/api/login", {"key": ro["secret"]}, token=None)
    assert r.json["permissions"] == ["read"]
    token = r.json["token"]
    assert api.put("/entity/db", {"k": 1}, token=token).status == 403
    assert api.get("/entity/db?key=k", token=token).status == 404
