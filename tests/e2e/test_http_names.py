"""The REST contract (docs/api-contract.md), against the real ``deltadb serve`` over HTTP:
database, entity and schema names: encoded traversal, round trips of unusual names,
length limits and invalid UTF-8.

Paths are sent exactly as written (http.client does not normalise them), so encoded
forms such as ``%2F`` reach the server intact.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.http_client import q
from tests.e2e.http_helpers import assert_error, assert_ok, same_json
from tests.e2e.servers import ADMIN_KEY, ServerProcess

pytestmark = pytest.mark.e2e


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
