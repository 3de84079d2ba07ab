"""Every route, status code and error rule of the contract, through chalice.test.Client.

The handlers are invoked in-process in strict mode (events and results round-trip
through JSON, as over a real Lambda hop) against a real filesystem data dir.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.conftest import ADMIN_KEY, Api

DOC = {"messages": [{"role": "user", "content": "Hello ✓ 日本"}], "n": 12345678901234567890, "f": 0.1, "z": None}


def error_of(r: Any) -> str:
    body = r.json
    assert set(body) == {"error"}, body
    assert isinstance(body["error"], str) and body["error"]
    return str(body["error"])


# -- health ----------------------------------------------------------------------
def test_health_is_public_and_minimal(api: Api) -> None:
    r = api.get("/health", token=None)
    assert r.status == 200 and r.json == {"status": "ok"}


@pytest.mark.parametrize("method", ["POST", "DELETE", "PATCH", "OPTIONS"])
def test_health_other_methods_are_4xx_json(api: Api, method: str) -> None:
    r = api.request(method, "/health", token=None)
    assert 400 <= r.status < 500
    error_of(r)


# -- login -----------------------------------------------------------------------
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


# -- credentials -----------------------------------------------------------------
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


# -- API keys --------------------------------------------------------------------
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


# -- entities --------------------------------------------------------------------
def test_put_get_delete_roundtrip(api: Api) -> None:
    r = api.put("/entity/chat", {"session_001": DOC})
    assert r.status == 200 and r.json == {"status": "ok"}
    got = api.get("/entity/chat?key=session_001")
    assert got.status == 200 and got.json == DOC
    assert got.headers["Content-Type"] == "application/json"
    r = api.delete("/entity/chat?key=session_001")
    assert r.status == 200 and r.json == {"status": "ok"}
    assert api.get("/entity/chat?key=session_001").status == 404
    assert api.delete("/entity/chat?key=session_001").status == 404


def test_multi_entity_put(api: Api) -> None:
    body = {f"k{i}": {"i": i} for i in range(20)}
    assert api.put("/entity/db", body).status == 200
    for k, v in body.items():
        assert api.get(f"/entity/db?key={k}").json == v


@pytest.mark.parametrize("content_type", ["application/octet-stream", "image/png", "text/plain", None])
def test_json_body_is_accepted_whatever_its_content_type(api: Api, content_type: str | None) -> None:
    """Go-era clients send any Content-Type; no media type is binary to this API (none is base64-encoded)."""
    headers = {"Content-Type": content_type} if content_type else {}
    r = api.request("PUT", "/entity/db", raw='{"k": {"v": 1}}', headers=headers)
    assert r.status == 200, r.raw
    got = api.get("/entity/db?key=k")
    assert got.json == {"v": 1} and got.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "value",
    [
        0,
        -1,
        2**70,
        1.5e-300,
        3.141592653589793,
        "",
        "ünïcødé 日本 🎉",
        "\ud800",
        True,
        None,
        [],
        {},
        [[[[]]]],
        {"a": {"b": {"c": [1, "2", 3.0]}}},
    ],
)
def test_any_json_value_roundtrips(api: Api, value: Any) -> None:
    assert api.put("/entity/db", {"v": value}).status == 200
    assert api.get("/entity/db?key=v").json == value


@pytest.mark.parametrize(
    "key",
    ["alice@example.com", "session_001", "Chat_id", "with space", "ünïcødé-日本", "100%", "%2F", ".hidden", "a.b", "."],
)
def test_names_roundtrip(api: Api, key: str) -> None:
    from urllib.parse import quote

    assert api.put("/entity/db", {key: {"k": key}}).status == 200
    r = api.get(f"/entity/db?key={quote(key, safe='')}")
    assert r.status == 200 and r.json == {"k": key}
    assert api.put(f"/entity/{quote('db ' + key, safe='')}", {"x": 1}).status == 200


@pytest.mark.parametrize("raw", ["not json", "[1,2]", "{}", '"str"', "1", "", "{\"a\": NaN}", '{"a": 1e999}',
                                 "\xff\xfe", '{"a": 1'])  # fmt: skip
def test_put_bad_body_is_400_and_stores_nothing(api: Api, raw: str) -> None:
    r = api.put("/entity/db", raw=raw)
    assert r.status == 400
    error_of(r)
    assert api.objects() == {}


@pytest.mark.parametrize("key", ["../etc", "a/b", "a\\b", "..", "..%2F..%2Fetc%2Fpasswd", ""])
def test_invalid_keys_in_body_are_400_and_nothing_is_stored(api: Api, key: str) -> None:
    r = api.put("/entity/db", {"good": 1, key: 2})
    assert r.status == 400
    error_of(r)
    assert api.get("/entity/db?key=good").status == 404


@pytest.mark.parametrize("path", ["/entity/a%2Fb", "/entity/..", "/entity/%2E%2E", "/entity/a%5Cb", "/entity/%FF"])
def test_invalid_db_names_are_400(api: Api, path: str) -> None:
    assert api.put(path, {"k": 1}).status == 400
    assert api.get(path + "?key=k").status == 400


@pytest.mark.parametrize("query", ["?key=..%2F..%2Fetc%2Fpasswd", "?key=a%2Fb", "?key=", "?key=..", "?key=a%5Cb"])
def test_invalid_query_keys_are_400(api: Api, query: str) -> None:
    assert api.get("/entity/db" + query).status == 400
    assert api.delete("/entity/db" + query).status == 400


def test_missing_key_parameter_is_400(api: Api) -> None:
    assert api.get("/entity/db").status == 400
    assert api.delete("/entity/db").status == 400


@pytest.mark.parametrize("method", ["PATCH", "OPTIONS", "POST"])
def test_other_methods_on_entity_are_405(api: Api, method: str) -> None:
    r = api.request(method, "/entity/db")
    assert r.status == 405
    error_of(r)


def test_entity_permissions(api: Api) -> None:
    ro = api.create_key(["read"])["secret"]
    wo = api.create_key(["write"])["secret"]
    assert api.put("/entity/db", {"k": 1}, token=ro).status == 403
    assert api.delete("/entity/db?key=k", token=ro).status == 403
    assert api.put("/entity/db", {"k": 1}, token=wo).status == 200
    assert api.get("/entity/db?key=k", token=wo).status == 403
    assert api.get("/entity/db?key=k", token=ro).json == 1
    assert api.put("/entity/db", {"k": 1}, token=None).status == 401


def test_deeply_nested_body_is_400(api: Api) -> None:
    r = api.put("/entity/db", raw='{"k":' + "[" * 1000 + "]" * 1000 + "}")
    assert r.status == 400
    error_of(r)
    assert api.put("/entity/db", raw="[" * 100000).status == 400


def test_oversized_body_is_413(configure: Any) -> None:
    api = configure(max_body_bytes=4096)
    r = api.put("/entity/db", {"k": "x" * 5000})
    assert r.status == 413
    error_of(r)


def test_last_write_wins(api: Api) -> None:
    api.put("/entity/db", {"k": 1})
    api.put("/entity/db", {"k": {"v": 2}})
    assert api.get("/entity/db?key=k").json == {"v": 2}


# -- conditional requests (ETag) ---------------------------------------------------
def test_etag_conditions(api: Api) -> None:
    r = api.put("/entity/db", {"k": 1})
    etag = r.headers["ETag"]
    g = api.get("/entity/db?key=k")
    assert g.headers["ETag"] == etag
    assert api.get("/entity/db?key=k", headers={"If-None-Match": etag}).status == 304
    r2 = api.put("/entity/db", {"k": 2}, headers={"If-Match": etag})
    assert r2.status == 200 and r2.headers["ETag"] != etag
    stale = api.put("/entity/db", {"k": 3}, headers={"If-Match": etag})
    assert stale.status == 412
    error_of(stale)
    assert api.get("/entity/db?key=k").json == 2
    assert api.put("/entity/db", {"k": 4}, headers={"If-None-Match": "*"}).status == 412
    assert api.put("/entity/db", {"new": 4}, headers={"If-None-Match": "*"}).status == 200
    assert api.delete("/entity/db?key=k", headers={"If-Match": etag}).status == 412
    assert api.delete("/entity/db?key=k", headers={"If-Match": r2.headers["ETag"]}).status == 200


# -- schemas ---------------------------------------------------------------------
CHAT_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {"messages": {"type": "array", "items": {"type": "object", "required": ["role"]}}},
    "required": ["messages"],
}


def test_schema_lifecycle(api: Api) -> None:
    assert api.get("/admin/schemas", token=None).json == []
    assert api.get("/schema/chat.v1", token=None).status == 404
    r = api.put("/schema/chat.v1", CHAT_SCHEMA)
    assert r.status == 200 and r.json == {"status": "ok"}
    assert api.get("/admin/schemas", token=None).json == ["chat.v1"]
    assert api.get("/schema/chat.v1", token=None).json == CHAT_SCHEMA
    assert api.put("/schema/chat.v1", {**CHAT_SCHEMA, "required": []}).status == 200
    assert api.get("/schema/chat.v1", token=None).json["required"] == []
    assert api.delete("/schema/chat.v1").status == 200
    assert api.get("/admin/schemas", token=None).json == []
    assert api.delete("/schema/chat.v1").status == 404


def test_schema_writes_need_credentials(api: Api) -> None:
    assert api.put("/schema/s", CHAT_SCHEMA, token=None).status == 401
    assert api.delete("/schema/s", token=None).status == 401
    ro = api.create_key(["read"])["secret"]
    assert api.put("/schema/s", CHAT_SCHEMA, token=ro).status == 403


@pytest.mark.parametrize("raw", ["not json", '{"type": "nope"}', '{"type": 5}', '{"minimum": "x"}', "[1]", '"x"'])
def test_invalid_schema_is_400(api: Api, raw: str) -> None:
    r = api.put("/schema/s", raw=raw)
    assert r.status == 400
    error_of(r)
    assert api.get("/schema/s", token=None).status == 404


def test_encoded_schema_ids_are_rejected(api: Api) -> None:
    assert api.get("/schema/schema%2F..%2Fevil", token=None).status == 400
    assert api.put("/schema/schema%2F..%2Fevil", CHAT_SCHEMA).status == 400
    assert api.delete("/schema/%2E%2E").status == 400


def test_entities_are_validated_against_the_db_schema(api: Api) -> None:
    api.put("/schema/chat.v1", CHAT_SCHEMA)
    ok = {"messages": [{"role": "user"}]}
    assert api.put("/entity/chat.v1", {"s1": ok}).status == 200
    r = api.put("/entity/chat.v1", {"s2": ok, "s3": {"messages": [{"content": "no role"}]}})
    assert r.status == 400
    msg = error_of(r)
    assert "s3" in msg and "messages[0]" in msg and "role" in msg
    assert api.get("/entity/chat.v1?key=s2").status == 404  # nothing stored half-way
    assert api.put("/entity/other", {"x": "anything"}).status == 200


def test_schema_change_applies_at_once_and_delete_keeps_entities(api: Api) -> None:
    api.put("/schema/db", {"type": "object"})
    assert api.put("/entity/db", {"k": {"a": 1}}).status == 200
    assert api.put("/entity/db", {"k": 5}).status == 400
    api.put("/schema/db", {"type": "integer"})
    assert api.put("/entity/db", {"k": 5}).status == 200
    assert api.put("/entity/db", {"k": {"a": 1}}).status == 400
    api.delete("/schema/db")
    assert api.get("/entity/db?key=k").json == 5
    assert api.put("/entity/db", {"k": "any"}).status == 200


def test_schema_draft_is_chosen_by_dollar_schema(api: Api) -> None:
    # prefixItems exists in 2020-12 only; draft-07 ignores it.
    s07 = {"$schema": "http://json-schema.org/draft-07/schema#", "prefixItems": [{"type": "string"}]}
    s2020 = {"$schema": "https://json-schema.org/draft/2020-12/schema", "prefixItems": [{"type": "string"}]}
    api.put("/schema/d07", s07)
    api.put("/schema/d2020", s2020)
    assert api.put("/entity/d07", {"k": [1]}).status == 200
    assert api.put("/entity/d2020", {"k": [1]}).status == 400


# -- admin -----------------------------------------------------------------------
def test_admin_workers(api: Api) -> None:
    assert api.get("/admin/workers", token=None).status == 401
    ro = api.create_key(["read"])["secret"]
    assert api.get("/admin/workers", token=ro).status == 403
    r = api.get("/admin/workers")
    assert r.status == 200
    assert isinstance(r.json, list)
    for w in r.json:
        assert set(w) == {"worker_id", "status", "key_id", "last_seen", "tags"}
        assert w["status"] == "Available" and isinstance(w["tags"], dict)


# -- storage layout and encryption at rest ------------------------------------------
def test_layout_and_no_plaintext_at_rest(api: Api, backend: str) -> None:
    marker = "PLAINTEXT-MARKER-Zq9"
    api.put("/entity/db", {"k": {"secret": marker}})
    api.put("/schema/s", {"type": "object"})
    api.create_key(["read"])
    objects = api.objects()
    assert {k.split("/", 1)[0] for k in objects} == {"_auth", "_keys", "files", "templates"}
    assert "files/db/k" in objects and "templates/s.json" in objects
    assert "_keys/databases/db.json" in objects  # the database key, wrapped by the master
    for key, data in objects.items():
        assert marker.encode() not in data, key
        assert not key.rsplit("/", 1)[-1].startswith(".tmp")
    # no key material in the storage: it lives in the secrets folder
    keyring = (api.data_dir.parent / "secrets" / "keyring.json").read_bytes()
    material = json.loads(keyring)["keys"][0]["material"].encode()
    assert all(material not in data for data in objects.values())
    if backend == "fs":
        top = sorted(p.name for p in api.data_dir.iterdir())
        assert top == [".deltadb.lock", "_auth", "_keys", "files", "templates"]  # the lock file holds no data
        assert (api.data_dir / ".deltadb.lock").stat().st_size == 0
        assert not [p for p in api.data_dir.rglob(".tmp*")]


def _tamper(api: Api, key: str, change: Any) -> None:
    api.storage.put(key, change(bytearray(api.storage.get(key).data)))


@pytest.mark.parametrize("where", ["ciphertext", "header", "wrapped_key", "truncate", "version", "unknown_version"])
def test_tampering_is_detected(api: Api, where: str) -> None:
    api.put("/entity/db", {"k": {"v": "x" * 100}})
    assert api.get("/entity/db?key=k").status == 200  # warm the read cache: tampering must still show

    def change(blob: bytearray) -> bytes:
        hlen = int.from_bytes(blob[5:7], "big")
        header = json.loads(blob[7 : 7 + hlen])
        if where == "ciphertext":
            blob[-20] ^= 1
        elif where == "header":
            blob[7 : 7 + hlen] = blob[7 : 7 + hlen].replace(b'"A256GCM"', b'"A256GCm"')
        elif where == "wrapped_key":
            wk = header["wk"]
            flipped = ("B" if wk[5] != "B" else "C").join([wk[:5], wk[6:]])
            blob[7 : 7 + hlen] = blob[7 : 7 + hlen].replace(wk.encode(), flipped.encode())
        elif where == "truncate":
            del blob[-1]
        elif where == "version":
            blob[4] = 1  # claims the other readable format
        elif where == "unknown_version":
            blob[4] = 3
        return bytes(blob)

    _tamper(api, "files/db/k", change)
    r = api.get("/entity/db?key=k")
    assert r.status == 500
    assert "integrity" in error_of(r)
    assert b"Traceback" not in r.raw


def test_swapped_entity_files_fail_to_decrypt(api: Api) -> None:
    api.put("/entity/db", {"a": "value-a", "b": "value-b"})
    a, b = api.storage.get("files/db/a").data, api.storage.get("files/db/b").data
    api.storage.put("files/db/a", b)
    api.storage.put("files/db/b", a)
    assert api.get("/entity/db?key=a").status == 500
    assert api.get("/entity/db?key=b").status == 500
    api.put("/entity/db2", {"a": "other"})
    api.storage.put("files/db/a", api.storage.get("files/db2/a").data)  # same key, other db
    assert api.get("/entity/db?key=a").status == 500


# -- asynchronous completion (Prefer: respond-async) ----------------------------------
def _wait_done(api: Api, op_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        r = api.get(f"/operations/{op_id}")
        assert r.status == 200, r.raw
        if r.json["status"] != "pending" or time.monotonic() > deadline:
            return r.json  # type: ignore[no-any-return]
        time.sleep(0.05)


def test_respond_async_put(api: Api) -> None:
    marker = "ASYNC-PLAINTEXT-MARKER"
    body = {f"k{i}": {"i": i, "m": marker} for i in range(5)}
    r = api.put("/entity/adb", body, headers={"Prefer": "respond-async"})
    assert r.status == 202
    assert r.json["status"] == "pending"
    op_id = r.json["operation_id"]
    assert r.headers["Location"] == f"/operations/{op_id}"
    done = _wait_done(api, op_id)
    assert done["status"] == "done"
    assert sorted(e["key"] for e in done["entities"]) == sorted(body)
    assert all(e["status"] == "done" for e in done["entities"])
    for k, v in body.items():
        assert api.get(f"/entity/adb?key={k}").json == v
    for key, data in api.objects().items():
        assert marker.encode() not in data, key  # the persisted request is sealed too


def test_respond_async_validates_first_and_checks_access(api: Api) -> None:
    r = api.put("/entity/adb", {"../x": 1}, headers={"Prefer": "respond-async"})
    assert r.status == 400
    assert api.objects() == {}
    assert api.put("/entity/adb", {"k": 1}, headers={"Prefer": "respond-async"}, token=None).status == 401
    assert api.get("/operations/0123456789abcdef0123456789abcdef").status == 404
    assert api.get("/operations/%2E%2E").status == 400
    ro = api.create_key(["read"])["secret"]
    op_id = api.put("/entity/adb", {"k": 1}, headers={"Prefer": "respond-async"}).json["operation_id"]
    assert api.get(f"/operations/{op_id}", token=None).status == 401
    assert api.get(f"/operations/{op_id}", token=ro).status == 403


def test_boolean_schemas_are_refused(api: Api) -> None:
    for body in (False, True, [], "x"):
        r = api.put("/schema/db", body)
        assert r.status == 400 and "JSON object" in error_of(r)
    assert api.get("/schema/db").status == 404


def test_one_access_log_line_per_request_without_secrets(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    token = api.login(ADMIN_KEY)
    with caplog.at_level(logging.INFO, logger="deltadb.access"):
        caplog.clear()  # only these three requests (whether the login was logged depends on earlier tests)
        api.put("/entity/secretdb", {"secret-key": {"v": "secret-value"}}, token=token)
        api.get("/entity/secretdb?key=secret-key", token=token)
        api.request("PATCH", "/entity/secretdb", token=token)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "deltadb.access"]
    assert [(x["method"], x["route"], x["status"]) for x in lines] == [
        ("PUT", "/entity/{db}", 200),
        ("GET", "/entity/{db}", 200),
        ("PATCH", "/entity/{db}", 405),
    ]
    assert lines[0]["principal"] == "admin" and lines[0]["ms"] >= 0
    # (the audit trail names its targets by design — db, db/key — so only the access log is looked at)
    text = "\n".join(r.getMessage() for r in caplog.records if r.name != "deltadb.audit")
    for secret in (ADMIN_KEY, token, "secretdb", "secret-key", "secret-value"):
        assert secret not in text
