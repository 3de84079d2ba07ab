"""``dk_`` API keys: generation, the stored record (hash only) and request parsing.

A secret is ``dk_<id>_<43 chars of base64url>``: 256 random bits, with the key id
in front so a lookup is one read by id followed by a constant-time hash compare.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.auth.digest import sha256_digest, sha256_hex
from chalicelib.auth.principal import PERMISSIONS, ordered
from chalicelib.durations import parse_duration
from chalicelib.errors import BadRequest
from chalicelib.timestamps import parse_rfc3339, rfc3339

_ID = re.compile(r"[0-9a-f]{16}")
MAX_NAME_LENGTH = 200


def split_secret(secret: str) -> str | None:
    """The key id inside a ``dk_`` secret, or None when it is not well-formed."""
    if not secret.startswith("dk_") or len(secret) < 3 + 16 + 1 + 43:
        return None
    key_id, sep, _ = secret[3:].partition("_")
    return key_id if sep and _ID.fullmatch(key_id) else None


@dataclass(frozen=True)
class KeyRecord:
    id: str
    name: str
    permissions: tuple[str, ...]
    created_at: str
    expires_at: str | None
    enabled: bool
    secret_sha256: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "permissions": list(self.permissions),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "enabled": self.enabled,
            "secret_sha256": self.secret_sha256,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> KeyRecord:
        return cls(
            id=doc["id"],
            name=doc["name"],
            permissions=tuple(doc["permissions"]),
            created_at=doc["created_at"],
            expires_at=doc.get("expires_at"),
            enabled=bool(doc.get("enabled", True)),
            secret_sha256=doc["secret_sha256"],
        )

    def public(self) -> dict[str, Any]:
        """What ``GET /api/keys`` shows: never the secret or its hash."""
        doc = self.to_json()
        del doc["secret_sha256"]
        return doc

    def expiry(self) -> datetime | None:
        return parse_rfc3339(self.expires_at) if self.expires_at else None

    def usable(self, now: datetime) -> bool:
        exp = self.expiry()
        return self.enabled and (exp is None or now < exp)

    def secret_matches(self, secret: str) -> bool:
        return hmac.compare_digest(bytes.fromhex(self.secret_sha256), sha256_digest(secret))


def validate_permissions(perms: Any) -> list[str]:
    """A non-empty list of known permissions, in canonical order; BadRequest otherwise."""
    if not isinstance(perms, list) or not perms:
        raise BadRequest("'permissions' is required: a non-empty list of read, write, admin")
    unknown = [p for p in perms if p not in PERMISSIONS]
    if unknown:
        raise BadRequest(f"unknown permission {unknown[0]!r}: use read, write or admin")
    return ordered(set(perms))


def new_key(body: Any, now: datetime) -> tuple[KeyRecord, str]:
    """Validate a ``POST /api/keys`` body; return the record and the one-time secret."""
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadRequest("'name' is required and must be a non-empty string")
    if len(name) > MAX_NAME_LENGTH:
        raise BadRequest(f"'name' must be at most {MAX_NAME_LENGTH} characters")
    perms = validate_permissions(body.get("permissions"))
    expires_at = None
    expires_in = body.get("expires_in")
    if expires_in is not None and expires_in != "":
        if not isinstance(expires_in, str):
            raise BadRequest("'expires_in' must be a duration string such as '24h' or '7d'")
        try:
            moment = now + timedelta(seconds=parse_duration(expires_in))
            # RFC 3339 here has whole seconds: round up so a key never lives shorter than asked.
            if moment.microsecond:
                moment = moment.replace(microsecond=0) + timedelta(seconds=1)
            expires_at = rfc3339(moment)
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
    key_id = secrets.token_hex(8)
    secret = f"dk_{key_id}_{secrets.token_urlsafe(32)}"
    record = KeyRecord(
        id=key_id,
        name=name,
        permissions=tuple(perms),
        created_at=rfc3339(now),
        expires_at=expires_at,
        enabled=True,
        secret_sha256=sha256_hex(secret),
    )
    return record, secret
