"""Asynchronous operations: per-entity outcomes, completion of lost invocations, expiry."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from chalicelib import operations
from chalicelib.bootstrap import Runtime
from chalicelib.config import ConfigError, Settings
from chalicelib.crypto import database_keys
from chalicelib.crypto.database_keys import tombstone_object
from chalicelib.crypto.local_keyring import LocalKeyRing
from chalicelib.entities import EntityStore
from chalicelib.errors import NotFound
from chalicelib.handlers.entity_handler import EntityHandler
from chalicelib.handlers.protocol import CreateOperation, GetEntity, GetOperation, PutEntity
from chalicelib.storage.base import Storage, StorageUnavailable
from chalicelib.storage.fs import FileStorage
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


def test_a_lost_invocation_into_a_shredded_database_is_recorded_as_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    store = EntityStore(MemoryStorage(), LocalKeyRing.from_master_key(os.urandom(32)))
    handler = EntityHandler(store)
    handler(CreateOperation("op2", "db", [["a", "1"], ["b", "2"]]).to_json())
    handler(PutEntity("db", "a", "1", operation_id="op2").to_json())
    store.storage.put(tombstone_object("db"), b"{}")  # shredded before the lost "b" is completed
    real_time = operations.time.time
    monkeypatch.setattr(operations.time, "time", lambda: real_time() + operations.STALE_SECONDS + 1)
    monkeypatch.setattr(database_keys, "SHRED_CHECK_SECONDS", 0.0)  # the tombstone seen at once
    status: dict[str, Any] = handler(GetOperation("op2").to_json())
    assert status["status"] == "failed", status
    by_key = {e["key"]: e for e in status["entities"]}
    assert by_key["a"]["status"] == "done"
    assert by_key["b"] == {"key": "b", "status": "failed", "error": "database 'db' has been shredded"}


def test_unknown_operation(worker: Any) -> None:
    assert worker(GetOperation("nope"))["error"]["code"] == NotFound.code


# -- expiry ------------------------------------------------------------------------------
DAY = 86400.0
T0 = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _ops(storage: Storage, clock: Clock, **kwargs: Any) -> operations.Operations:
    entities = EntityStore(storage, LocalKeyRing.from_master_key(os.urandom(32)))
    return operations.Operations(storage, entities, clock=clock, **kwargs)


def _objects(storage: Storage, op_id: str) -> list[str]:
    return sorted(storage.list(f"{operations.PREFIX}{op_id}/"))


def test_expiry_removes_old_operations_and_keeps_young_ones() -> None:
    storage, clock = MemoryStorage(), Clock()
    ops = _ops(storage, clock)
    ops.create("old", "db", [["a", "1"]])
    ops.record("old", "a", None)
    clock.now = T0 + 5 * DAY
    ops.create("young", "db", [["a", "2"]])
    ops.record("young", "a", None)
    ops.create("pending", "db", [["b", "3"]])  # its invocation has not run yet
    clock.now = T0 + 7 * DAY + 1
    assert ops.expire() == 1
    assert _objects(storage, "old") == []
    assert len(_objects(storage, "young")) == 2 and len(_objects(storage, "pending")) == 1
    assert ops.status("young")["status"] == "done"
    with pytest.raises(NotFound, match="unknown operation"):
        ops.status("old")
    assert ops.expire() == 0  # nothing more is due


def test_a_pending_operation_older_than_the_retention_goes_too_without_being_applied() -> None:
    storage, clock = MemoryStorage(), Clock()
    ops = _ops(storage, clock, retention=3600)
    ops.create("lost", "db", [["a", "1"]])  # its invocation was lost and nobody read it
    clock.now += 3601
    with pytest.raises(NotFound):  # expired, not yet swept: 404 as well, and nothing re-applied
        ops.status("lost")
    assert list(storage.list("files/")) == []
    assert ops.expire() == 1 and _objects(storage, "lost") == []


def test_reading_an_expired_operation_is_404_over_the_wire() -> None:
    storage, clock = MemoryStorage(), Clock()
    handler = EntityHandler(EntityStore(storage, LocalKeyRing.from_master_key(os.urandom(32))))
    handler.operations.clock = clock
    handler(CreateOperation("op", "db", [["a", "1"]]).to_json())
    handler(PutEntity("db", "a", "1", operation_id="op").to_json())
    assert handler(GetOperation("op").to_json())["status"] == "done"
    clock.now += operations.DEFAULT_RETENTION + 1
    assert handler.operations.expire() == 1
    reply = handler(GetOperation("op").to_json())
    assert reply["error"] == {"code": NotFound.code, "message": "unknown operation"}


def test_create_sweeps_at_most_once_an_hour(monkeypatch: pytest.MonkeyPatch) -> None:
    storage, clock = MemoryStorage(), Clock()
    ops = _ops(storage, clock, retention=3600, sweep=True)
    sweeps: list[float | None] = []
    real = ops.expire
    monkeypatch.setattr(ops, "expire", lambda now=None: sweeps.append(now) or real(now))
    ops.create("op1", "db", [["a", "1"]])  # a process's first create sweeps
    clock.now += 1800
    ops.create("op2", "db", [["a", "1"]])
    clock.now += 1799
    ops.create("op3", "db", [["a", "1"]])
    assert sweeps == [T0]
    clock.now += 1  # an hour after the last sweep
    ops.create("op4", "db", [["a", "1"]])
    assert sweeps == [T0, T0 + 3600]
    assert _objects(storage, "op1") == [] and len(_objects(storage, "op2")) == 1  # op1 was older than 1h
    clock.now += 10 * DAY
    ops.create("op5", "db", [["a", "1"]])
    assert len(sweeps) == 3 and [op for op in ("op2", "op3", "op4", "op5") if _objects(storage, op)] == ["op5"]


def test_create_does_not_sweep_unless_asked_and_survives_a_failed_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    storage, clock = MemoryStorage(), Clock()
    ops = _ops(storage, clock, retention=3600)  # sweep=False: S3, whose lifecycle rule expires them
    ops.create("old", "db", [["a", "1"]])
    clock.now += 10 * DAY
    ops.create("new", "db", [["a", "1"]])
    assert len(_objects(storage, "old")) == 1
    ops.sweep = True

    def broken(prefix: str) -> Any:
        raise StorageUnavailable("listing failed")

    monkeypatch.setattr(storage, "list", broken)
    ops.create("newer", "db", [["a", "1"]])  # stored all the same; the sweep is retried an hour later
    assert storage.get("_ops/newer/request")


def test_filesystem_expiry_goes_by_the_request_files_age(tmp_path: Path) -> None:
    storage, clock = FileStorage(tmp_path), Clock(time.time())
    ops = _ops(storage, clock)
    for op_id in ("old", "young"):
        ops.create(op_id, "db", [["a", "1"], ["b", "2"]])
        ops.record(op_id, "a", None)
    storage.put("_ops/stray/results/a", b"{}")  # a late result of an operation already removed
    week_ago = time.time() - 8 * DAY
    for obj in ("_ops/old/request", "_ops/stray/results/a"):
        os.utime(tmp_path / obj, (week_ago, week_ago))
    os.utime(tmp_path / "_ops/young/results/a", (week_ago, week_ago))  # the request's age counts
    assert operations.expire(storage, operations.DEFAULT_RETENTION, time.time()) == 2
    assert sorted(p.name for p in (tmp_path / "_ops").iterdir()) == ["young"]  # folders removed too
    assert _objects(storage, "young") == ["_ops/young/request", "_ops/young/results/a"]
    assert ops.status("young")["status"] == "pending"
    with pytest.raises(NotFound):
        ops.status("old")


def test_preflight_removes_expired_operations(tmp_path: Path) -> None:
    from local.preflight import _check_processing_side

    settings = Settings.from_env({"DELTADB_DATA_DIR": str(tmp_path), "DELTADB_OPERATION_RETENTION": "1h"})
    ops = _ops(FileStorage(tmp_path), Clock(time.time()))
    ops.create("old", "db", [["a", "1"]])
    ops.create("new", "db", [["a", "1"]])
    two_hours_ago = time.time() - 7200
    os.utime(tmp_path / "_ops/old/request", (two_hours_ago, two_hours_ago))
    assert _check_processing_side(settings).endswith("(removed 1 expired operations)")
    assert sorted(p.name for p in (tmp_path / "_ops").iterdir()) == ["new"]


def test_the_retention_setting() -> None:
    assert Settings.from_env({}).operation_retention_seconds == 7 * 86400
    assert Settings.from_env({"DELTADB_OPERATION_RETENTION": "36h"}).operation_retention_seconds == 36 * 3600
    with pytest.raises(ConfigError, match="DELTADB_OPERATION_RETENTION must be at least 1h"):
        Settings.from_env({"DELTADB_OPERATION_RETENTION": "59m"})


@pytest.mark.parametrize(("storage", "sweeps"), [("fs", True), ("s3", False)])
def test_the_processing_side_sweeps_on_the_filesystem_only(storage: str, sweeps: bool) -> None:
    settings = Settings.from_env({"DELTADB_STORAGE": storage, "DELTADB_OPERATION_RETENTION": "2d"})
    ring = LocalKeyRing.from_master_key(os.urandom(32))
    handler = Runtime(settings, storage=MemoryStorage(), keyring=ring).processing.entity_handler
    assert handler.operations.sweep is sweeps and handler.operations.retention == 2 * 86400
