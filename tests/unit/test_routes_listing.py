"""Listing what is stored (keys of a database, databases) and who am I: on every backend and mode."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import ADMIN_KEY, Api

NAMES = ["a b", "100%", ".hidden", "日本", "z", "user:1", "user:2", "user:10", "Ω", "a+b", "#frag", "?q"]


def walk(api: Api, db: str, limit: int, prefix: str | None = None, token: str = ADMIN_KEY) -> list[str]:
    keys: list[str] = []
    cursor: str | None = None
    for _ in range(1000):
        q = f"limit={limit}" + (f"&cursor={cursor}" if cursor else "") + (f"&prefix={quote(prefix)}" if prefix else "")
        r = api.get(f"/entity/{quote(db)}/keys?{q}", token=token)
        assert r.status == 200, r.raw
        assert set(r.json) == {"keys", "next_cursor"}
        keys += r.json["keys"]
        cursor = r.json["next_cursor"]
        if cursor is None:
            return keys
        assert len(r.json["keys"]) == limit
    raise AssertionError("the walk did not end")


def pages_are_stable(api: Api, names: list[str]) -> None:
    assert api.put("/entity/db", {name: {"secret": "value"} for name in names}).status == 200
    everything = walk(api, "db", 1000)
    assert sorted(everything) == sorted(names)
    for limit in (1, 3, 5, 11):
        assert walk(api, "db", limit) == everything
    r = api.get("/entity/db/keys")
    assert r.json == {"keys": everything, "next_cursor": None}  # default limit 100
    assert b"secret" not in r.raw and b"value" not in r.raw  # keys only


def test_pages_give_every_key_once_in_a_stable_order(api: Api) -> None:
    pages_are_stable(api, [f"key-{i:02d}" for i in range(23)] + ["A", "b", "user:1", "user:10", "user:2"])


def test_pages_of_names_needing_encoding(api: Api, backend: str, request: pytest.FixtureRequest) -> None:
    if backend == "localstack":
        # LocalStack 2026.3 pages ListObjectsV2 (StartAfter and continuation tokens alike) in the
        # order of URL-encoded keys but returns them in raw order: "?q", "Ω" are skipped.
        # AWS S3, MinIO and moto page in UTF-8 order. Strict: this fails once LocalStack is fixed.
        reason = "LocalStack pages special and non-ASCII keys in another order than it lists them"
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
    pages_are_stable(api, NAMES)


def test_prefix_filters(api: Api) -> None:
    api.put("/entity/db", {name: 1 for name in NAMES})
    assert walk(api, "db", 2, prefix="user:") == ["user:1", "user:10", "user:2"]
    assert walk(api, "db", 2, prefix=".h") == [".hidden"]
    assert walk(api, "db", 2, prefix="nothing") == []


def test_unknown_database_is_an_empty_list(api: Api) -> None:
    assert api.get("/entity/nope/keys").json == {"keys": [], "next_cursor": None}


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=abc", "cursor=%21%21%21", "cursor=Li4v"])
def test_bad_parameters_are_400(api: Api, query: str) -> None:
    api.put("/entity/db", {"k": 1})
    r = api.get(f"/entity/db/keys?{query}")
    assert r.status == 400 and set(r.json) == {"error"}, r.raw


def test_listing_needs_read(api: Api) -> None:
    writer = api.create_key(["write"])["secret"]
    reader = api.create_key(["read"])["secret"]
    assert api.get("/entity/db/keys", token=writer).status == 403
    assert api.get("/entity/db/keys", token=None).status == 401
    assert api.get("/entity/db/keys", token=reader).status == 200


def test_a_walk_while_others_write_sees_every_earlier_key_exactly_once(api: Api) -> None:
    """Between any two pages others write keys before, inside and after the part already walked."""
    before = {f"k{i:03d}": i for i in range(60)}
    api.put("/entity/db", before)
    seen: list[str] = []
    cursor: str | None = None
    for page in range(100):
        q = "limit=7" + (f"&cursor={cursor}" if cursor else "")
        r = api.get(f"/entity/db/keys?{q}")
        assert r.status == 200, r.raw
        seen += r.json["keys"]
        cursor = r.json["next_cursor"]
        if cursor is None:
            break
        written = api.put("/entity/db", {f"a{page:03d}": page, f"k{page * 7:03d}x": page, f"z{page:03d}": page})
        assert written.status == 200, written.raw
    assert cursor is None and page > 5  # the walk ended, with writes between its pages
    assert len(seen) == len(set(seen))
    assert set(before) <= set(seen)


def test_api_me_for_each_credential_kind(api: Api) -> None:
    assert api.get("/api/me").json == {
        "client_id": "admin",
        "permissions": ["read", "write", "admin"],
        "is_admin": True,
    }
    key = api.create_key(["read"])
    me: dict[str, Any] = api.get("/api/me", token=key["secret"]).json
    assert me == {"client_id": "k", "permissions": ["read"], "is_admin": False}
    assert api.get("/api/me", token=api.login(key["secret"])).json == me
    assert api.get("/api/me", token=None).status == 401


def test_api_schemas_lists_databases_holding_entities(api: Api) -> None:
    assert api.get("/api/schemas").json == []
    api.put("/entity/zeta", {"k": 1})
    api.put("/entity/alpha", {"k": 1, "j": 2})
    api.put("/entity/日本", {"k": 1})
    assert api.get("/api/schemas").json == ["alpha", "zeta", "日本"]
    api.delete("/entity/zeta?key=k")
    assert api.get("/api/schemas").json == ["alpha", "日本"]  # no entity left: not listed
    assert api.get("/api/schemas", token=api.create_key(["write"])["secret"]).status == 403
