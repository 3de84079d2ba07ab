"""Asynchronous operations (``Prefer: respond-async``), kept on the processing side.

An operation is persisted before the 202 is sent: its request (database and the
entities' JSON) is sealed like an entity — no plaintext at rest — under
``_ops/<id>/request``. Each entity is then handed to an ``Event`` invocation that writes
its outcome to ``_ops/<id>/results/<key>``. Reading the operation reports pending /
done / failed with per-entity errors; an operation still pending after
``STALE_SECONDS`` (its invocations were lost: a process died, a worker was down) is
completed by the reader from the sealed request, so nothing accepted is ever lost.
Re-applying an entity write is safe: it stores the same value again.

Operations are kept for the retention (``DELTADB_OPERATION_RETENTION``, default 7 days),
then read as 404 ``unknown operation`` and are removed: on S3 by the bucket's lifecycle
rule (infra/template.json), on the filesystem by :func:`expire`, which each process runs
at most once an hour from ``create`` (a busy server sweeps, an idle one has nothing
new to sweep) and ``deltadb`` once at start (local/preflight.py).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from chalicelib import names
from chalicelib.crypto import envelope
from chalicelib.entities import EntityStore
from chalicelib.errors import DeltaError, NotFound
from chalicelib.storage.base import ObjectNotFound, Storage

PREFIX = "_ops/"
STALE_SECONDS = 30.0
DEFAULT_RETENTION = 7 * 86400.0
SWEEP_INTERVAL = 3600.0  # at most one sweep per process per hour
_SEAL_DB = "_ops"  # AAD namespace of sealed operation requests

log = logging.getLogger(__name__)


def _now() -> float:
    return time.time()


def _request_object(op_id: str) -> str:
    return f"{PREFIX}{names.encode(op_id)}/request"


def _result_object(op_id: str, key: str) -> str:
    return f"{PREFIX}{names.encode(op_id)}/results/{names.encode(key)}"


class Operations:
    """``retention``: seconds an operation is kept; ``sweep``: remove expired ones here (not
    on S3, where the bucket's lifecycle rule does); ``clock``: the time, for tests."""

    def __init__(
        self,
        storage: Storage,
        entities: EntityStore,
        *,
        retention: float = DEFAULT_RETENTION,
        sweep: bool = False,
        clock: Callable[[], float] = _now,
    ) -> None:
        self.storage = storage
        self.entities = entities
        self.retention, self.sweep, self.clock = retention, sweep, clock
        self._next_sweep = float("-inf")  # the first create of a process sweeps
        self._sweep_lock = threading.Lock()

    def create(self, op_id: str, db: str | None, values: list[list[str]], kind: str | None = None) -> None:
        """``kind``: None for an asynchronous PUT, ``"rewrap"`` for chalicelib/rewrap_operation.py."""
        now = self.clock()
        doc: dict[str, Any] = {"db": db, "values": values, "created": now}
        if kind:
            doc["kind"] = kind
        sealed = envelope.seal(self.entities.keyring, _SEAL_DB, op_id, json.dumps(doc).encode())
        self.storage.put(_request_object(op_id), sealed, if_none_match=True)
        self._sweep_if_due(now)

    def _sweep_if_due(self, now: float) -> None:
        if not self.sweep:
            return
        with self._sweep_lock:  # one sweep at a time, the others do not wait for it
            if now < self._next_sweep:
                return
            self._next_sweep = now + SWEEP_INTERVAL
        try:
            removed = self.expire(now)
        except Exception:  # the operation is stored; the next sweep (an hour later) tries again
            log.exception("could not remove expired operations")
            return
        if removed:
            log.info("removed %d operations older than %gs", removed, self.retention)

    def expire(self, now: float | None = None) -> int:
        """Remove the operations older than the retention; return how many."""
        return expire(self.storage, self.retention, self.clock() if now is None else now, self._created)

    def _created(self, op_id: str) -> float | None:
        try:
            return float(self._request(op_id)["created"])
        except (NotFound, envelope.EnvelopeError, ValueError, KeyError, TypeError):
            return None  # gone meanwhile, or unreadable: kept (a person should look at it)

    def record(self, op_id: str, key: str, error: DeltaError | None) -> None:
        outcome = {"key": key, "status": "failed" if error else "done"}
        if error:
            outcome["error"] = error.message
        self.storage.put(_result_object(op_id, key), json.dumps(outcome).encode())

    def _request(self, op_id: str) -> dict[str, Any]:
        try:
            blob = self.storage.get(_request_object(op_id)).data
        except ObjectNotFound:
            raise NotFound("unknown operation") from None
        doc: dict[str, Any] = json.loads(envelope.open_(self.entities.keyring, _SEAL_DB, op_id, blob))
        return doc

    def _outcomes(self, op_id: str) -> dict[str, dict[str, Any]]:
        prefix = f"{PREFIX}{names.encode(op_id)}/results/"
        out = {}
        for obj in self.storage.list(prefix):
            try:
                outcome = json.loads(self.storage.get(obj).data)
            except (ObjectNotFound, ValueError):
                continue
            out[outcome["key"]] = outcome
        return out

    def status(self, op_id: str) -> dict[str, Any]:
        names.validate(op_id, "operation id")
        request = self._request(op_id)
        age = self.clock() - request["created"]
        if age > self.retention:  # expired, not yet swept: gone all the same (and never re-applied)
            raise NotFound("unknown operation")
        if request.get("kind") == "rewrap":
            from chalicelib import rewrap_operation  # imports the walks: only where one is read

            return rewrap_operation.status(self.storage, op_id, request, self.clock())
        outcomes = self._outcomes(op_id)
        missing = [(k, v) for k, v in request["values"] if k not in outcomes]
        if missing and age > STALE_SECONDS:
            for key, value in missing:  # lost invocations: complete them here
                try:
                    self.entities.put(request["db"], key, value)
                    self.record(op_id, key, None)
                except DeltaError as exc:
                    self.record(op_id, key, exc)
            outcomes = self._outcomes(op_id)
            missing = [(k, v) for k, v in request["values"] if k not in outcomes]
        entities = [outcomes.get(k, {"key": k, "status": "pending"}) for k, _ in request["values"]]
        if missing:
            state = "pending"
        elif any(e["status"] == "failed" for e in entities):
            state = "failed"
        else:
            state = "done"
        return {"operation_id": op_id, "status": state, "entities": entities}


def expire(storage: Storage, retention: float, now: float, created: Callable[[str], float | None] | None = None) -> int:
    """Remove every operation created more than ``retention`` seconds before ``now``; return how many.

    An operation's age is its request's. On the filesystem that is the request file's
    mtime (written once, when the operation is created): no decrypt. Elsewhere it is
    ``created(op_id)``, the sealed request's own time (``Operations._created``). An
    operation of unknown age is kept. The results go before the request, so a sweep cut
    short leaves a readable operation that the next sweep finishes; several processes
    may sweep at once (what another removed first is skipped).
    """
    from chalicelib.storage.fs import FileStorage  # stdlib only; imported where a sweep runs

    files = storage if isinstance(storage, FileStorage) else None
    cutoff = now - retention
    operations: dict[str, list[str]] = {}
    for obj in storage.list(PREFIX):
        encoded, sep, _rest = obj.removeprefix(PREFIX).partition("/")
        if sep:
            operations.setdefault(encoded, []).append(obj)
    removed = 0
    for encoded, objects in operations.items():
        request = f"{PREFIX}{encoded}/request"
        if files is not None:
            born = _mtime(files.root, [request] if request in objects else objects)  # no request: stray results
        else:
            born = created(names.decode(encoded)) if created is not None and request in objects else None
        if born is None or born > cutoff:
            continue
        for obj in sorted(objects, key=lambda o: o == request):  # the request last
            try:
                storage.delete(obj)
            except (ObjectNotFound, FileNotFoundError):  # another sweep removed it (or its folder) first
                pass
        if files is not None:
            for folder in (files.root / PREFIX / encoded / "results", files.root / PREFIX / encoded):
                try:
                    folder.rmdir()
                except OSError:  # not empty (a late result: the next sweep) or already gone
                    pass
        removed += 1
    return removed


def _mtime(root: os.PathLike[str], objects: list[str]) -> float | None:
    """The newest modification time of ``objects`` under ``root``; None when one is gone."""
    try:
        return max(os.stat(os.path.join(root, obj)).st_mtime for obj in objects)
    except FileNotFoundError:
        return None
