"""Entities: validated PUT (one or many, synchronous or ``respond-async``), GET, DELETE, operations."""

from __future__ import annotations

import secrets
from typing import Any

from chalicelib import jsonbody, names
from chalicelib.errors import BadRequest
from chalicelib.handler_client import HandlerClient
from chalicelib.handlers.protocol import (
    CreateOperation,
    DeleteEntity,
    EntityValue,
    GetEntity,
    GetOperation,
    OperationStatus,
    PutEntity,
)
from chalicelib.schemas import SchemaCache
from chalicelib.services.conditions import Conditions


class EntityService:
    def __init__(self, handlers: HandlerClient, schemas: SchemaCache) -> None:
        self.handlers = handlers
        self.schemas = schemas

    def put(self, raw_db: str, body: Any, cond: Conditions) -> list[str]:
        """Store every entity of the body durably; their etags in body order."""
        db, values = self._validated(raw_db, body, cond)
        create_only = cond.if_none_match == "*"
        calls = [PutEntity(db, key, value, if_match=cond.if_match, create_only=create_only) for key, value in values]
        return [stored.etag for stored in self.handlers.call_all(calls)]

    def start_put(self, raw_db: str, body: Any) -> str:
        """``Prefer: respond-async``: persist the operation, hand out its entities, return its id."""
        db, values = self._validated(raw_db, body, Conditions())
        operation_id = secrets.token_hex(16)
        self.handlers.call(CreateOperation(operation_id, db, [list(v) for v in values]))
        for key, value in values:
            self.handlers.start(PutEntity(db, key, value, operation_id=operation_id))
        return operation_id

    def _validated(self, raw_db: str, body: Any, cond: Conditions) -> tuple[str, list[tuple[str, str]]]:
        db = names.from_path(raw_db, "database name")
        if not isinstance(body, dict) or not body:
            raise BadRequest("body must be a non-empty JSON object of {key: value}")
        for key in body:
            names.validate(key, "entity key")
        if (cond.if_match or cond.if_none_match) and len(body) != 1:
            raise BadRequest("If-Match / If-None-Match apply to a single-entity PUT")
        if cond.if_none_match not in (None, "*"):
            raise BadRequest("only 'If-None-Match: *' is supported on PUT")
        self.schemas.validate(db, body.items())
        return db, [(key, jsonbody.dumps(value)) for key, value in body.items()]

    def get(self, raw_db: str, key: str | None, cond: Conditions) -> EntityValue:
        db = names.from_path(raw_db, "database name")
        if key is None:
            raise BadRequest("query parameter 'key' is required")
        return self.handlers.call(GetEntity(db, names.validate(key, "entity key"), cond.if_none_match or None))

    def delete(self, raw_db: str, key: str | None, cond: Conditions) -> None:
        db = names.from_path(raw_db, "database name")
        if key is None:
            raise BadRequest("query parameter 'key' is required")
        self.handlers.call(DeleteEntity(db, names.validate(key, "entity key"), cond.if_match or None))

    def operation(self, raw_id: str) -> OperationStatus:
        return self.handlers.call(GetOperation(names.from_path(raw_id, "operation id")))
