"""Sessions: ``POST /api/login`` exchanges a key (or, in dev mode, a client id) for a token."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.auth.apikeys import split_secret
from chalicelib.auth.authenticator import Authenticator
from chalicelib.auth.principal import READ, WRITE, ordered
from chalicelib.auth.sessions import SessionClaims
from chalicelib.errors import BadRequest, Unauthorized
from chalicelib.timestamps import rfc3339


class SessionService:
    def __init__(self, auth: Authenticator) -> None:
        self.auth = auth

    def actor(self, body: Any) -> str:
        """Who a login body claims to be, for the audit line: the key's id or "admin", never the secret."""
        key = body.get("key") if isinstance(body, dict) else None
        client_id = body.get("client_id") if isinstance(body, dict) else None
        if isinstance(key, str) and key:
            if self.auth.is_admin_key(key):
                return "admin"
            return split_secret(key) or "unknown-key"
        if self.auth.dev_mode and isinstance(client_id, str) and client_id:
            return f"dev:{client_id[:64]}"
        return "anonymous"

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
