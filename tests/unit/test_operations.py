"""Asynchronous operations: per-entity outcomes, and completion of lost invocations."""

from __future__ import annotations

import os
from typing import Any

import pytest

from chalicelib import operations
from chalicelib.crypto.local_keyring import LocalKeyRing
from chalicelib.entities import EntityStore
from chalicelib.errors import NotFound
from chalicelib.handlers.entity_handler import EntityHandler
from chalicelib.handlers.protocol import CreateOperation, GetEntity, GetOperation, PutEntity
from chalicelib.storage.memory import MemoryStorage


@pytest.fixture
def worker() -> Any:
    """The entity handler, called with events as they arrive over the wire."""
    handler = EntityHandler(EntityStore(MemoryStorage(), LocalKeyRing.from_master_key(os.urandom(32))))
    return lambda call: handler(call.to_json())


def test_outcomes_are_recorded_per_entity(worker: Any) -> None:
    assert worker(CreateOperation("op1", "db", [["a", "1"], ["b/x", "2"]])) == {}
    assert worker(GetOperation("op1"))["status"] == "pending"
    worker(PutEntity("db", "a", "1", operation_id="op1"))
    worker(PutEntity("db", "b/x", "2", operation_id="op1"))  # invalid key: fails
    status = worker(GetOperation("op1"))
    assert status["status"] == "failed"
    by_key = {e["key"]: e for e in status["entities"]}
    assert by_key["a"]["status"] == "done"
    assert by_key["b/x"]["status"] == "failed" and by_key["b/x"]["error"]


def test_lost_invocations_are_completed_when_read(worker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    worker(CreateOperation("op2", "db", [["a", '{"v": 1}'], ["b", "2"]]))
    worker(PutEntity("db", "a", '{"v": 1}', operation_id="op2"))
    # the invocation for "b" was lost (process died); once the operation is stale, a read completes it
    real_time = operations.time.time
    monkeypatch.setattr(operations.time, "time", lambda: real_time() + operations.STALE_SECONDS + 1)
    status: dict[str, Any] = worker(GetOperation("op2"))
    assert status["status"] == "done"
    assert worker(GetEntity("db", "b"))["value"] == "2"


def test_unknown_operation(worker: Any) -> None:
    assert worker(GetOperation("nope"))["error"]["code"] == NotFound.code
