"""The /entity/{db} routes: put/get/delete, names, bad bodies, permissions, limits and ETag conditions.

Through chalice.test.Client in strict mode, on every backend and mode (tests/conftest.py ``api``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.app_clients import Api, error_of

DOC = {"messages": [{"role": "user", "content": "Hello ✓ 日本"}], "n": 12345678901234567890, "f": 0.1, "z": None}


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
