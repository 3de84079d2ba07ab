"""The entity handler: envelope-encrypts and stores entity values (needs the KEK)."""

from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, datetime
from typing import Any

from chalicelib import names
from chalicelib.auth.apikeys import rfc3339
from chalicelib.entities import EntityStore
from chalicelib.handlers import Op, dispatch
from chalicelib.operations import Operations
from chalicelib.storage.base import NotModified

log = logging.getLogger(__name__)


class EntityWorker:
    def __init__(
        self,
        entities: EntityStore,
        worker_id: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        self.entities = entities
        self.operations = Operations(entities.storage, entities)
        self.worker_id = worker_id or f"inprocess-{socket.gethostname()}-{os.getpid()}"
        self.tags = tags or {"mode": "in-process"}
        self._ops: dict[str, Op] = {
            "entity.put": self._put,
            "entity.get": self._get,
            "entity.delete": self._delete,
            "worker.info": self._info,
            "operation.create": self._op_create,
            "operation.get": self._op_get,
        }

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        result = dispatch(self._ops, event)
        op_id = event.get("operation")
        if op_id and event.get("op") == "entity.put":
            try:  # the outcome of one entity of an asynchronous operation
                self.operations.record(str(op_id), str(event["key"]), result.get("error"))
            except Exception:  # the reader of the operation completes it later
                log.exception("could not record the outcome of operation %s", op_id)
        return result

    def _op_create(self, e: dict[str, Any]) -> dict[str, Any]:
        self.operations.create(names.validate(e["id"], "operation id"), e["db"], e["values"])
        return {}

    def _op_get(self, e: dict[str, Any]) -> dict[str, Any]:
        return self.operations.status(e["id"])

    def _put(self, e: dict[str, Any]) -> dict[str, Any]:
        etag = self.entities.put(
            e["db"], e["key"], e["value"], if_match=e.get("if_match"), if_none_match=bool(e.get("if_none_match"))
        )
        return {"etag": etag}

    def _get(self, e: dict[str, Any]) -> dict[str, Any]:
        try:
            value, etag = self.entities.get(e["db"], e["key"], if_none_match=e.get("if_none_match"))
        except NotModified:
            return {"not_modified": True, "etag": e["if_none_match"]}
        return {"value": value, "etag": etag}

    def _delete(self, e: dict[str, Any]) -> dict[str, Any]:
        self.entities.delete(e["db"], e["key"], if_match=e.get("if_match"))
        return {}

    def _info(self, _e: dict[str, Any]) -> dict[str, Any]:
        return {
            "worker": {
                "worker_id": self.worker_id,
                "status": "Available",
                "key_id": self.entities.keyring.active_key_id,
                "last_seen": rfc3339(datetime.now(UTC)),
                "tags": dict(self.tags),
            }
        }
