"""Route-side use cases: authorise, validate, then call the processing handlers.

Each method takes already-extracted request parts and returns plain data; app.py
only moves data between Chalice's request/response objects and these methods.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib import jsonbody, names
from chalicelib.auth.apikeys import new_key, rfc3339
from chalicelib.auth.authenticator import Authenticator
from chalicelib.auth.principal import ADMIN, READ, WRITE, Principal, ordered
from chalicelib.auth.sessions import SessionClaims
from chalicelib.errors import BadRequest, DeltaError, PayloadTooLarge, Unauthorized
from chalicelib.remote import Workers
from chalicelib.schemas import SchemaCache, compile_schema

OK = {"status": "ok"}


@dataclass(frozen=True)
class Conditions:
    """HTTP preconditions: ``If-Match`` / ``If-None-Match``."""

    if_match: str | None = None
    if_none_match: str | None = None


class Api:
    def __init__(self, auth: Authenticator, workers: Workers, schemas: SchemaCache, max_body_bytes: int) -> None:
        self.auth = auth
        self.workers = workers
        self.schemas = schemas
        self.max_body_bytes = max_body_bytes

    # -- helpers -----------------------------------------------------------------
    def body(self, raw: bytes | str | None) -> Any:
        if raw is not None and len(raw) > self.max_body_bytes:
            raise PayloadTooLarge(f"request body larger than {self.max_body_bytes} bytes")
        return jsonbody.parse(raw)

    def principal(self, authorization: str | None, permission: str) -> Principal:
        principal = self.auth.authenticate(authorization)
        principal.require(permission)
        return principal

    # -- auth --------------------------------------------------------------------
    def login(self, raw: bytes | str | None) -> dict[str, Any]:
        body = self.body(raw)
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        now = datetime.now(UTC)
        key = body.get("key")
        not_after = None
        if isinstance(key, str) and key:
            if self.auth.is_admin_key(key):
                assert self.auth.admin is not None
                claims = SessionClaims(
                    "admin", frozenset((READ, WRITE, ADMIN)), None, self.auth.admin.fingerprint, False
                )
            elif key.startswith("dk_"):
                record = self.auth.resolve_api_key(key)
                claims = SessionClaims(record.name, frozenset(record.permissions), record.id, None, False)
                not_after = record.expiry()
            else:
                raise Unauthorized("invalid key")
        elif key is not None:
            raise Unauthorized("invalid key")
        elif self.auth.dev_mode and isinstance(body.get("client_id"), str) and body["client_id"]:
            claims = SessionClaims(body["client_id"], frozenset((READ, WRITE)), None, None, True)
        elif self.auth.dev_mode:
            raise BadRequest("dev mode login needs a non-empty 'client_id'")
        else:
            raise Unauthorized("login needs a 'key'")
        token, exp = self.auth.sessions.issue(claims, now, not_after)
        return {
            "token": token,
            "client_id": claims.client_id,
            "expires_at": rfc3339(exp),
            "permissions": ordered(claims.permissions),
        }

    def create_key(self, authorization: str | None, raw: bytes | str | None) -> dict[str, Any]:
        self.principal(authorization, ADMIN)
        record, secret = new_key(self.body(raw), datetime.now(UTC))
        self.workers.create_key(record)
        return {
            "id": record.id,
            "name": record.name,
            "secret": secret,
            "permissions": list(record.permissions),
            "expires_at": record.expires_at,
            "created_at": record.created_at,
        }

    def list_keys(self, authorization: str | None) -> list[dict[str, Any]]:
        self.principal(authorization, ADMIN)
        return [r.public() for r in self.workers.list_keys()]

    def delete_key(self, authorization: str | None, raw_id: str) -> dict[str, str]:
        self.principal(authorization, ADMIN)
        self.workers.delete_key(names.from_path(raw_id, "key id"))
        return OK

    # -- entities ----------------------------------------------------------------
    def put_entities_async(self, authorization: str | None, raw_db: str, raw: bytes | str | None) -> dict[str, str]:
        """``Prefer: respond-async``: persist the operation, start it, answer at once."""
        db, values = self._validated_put(authorization, raw_db, raw, Conditions())
        op_id = secrets.token_hex(16)
        self.workers.start_operation(op_id, db, values)
        return {"status": "pending", "operation_id": op_id}

    def operation(self, authorization: str | None, raw_id: str) -> dict[str, Any]:
        self.principal(authorization, WRITE)
        return self.workers.operation(names.from_path(raw_id, "operation id"))

    def put_entities(
        self, authorization: str | None, raw_db: str, raw: bytes | str | None, cond: Conditions
    ) -> list[str]:
        db, values = self._validated_put(authorization, raw_db, raw, cond)
        return self.workers.put_entities(db, values, if_match=cond.if_match, if_none_match=cond.if_none_match == "*")

    def _validated_put(
        self, authorization: str | None, raw_db: str, raw: bytes | str | None, cond: Conditions
    ) -> tuple[str, list[tuple[str, str]]]:
        self.principal(authorization, WRITE)
        db = names.from_path(raw_db, "database name")
        body = self.body(raw)
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

    def get_entity(self, authorization: str | None, raw_db: str, key: str | None, cond: Conditions) -> dict[str, Any]:
        self.principal(authorization, READ)
        db = names.from_path(raw_db, "database name")
        if key is None:
            raise BadRequest("query parameter 'key' is required")
        return self.workers.get_entity(db, names.validate(key, "entity key"), cond.if_none_match)

    def delete_entity(
        self, authorization: str | None, raw_db: str, key: str | None, cond: Conditions
    ) -> dict[str, str]:
        self.principal(authorization, WRITE)
        db = names.from_path(raw_db, "database name")
        if key is None:
            raise BadRequest("query parameter 'key' is required")
        self.workers.delete_entity(db, names.validate(key, "entity key"), cond.if_match)
        return OK

    # -- schemas -----------------------------------------------------------------
    def list_schemas(self) -> list[str]:
        return self.workers.list_schemas()

    def get_schema(self, raw_id: str) -> str:
        return str(self.workers.get_schema(names.from_path(raw_id, "schema id"))["schema"])

    def put_schema(self, authorization: str | None, raw_id: str, raw: bytes | str | None) -> dict[str, str]:
        self.principal(authorization, WRITE)
        schema_id = names.from_path(raw_id, "schema id")
        schema = self.body(raw)
        compile_schema(schema)
        try:
            self.workers.put_schema(schema_id, jsonbody.dumps(schema))
        finally:
            self.schemas.invalidate(schema_id)
        return OK

    def delete_schema(self, authorization: str | None, raw_id: str) -> dict[str, str]:
        self.principal(authorization, WRITE)
        schema_id = names.from_path(raw_id, "schema id")
        try:
            self.workers.delete_schema(schema_id)
        finally:
            self.schemas.invalidate(schema_id)
        return OK

    # -- health ------------------------------------------------------------------
    def health(self, authorization: str | None) -> dict[str, Any]:
        """``{"status": "ok"}`` for everyone; admins also get the storage's state."""
        if not authorization:
            return dict(OK)
        try:
            principal = self.auth.authenticate(authorization)
        except DeltaError:
            return dict(OK)
        if ADMIN not in principal.permissions:
            return dict(OK)
        try:
            storage = self.workers.storage_health()
        except DeltaError as exc:
            storage = {"ok": False, "detail": exc.message}
        return {"status": "ok" if storage.get("ok") else "degraded", "storage": storage}

    # -- admin -------------------------------------------------------------------
    def list_workers(self, authorization: str | None) -> list[dict[str, Any]]:
        self.principal(authorization, ADMIN)
        return self.workers.workers()
