"""The typed handler protocol: every call is served, events survive the wire, bad events are 400."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from chalicelib.crypto.local_keyring import LocalKeyRing
from chalicelib.entities import EntityStore
from chalicelib.errors import BadRequest
from chalicelib.handlers.entity_handler import EntityHandler
from chalicelib.handlers.meta_handler import MetaHandler
from chalicelib.handlers.protocol import (
    ENTITY_FUNCTION,
    FUNCTIONS,
    META_FUNCTION,
    EntityValue,
    GetEntity,
    GetSchema,
    PutEntity,
    Stored,
    WorkerStatus,
)
from chalicelib.handlers.wire import Call, decode_call
from chalicelib.storage.memory import MemoryStorage

HANDLERS = {ENTITY_FUNCTION: EntityHandler, META_FUNCTION: MetaHandler}


def handlers() -> dict[str, Any]:
    store = MemoryStorage()
    entities = EntityStore(store, LocalKeyRing.from_master_key(os.urandom(32)))
    return {ENTITY_FUNCTION: EntityHandler(entities), META_FUNCTION: MetaHandler(store)}


def test_every_declared_call_is_served_by_its_function() -> None:
    assert set(HANDLERS) == set(FUNCTIONS)
    for action, cls in Call.registry.items():
        assert action in HANDLERS[cls.function].actions(), f"{action} has no implementation in {cls.function}"
    served = set().union(*(h.actions() for h in HANDLERS.values()))
    assert served == set(Call.registry)


def test_a_call_and_its_reply_survive_a_json_hop() -> None:
    call = PutEntity("db", "k", '{"a": 1}', if_match='"e1"', create_only=False, operation_id=None)
    event = json.loads(json.dumps(call.to_json()))
    assert event["action"] == "entity.put"
    assert decode_call(event) == call
    assert call.decode_reply(json.loads(json.dumps(Stored("x").to_json()))) == Stored("x")
    status = WorkerStatus("w1", "Available", None, None, {"mode": "worker"})
    assert WorkerStatus.from_json(json.loads(json.dumps(status.to_json()))) == status


def test_a_put_then_get_through_the_handler() -> None:
    entity = handlers()[ENTITY_FUNCTION]
    put = PutEntity("db", "k", '{"v": 1}')
    etag = put.decode_reply(entity(put.to_json())).etag
    get = GetEntity("db", "k")
    assert get.decode_reply(entity(get.to_json())) == EntityValue(etag=etag, value='{"v": 1}')
    again = GetEntity("db", "k", if_none_match=etag)
    assert again.decode_reply(entity(again.to_json())) == EntityValue(etag=etag, not_modified=True)


@pytest.mark.parametrize(
    ("function", "event"),
    [
        (ENTITY_FUNCTION, {}),
        (ENTITY_FUNCTION, {"action": "nope"}),
        (META_FUNCTION, {"action": 5}),
        (ENTITY_FUNCTION, {"action": "entity.put", "db": "db", "key": "k"}),  # value missing
        (ENTITY_FUNCTION, {"action": "entity.put", "db": "db", "key": "k", "value": 1}),  # value is JSON text
        (ENTITY_FUNCTION, {"action": "entity.put", "db": "db", "key": "k", "value": "1", "create_only": "yes"}),
        (ENTITY_FUNCTION, {"action": "entity.get", "db": ["db"], "key": "k"}),
        (ENTITY_FUNCTION, {"action": "schema.get", "schema_id": "s"}),  # served by the other function
        (META_FUNCTION, {"action": "entity.get", "db": "db", "key": "k"}),
        (META_FUNCTION, {"action": "apikey.create", "record": {"name": "no id"}}),
        (META_FUNCTION, "not an object"),
    ],
)
def test_malformed_events_are_400_results_never_exceptions(function: str, event: Any) -> None:
    result = handlers()[function](event)
    assert result["error"]["code"] == BadRequest.code, result


def test_an_action_cannot_be_declared_twice() -> None:
    with pytest.raises(TypeError, match="declared twice"):

        class Again(Call[Stored], action="entity.put", function=ENTITY_FUNCTION):
            pass


def test_a_call_reply_type_comes_from_its_base() -> None:
    assert PutEntity.reply_type is Stored and GetSchema.function == META_FUNCTION


def test_the_meta_function_never_builds_a_keyring(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployed meta_worker has no KMS permission: it must not load a keyring (nor call KMS)."""
    from chalicelib import bootstrap
    from chalicelib.handlers.protocol import DescribeWorker, ListSchemas
    from tests.conftest import make_settings

    def no_keyring(*_args: Any) -> Any:
        raise AssertionError("keyring built")

    monkeypatch.setattr(bootstrap, "build_keyring", no_keyring)
    runtime = bootstrap.Runtime(make_settings(tmp_path, kms_key_id="alias/none", kms_region="us-east-1"))
    call = ListSchemas()
    assert call.decode_reply(runtime.handle(call.function, call.to_json())).ids == []
    with pytest.raises(AssertionError, match="keyring built"):
        runtime.handle(ENTITY_FUNCTION, DescribeWorker().to_json())
