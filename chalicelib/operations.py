"""Asynchronous operations (``Prefer: respond-async``), kept on the processing side.

An operation is persisted before the 202 is sent: its request (database and the
entities' JSON) is sealed like an entity — no plaintext at rest — under
``_ops/<id>/request``. Each entity is then handed to an ``Event`` invocation that writes
its outcome to ``_ops/<id>/results/<key>``. Reading the operation reports pending /
done / failed with per-entity errors; an operation still pending after
``STALE_SECONDS`` (its invocations were lost: a process died, a worker was down) is
completed by the reader from the sealed request, so nothing accepted is ever lost.
Re-applying an entity write is safe: it stores the same value again.
"""

from __future__ import annotations

import json
import time
from typing import Any

from chalicelib import names
from chalicelib.crypto import envelope
from chalicelib.entities import EntityStore
from chalicelib.errors import DeltaError, NotFound
from chalicelib.storage.base import ObjectNotFound, Storage

PREFIX = "_ops/"
STALE_SECONDS = 30.0
_SEAL_DB = "_ops"  # AAD namespace of sealed operation requests


def _request_object(op_id: str) -> str:
    return f"{PREFIX}{names.encode(op_id)}/request"


def _result_object(op_id: str, key: str) -> str:
    return f"{PREFIX}{names.encode(op_id)}/results/{names.encode(key)}"


class Operations:
    def __init__(self, storage: Storage, entities: EntityStore) -> None:
        self.storage = storage
        self.entities = entities

    def create(self, op_id: str, db: str, values: list[list[str]]) -> None:
        doc = {"db": db, "values": values, "created": time.time()}
        sealed = envelope.seal(self.entities.keyring, _SEAL_DB, op_id, json.dumps(doc).encode())
        self.storage.put(_request_object(op_id), sealed, if_none_match=True)

    def record(self, op_id: str, key: str, error: dict[str, Any] | None) -> None:
        outcome = {"key": key, "status": "failed" if error else "done"}
        if error:
            outcome["error"] = str(error.get("message", "failed"))
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
        outcomes = self._outcomes(op_id)
        missing = [(k, v) for k, v in request["values"] if k not in outcomes]
        if missing and time.time() - request["created"] > STALE_SECONDS:
            for key, value in missing:  # lost invocations: complete them here
                try:
                    self.entities.put(request["db"], key, value)
                    self.record(op_id, key, None)
                except DeltaError as exc:
                    self.record(op_id, key, {"message": exc.message})
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
