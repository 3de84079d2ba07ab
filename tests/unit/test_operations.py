"""Asynchronous operations: per-entity outcomes, and completion of lost invocations."""

from __future__ import annotations

import os
from typing import Any

import pytest

from chalicelib import operations
from chalicelib.crypto.local_keyring import LocalKeyRing
from chalicelib.entities import EntityStore
from chalicelib.errors import NotFound
from chalicelib.handlers.entity_worker import EntityWorker
from chalicelib.storage.memory import MemoryStorage


@pytest.fixture
def worker() -> EntityWorker:
    return EntityWorker(EntityStore(MemoryStorage(), LocalKeyRing.from_master_key(os.urandom(32))))


def test_outcomes_are_recorded_per_entity(worker: EntityWorker) -> None:
    assert worker({"op": "operation.create", "id": "op1", "db": "db", "values": [["a", "1"], ["b/x", "2"]]}) == {}
    assert worker({"op": "operation.get", "id": "op1"})["status"] == "pending"
    worker({"op": "entity.put", "db": "db", "key": "a", "value": "1", "operation": "op1"})
    worker({"op": "entity.put", "db": "db", "key": "b/x", "value": "2", "operation": "op1"})  # invalid key: fails
    status = worker({"op": "operation.get", "id": "op1"})
    assert status["status"] == "failed"
    by_key = {e["key"]: e for e in status["entities"]}
    assert by_key["a"]["status"] == "done"
    assert by_key["b/x"]["status"] == "failed" and by_key["b/x"]["error"]


def test_lost_invocations_are_completed_when_read(worker: EntityWorker, monkeypatch: pytest.MonkeyPatch) -> None:
    worker({"op": "operation.create", "id": "op2", "db": "db", "values": [["a", '{"v": 1}'], ["b", "2"]]})
    worker({"op": "entity.put", "db": "db", "key": "a", "value": '{"v": 1}', "operation": "op2"})
    # the invocation for "b" was lost (process died); once the operation is stale, a read completes it
    real_time = operations.time.time
    monkeypatch.setattr(operations.time, "time", lambda: real_time() + operations.STALE_SECONDS + 1)
    status: dict[str, Any] = worker({"op": "operation.get", "id": "op2"})
    assert status["status"] == "done"
    assert worker({"op": "entity.get", "db": "db", "key": "b"})["value"] == "2"


def test_unknown_operation(worker: EntityWorker) -> None:
    assert worker({"op": "operation.get", "id": "nope"})["error"]["code"] == NotFound.code
