"""API keys: the admin's create / list / change / delete of ``dk_`` keys (their secrets shown once)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from chalicelib import names
from chalicelib.auth.apikeys import KeyRecord, new_key, validate_permissions
from chalicelib.errors import BadRequest
from chalicelib.handler_client import HandlerClient
from chalicelib.handlers.protocol import CreateApiKey, DeleteApiKey, ListApiKeys, UpdateApiKey


class KeyService:
    """The admin's ``dk_`` keys; the API and ``deltadb apikey`` both go through it."""

    def __init__(self, handlers: HandlerClient, changed: Callable[[str], None] = lambda key_id: None) -> None:
        self.handlers = handlers
        # Told each key id changed or deleted here (RememberedKeys.forget). A new key needs no
        # telling: absent keys are never remembered.
        self._changed = changed

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
        try:
            reply = self.handlers.call(UpdateApiKey(key_id, enabled, perms))
        finally:  # even after a failure: the record may have changed before it
            self._changed(key_id)
        return KeyRecord.from_json(reply.record).public()

    def delete(self, raw_id: str) -> None:
        key_id = names.from_path(raw_id, "key id")
        try:
            self.handlers.call(DeleteApiKey(key_id))
        finally:
            self._changed(key_id)
