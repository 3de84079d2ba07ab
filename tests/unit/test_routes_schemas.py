"""The /schema/{id} and /admin/schemas routes, and entities validated against their database's schema.

Through chalice.test.Client in strict mode, on every backend and mode (tests/conftest.py ``api``).
"""

from __future__ import annotations

import pytest

from tests.app_clients import Api, error_of

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


def test_boolean_schemas_are_refused(api: Api) -> None:
    for body in (False, True, [], "x"):
        r = api.put("/schema/db", body)
        assert r.status == 400 and "JSON object" in error_of(r)
    assert api.get("/schema/db").status == 404
