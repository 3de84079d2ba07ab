"""Turns a credential into who is calling, or raises Unauthorized (401).

Three credentials work everywhere: the admin key, a ``dk_`` API key secret, and a
session token from ``POST /api/login``; a fourth when an identity provider is configured,
its OIDC access tokens (auth/oidc.py). Which kind a credential is gets decided here
once, for requests and for login alike. An API key's record is read on every use (one
small read through the meta handler), so a deleted or disabled key — and every session
made from it — is refused at once on every instance; with
``DELTADB_APIKEY_REVALIDATE_SECONDS`` set, a process reuses a record it read for that
long (records.RememberedKeys). Expiry is checked on every use either way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from chalicelib.auth.admin import AdminKey
from chalicelib.auth.apikeys import KeyRecord, split_secret
from chalicelib.auth.principal import ADMIN_PRINCIPAL, Principal
from chalicelib.auth.sessions import SessionClaims, SessionTokens
from chalicelib.errors import Unauthorized
from chalicelib.records import KeyRecords

if TYPE_CHECKING:
    from chalicelib.auth.oidc import OidcVerifier


class Authenticator:
    def __init__(
        self,
        admin: AdminKey | None,
        sessions: SessionTokens,
        records: KeyRecords,
        dev_mode: bool,
        oidc: OidcVerifier | None = None,
    ) -> None:
        self.admin = admin
        self.sessions = sessions
        self.records = records
        self.dev_mode = dev_mode
        self.oidc = oidc

    def is_admin_key(self, credential: str) -> bool:
        return self.admin is not None and self.admin.matches(credential)

    def resolve_api_key(self, secret: str) -> KeyRecord:
        key_id = split_secret(secret)
        record = self.records.get_key(key_id) if key_id else None
        if record is None or not record.secret_matches(secret):
            raise Unauthorized("invalid credential")
        if not record.usable(datetime.now(UTC)):
            raise Unauthorized("API key expired or disabled")
        return record

    def key_session(self, key: str) -> tuple[SessionClaims, datetime | None]:
        """What a session opened with ``key`` (admin key or ``dk_`` secret) carries, and its latest end."""
        if self.is_admin_key(key):
            assert self.admin is not None
            return SessionClaims("admin", ADMIN_PRINCIPAL.permissions, None, self.admin.fingerprint, False), None
        if key.startswith("dk_"):
            record = self.resolve_api_key(key)
            return SessionClaims(record.name, frozenset(record.permissions), record.id, None, False), record.expiry()
        raise Unauthorized("invalid key")

    def authenticate(self, header: str | None) -> Principal:
        if not header:
            raise Unauthorized("missing credential: send 'Authorization: Bearer <key or token>'")
        scheme, _, credential = header.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise Unauthorized("malformed Authorization header: expected 'Bearer <key or token>'")
        jwt_shaped = credential.count(".") == 2
        if jwt_shaped:  # most requests: a token verified before (before any hashing)
            if self.oidc is not None and (principal := self.oidc.remembered(credential)) is not None:
                return principal
            if (known := self.sessions.remembered(credential)) is not None:
                return self._session(known)
        if self.is_admin_key(credential):
            return ADMIN_PRINCIPAL
        if credential.startswith("dk_"):
            record = self.resolve_api_key(credential)
            return Principal(record.name, frozenset(record.permissions), record.id)
        if jwt_shaped:
            # Both are JWTs: the (unverified) iss picks the verifier, and each verifier then pins its
            # own issuer and algorithms (sessions: iss "deltadb", HS256; OIDC: the IdP's URL, RS/PS/ES),
            # so a token can never be checked by the other's rules.
            if self.oidc is not None and self.oidc.claims_issuer(credential):
                return self.oidc.verify(credential)
            return self._session(self.sessions.verify_new(credential))
        raise Unauthorized("invalid credential")

    def _session(self, claims: SessionClaims) -> Principal:
        if claims.key_id:
            record = self.records.get_key(claims.key_id)
            if record is None or not record.usable(datetime.now(UTC)):
                raise Unauthorized("the API key behind this session was deleted, disabled or expired")
            # The key's permissions as they are now: a change applies to its sessions at once.
            return Principal(claims.client_id, frozenset(record.permissions), claims.key_id)
        elif claims.admin_fp:
            if self.admin is None or claims.admin_fp != self.admin.fingerprint:
                raise Unauthorized("session from a previous admin key")
        elif not (claims.dev and self.dev_mode):
            raise Unauthorized("invalid credential")
        return Principal(claims.client_id, claims.permissions, claims.key_id)
