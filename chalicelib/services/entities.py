"""Entities: validated PUT (one or many, synchronous or ``respond-async``), GET, DELETE, operations."""

from __future__ import annotations

import base64
import secrets
from typing import Any

from chalicelib import jsonbody, names
from chalicelib.errors import BadRequest
from chalicelib.handler_client import HandlerClient
from chalicelib.handlers.protocol import (
    MAX_KEYS_PAGE,
    CreateOperation,
    DeleteEntity,
    EntityValue,
    GetEntity,
    GetOperation,
    ListDatabases,
    ListKeys,
    OperationStatus,
    PutEntity,
)
from chalicelib.schemas import SchemaCache
from chalicelib.services.conditions import Conditions

DEFAULT_PAGE = 100


def _cursor(after: str | None) -> str | None:
    """Opaque to clients: where the next page starts, base64url."""
    return base64.urlsafe_b64encode(after.encode()).decode().rstrip("=") if after else None


def _after(cursor: str | None) -> str:
    if not cursor:
        return ""
    try:
        after = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("invalid cursor") from None
    if not after:
        raise BadRequest("invalid cursor")
    return after


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

    def start_put(self, raw_db: str, body: Any, cond: Conditions) -> str:
        """``Prefer: respond-async``: persist the operation, hand out its entities, return its id."""
        if cond.if_match or cond.if_none_match:  # the entities are written later, each on its own
            raise BadRequest("If-Match / If-None-Match cannot be combined with 'Prefer: respond-async'")
        db, values = self._validated(raw_db, body, cond)
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

    def list_keys(
        self, raw_db: str, prefix: str | None, limit: str | None, cursor: str | None
    ) -> tuple[list[str], str | None]:
        """A page of keys and the opaque cursor of the next page (None after the last)."""
        db = names.from_path(raw_db, "database name")
        try:
            count = int(limit) if limit is not None else DEFAULT_PAGE
        except ValueError:
            raise BadRequest("limit must be a whole number") from None
        if not 1 <= count <= MAX_KEYS_PAGE:
            raise BadRequest(f"limit must be between 1 and {MAX_KEYS_PAGE}")
        page = self.handlers.call(ListKeys(db, prefix or "", _after(cursor), count))
        return page.keys, _cursor(page.next_after)

    def databases(self) -> list[str]:
        return self.handlers.call(ListDatabases()).names

    def operation(self, raw_id: str) -> OperationStatus:
        return self.handlers.call(GetOperation(names.from_path(raw_id, "operation id")))
