"""The REST contract (docs/api-contract.md), against the real ``deltadb serve`` over HTTP:
login, API keys and their permissions, expiry and deletion, and no secret stored in clear.
"""

from __future__ import annotations

import re
import secrets
import time

import pytest

from tests.e2e.http_helpers import assert_error, assert_ok, create_key, login
from tests.e2e.servers import ADMIN_KEY, ServerProcess

pytestmark = pytest.mark.e2e


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
