"""Sessions and API keys: login, and the admin's create / list / delete of ``dk_`` keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib import names
from chalicelib.auth.apikeys import KeyRecord, new_key, validate_permissions
from chalicelib.auth.authenticator import Authenticator
from chalicelib.auth.principal import READ, WRITE, ordered
from chalicelib.auth.sessions import SessionClaims
from chalicelib.errors import BadRequest, Unauthorized
from chalicelib.handler_client import HandlerClient
from chalicelib.handlers.protocol import CreateApiKey, DeleteApiKey, ListApiKeys, UpdateApiKey
from chalicelib.timestamps import rfc3339


class KeyService:
    def __init__(self, auth: Authenticator, handlers: HandlerClient) -> None:
        self.auth = auth
        self.handlers = handlers

    def login(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        key = body.get("key")
        client_id = body.get("client_id")
        not_after = None
        if isinstance(key, str) and key:
            claims, not_after = self.auth.key_session(key)
        elif key is not None:
            raise Unauthorized("invalid key")
        elif self.auth.dev_mode and isinstance(client_id, str) and client_id:
            claims = SessionClaims(client_id, frozenset((READ, WRITE)), None, None, True)
        elif self.auth.dev_mode:
            raise BadRequest("dev mode login needs a non-empty 'client_id'")
        else:
            raise Unauthorized("login needs a 'key'")
        token, exp = self.auth.sessions.issue(claims, datetime.now(UTC), not_after)
        return {
            "token": token,
            "client_id": claims.client_id,
            "expires_at": rfc3339(exp),
            "permissions": ordered(claims.permissions),
        }

    def create(self, body: Any) -> dict[str, Any]:
        record, secret = new_key(body, datetime.now(UTC))
        self.handlers.call(CreateApiKey(record.to_json()))
        return {
            "id": record.id,
            "name": record.name,
            "secret": secret,
            "permissions": list(record.permissions),
            "expires_at": record.expires_at,
            "created_at": record.created_at,
        }

    def list(self) -> list[dict[str, Any]]:
        return [KeyRecord.from_json(r).public() for r in self.handlers.call(ListApiKeys()).records]

    def update(self, raw_id: str, body: Any) -> dict[str, Any]:
        """``PATCH /api/keys/{id}``: ``{"enabled": bool, "permissions": [...]}``, either or both."""
        key_id = names.from_path(raw_id, "key id")
        if not isinstance(body, dict) or not body or set(body) - {"enabled", "permissions"}:
            raise BadRequest("body must be a JSON object with 'enabled' and/or 'permissions'")
        enabled = body.get("enabled")
        if "enabled" in body and not isinstance(enabled, bool):
            raise BadRequest("'enabled' must be true or false")
        perms = body.get("permissions")
        if "permissions" in body:
            perms = validate_permissions(perms)
        reply = self.handlers.call(UpdateApiKey(key_id, enabled, perms))
        return KeyRecord.from_json(reply.record).public()

    def delete(self, raw_id: str) -> None:
        self.handlers.call(DeleteApiKey(names.from_path(raw_id, "key id")))
