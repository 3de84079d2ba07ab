"""PATCH /api/keys/{id}: disable, enable and change permissions without changing the secret."""

from __future__ import annotations

import pytest

from tests.conftest import Api


def test_disable_then_enable_a_key_and_its_sessions(api: Api) -> None:
    key = api.create_key(["read", "write"])
    secret, session = key["secret"], api.login(key["secret"])
    assert api.put("/entity/db", {"k": 1}, token=session).status == 200
    r = api.request("PATCH", f"/api/keys/{key['id']}", {"enabled": False})
    assert r.status == 200 and r.json["enabled"] is False and "secret" not in r.json and "secret_sha256" not in r.json
    for credential in (secret, session):
        assert api.get("/entity/db?key=k", token=credential).status == 401  # at once, sessions too
    assert api.post("/api/login", {"key": secret}, token=None).status == 401
    assert api.request("PATCH", f"/api/keys/{key['id']}", {"enabled": True}).json["enabled"] is True
    assert api.get("/entity/db?key=k", token=secret).status == 200  # the same secret again
    assert next(k for k in api.get("/api/keys").json if k["id"] == key["id"])["enabled"] is True


def test_changed_permissions_apply_to_the_key_and_its_sessions_at_once(api: Api) -> None:
    key = api.create_key(["read"])
    session = api.login(key["secret"])
    assert api.put("/entity/db", {"k": 1}, token=session).status == 403
    r = api.request("PATCH", f"/api/keys/{key['id']}", {"permissions": ["write", "read", "write"]})
    assert r.status == 200 and r.json["permissions"] == ["read", "write"]
    assert api.put("/entity/db", {"k": 1}, token=session).status == 200
    assert api.put("/entity/db", {"k": 2}, token=key["secret"]).status == 200
    api.request("PATCH", f"/api/keys/{key['id']}", {"permissions": ["read"]})
    assert api.put("/entity/db", {"k": 3}, token=session).status == 403


@pytest.mark.parametrize(
    "body",
    [
        {},
        [],
        {"enabled": "no"},
        {"permissions": []},
        {"permissions": ["root"]},
        {"name": "x"},
        {"enabled": True, "x": 1},
    ],
)
def test_bad_bodies_are_400_and_change_nothing(api: Api, body: object) -> None:
    key = api.create_key(["read"])
    record = next(k for k in api.get("/api/keys").json if k["id"] == key["id"])
    r = api.request("PATCH", f"/api/keys/{key['id']}", body)
    assert r.status == 400 and set(r.json) == {"error"}
    assert next(k for k in api.get("/api/keys").json if k["id"] == key["id"]) == record
    assert api.get("/api/me", token=key["secret"]).status == 200


def test_unknown_key_is_404_and_only_admins_may(api: Api) -> None:
    assert api.request("PATCH", "/api/keys/0123456789abcdef", {"enabled": False}).status == 404
    writer = api.create_key(["read", "write"])
    r = api.request("PATCH", f"/api/keys/{writer['id']}", {"permissions": ["admin"]}, token=writer["secret"])
    assert r.status == 403
