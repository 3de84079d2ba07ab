"""Turns an ``Authorization`` header into a Principal, or raises Unauthorized (401).

Three credentials work everywhere: the admin key, a ``dk_`` API key secret, and a
session token from ``POST /api/login``. API keys are looked up on every use (one
small read through the meta handler), so a deleted or expired key — and every
session made from it — is refused at once on every instance.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from chalicelib.auth.admin import AdminKey
from chalicelib.auth.apikeys import KeyRecord, split_secret
from chalicelib.auth.principal import ADMIN_PRINCIPAL, Principal
from chalicelib.auth.sessions import SessionTokens
from chalicelib.errors import Unauthorized
from chalicelib.remote import Workers


class Authenticator:
    def __init__(self, admin: AdminKey | None, sessions: SessionTokens, workers: Workers, dev_mode: bool) -> None:
        self.admin = admin
        self.sessions = sessions
        self.workers = workers
        self.dev_mode = dev_mode

    def is_admin_key(self, credential: str) -> bool:
        if self.admin is None:
            return False
        return self.admin.matches(hashlib.sha256(credential.encode("utf-8", "surrogatepass")).digest())

    def resolve_api_key(self, secret: str) -> KeyRecord:
        key_id = split_secret(secret)
        record = self.workers.get_key(key_id) if key_id else None
        if record is None or not record.secret_matches(secret):
            raise Unauthorized("invalid credential")
        if not record.usable(datetime.now(UTC)):
            raise Unauthorized("API key expired or disabled")
        return record

    def authenticate(self, header: str | None) -> Principal:
        if not header:
            raise Unauthorized("missing credential: send 'Authorization: Bearer <key or token>'")
        scheme, _, credential = header.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise Unauthorized("malformed Authorization header: expected 'Bearer <key or token>'")
        if self.is_admin_key(credential):
            return ADMIN_PRINCIPAL
        if credential.startswith("dk_"):
            record = self.resolve_api_key(credential)
            return Principal(record.name, frozenset(record.permissions), record.id)
        if credential.count(".") == 2:
            return self._session(credential)
        raise Unauthorized("invalid credential")

    def _session(self, token: str) -> Principal:
        claims = self.sessions.verify(token)
        if claims.key_id:
            record = self.workers.get_key(claims.key_id)
            if record is None or not record.usable(datetime.now(UTC)):
                raise Unauthorized("the API key behind this session was deleted or expired")
        elif claims.admin_fp:
            if self.admin is None or claims.admin_fp != self.admin.fingerprint:
                raise Unauthorized("session from a previous admin key")
        elif not (claims.dev and self.dev_mode):
            raise Unauthorized("invalid credential")
        return Principal(claims.client_id, claims.permissions, claims.key_id)
