"""The in-process invoker hands call objects to the handlers: same replies and errors as over JSON."""

from __future__ import annotations

import os
from typing import Any

import pytest

from chalicelib.crypto.local_keyring import LocalKeyRing
from chalicelib.entities import EntityStore
from chalicelib.errors import BadRequest, DeltaError, NotFound, PreconditionFailed
from chalicelib.handler_client import HandlerClient
from chalicelib.handlers.dispatch import Handler
from chalicelib.handlers.entity_handler import EntityHandler
from chalicelib.handlers.meta_handler import MetaHandler
from chalicelib.handlers.protocol import (
    ENTITY_FUNCTION,
    META_FUNCTION,
    EntityValue,
    GetEntity,
    GetSchema,
    PutEntity,
)
from chalicelib.invoke.base import DirectInvoker, Event, Result
from chalicelib.invoke.inprocess import InProcessInvoker
from chalicelib.storage.memory import MemoryStorage


def handlers() -> dict[str, Handler]:
    store = MemoryStorage()
    entities = EntityStore(store, LocalKeyRing.from_master_key(os.urandom(32)))
    return {ENTITY_FUNCTION: EntityHandler(entities), META_FUNCTION: MetaHandler(store)}


class OverJson:
    """The same handlers behind the JSON entry only, as a worker or Lambda would run them."""

    def __init__(self, by_function: dict[str, Handler]) -> None:
        self.by_function = by_function

    def invoke(self, function: str, event: Event) -> Result:
        return self.by_function[function](event)

    def invoke_async(self, function: str, event: Event) -> None:
        self.invoke(function, event)

    def workers(self) -> list[Any]:
        return []


@pytest.fixture(params=["direct", "strict", "json"])
def client(request: pytest.FixtureRequest) -> HandlerClient:
    by_function = handlers()
    if request.param == "json":
        return HandlerClient(OverJson(by_function))
    return HandlerClient(InProcessInvoker(by_function.__getitem__, strict=request.param == "strict"))


def test_only_the_in_process_invoker_takes_call_objects() -> None:
    assert isinstance(InProcessInvoker(handlers().__getitem__), DirectInvoker)
    assert not isinstance(OverJson(handlers()), DirectInvoker)


def test_replies_and_errors_are_the_same_on_every_path(client: HandlerClient) -> None:
    etag = client.call(PutEntity("db", "k", '{"v":1}')).etag
    assert client.call(GetEntity("db", "k")) == EntityValue(etag=etag, value='{"v":1}')
    assert client.call(GetEntity("db", "k", if_none_match=etag)) == EntityValue(etag=etag, not_modified=True)
    with pytest.raises(NotFound, match=r"^not found$"):
        client.call(GetEntity("db", "missing"))
    with pytest.raises(PreconditionFailed):
        client.call(PutEntity("db", "k", '{"v":2}', if_match='"stale"'))
    with pytest.raises(BadRequest):
        client.call(GetEntity("db", "../k"))
    with pytest.raises(NotFound):
        client.call(GetSchema("nothing"))
    stored = client.call_all([PutEntity("db", "a", "1"), PutEntity("db", "b", "2")])
    assert [client.call(GetEntity("db", k)).etag for k in ("a", "b")] == [s.etag for s in stored]


def test_call_all_raises_the_first_error_after_every_call_ran(client: HandlerClient) -> None:
    calls = [PutEntity("db", "ok1", "1"), PutEntity("db", "../bad", "2"), PutEntity("db", "ok2", "3")]
    with pytest.raises(BadRequest):
        client.call_all(calls)
    assert client.call(GetEntity("db", "ok1")).value == "1"
    assert client.call(GetEntity("db", "ok2")).value == "3"


def test_a_handler_bug_is_a_plain_500_not_a_trace(caplog: pytest.LogCaptureFixture) -> None:
    by_function = handlers()

    def broken(_call: Any) -> Any:
        raise RuntimeError("bug")

    by_function[ENTITY_FUNCTION].run = broken  # type: ignore[method-assign]
    client = HandlerClient(InProcessInvoker(by_function.__getitem__))
    with pytest.raises(DeltaError) as raised:
        client.call(GetEntity("db", "k"))
    assert type(raised.value) is DeltaError and raised.value.status == 500
    assert raised.value.message == "internal server error"
    assert "handler entity_worker raised" in caplog.text


def test_the_workers_listing_describes_this_process() -> None:
    (status,) = InProcessInvoker(handlers().__getitem__).workers()
    assert status.status == "Available" and status.worker_id.startswith("inprocess-")
