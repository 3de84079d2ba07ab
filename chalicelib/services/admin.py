"""Health, the processing workers' status, and starting an online rewrap."""

from __future__ import annotations

import secrets
from typing import Any

from chalicelib import names
from chalicelib.auth.principal import ADMIN, Principal
from chalicelib.errors import BadRequest, DeltaError, NotFound
from chalicelib.handler_client import HandlerClient
from chalicelib.handlers.protocol import CheckStorage, ListDatabases
from chalicelib.handlers.walk_protocol import CreateRewrapOperation, RunRewrap


class AdminService:
    def __init__(self, handlers: HandlerClient) -> None:
        self.handlers = handlers

    def health(self, principal: Principal | None) -> dict[str, Any]:
        """``{"status": "ok"}`` for everyone; admins also get the storage's state."""
        if principal is None or ADMIN not in principal.permissions:
            return {"status": "ok"}
        try:
            storage = self.handlers.call(CheckStorage()).to_json()
        except DeltaError as exc:
            storage = {"ok": False, "detail": exc.message}
        return {"status": "ok" if storage.get("ok") else "degraded", "storage": storage}

    def workers(self) -> list[dict[str, Any]]:
        return [w.to_json() for w in self.handlers.workers()]

    def start_rewrap(self, body: Any, actor: str, request_id: str | None) -> tuple[str, str | None]:
        """``POST /admin/rewrap``: persist the operation, start it (an ``Event`` invocation); (its id, the db)."""
        if not isinstance(body, dict) or set(body) - {"db"}:
            raise BadRequest("body must be empty or a JSON object with an optional 'db'")
        db = body.get("db")
        if "db" in body:  # given, it must be a name: null is not "every database"
            names.validate(db, "database name")
            if db not in self.handlers.call(ListDatabases()).names:
                raise NotFound(f"no database named {db!r} (it holds no entities)")
        operation_id = secrets.token_hex(16)
        self.handlers.call(CreateRewrapOperation(operation_id, db))
        self.handlers.start(RunRewrap(operation_id, db, actor, request_id))
        return operation_id, db
