"""Session tokens: HS256 JWTs (PyJWT) with the algorithm pinned and ``exp`` required.

PyJWT is imported by the first token issued or verified, not with this module: it loads
cryptography's RSA, EC and X.509 modules (about a third of a routes function's cold
start), which requests made with the admin key or a ``dk_`` key never need.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.caches import Expiring
from chalicelib.errors import Unauthorized

ISSUER = "deltadb"
AUDIENCE = "deltadb-api"
MIN_SECRET_BYTES = 32
CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class SessionClaims:
    client_id: str
    permissions: frozenset[str]
    key_id: str | None  # API key behind the session; its deletion ends the session
    admin_fp: str | None  # admin-key fingerprint for admin sessions
    dev: bool  # issued in dev mode


class SessionTokens:
    """Issues and verifies session tokens.

    Verified tokens are remembered (bounded) with their expiry: a signature check is
    a pure function of the token, so a hit is as good as re-verifying, and it saves
    most of a request's auth cost. Expiry is still checked on every use, and so is
    the liveness of the API key behind a token (by the Authenticator).
    """

    def __init__(self, secret: bytes, ttl_seconds: int, on_cache_lookup: Callable[[bool], None] | None = None) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"session signing key must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret
        self.ttl = ttl_seconds
        self._verified: Expiring[str, SessionClaims] = Expiring(CACHE_SIZE, time.time, on_cache_lookup)  # until exp

    def issue(
        self,
        claims: SessionClaims,
        now: datetime,
        not_after: datetime | None = None,
    ) -> tuple[str, datetime]:
        exp = now + timedelta(seconds=self.ttl)
        if not_after is not None and not_after < exp:
            exp = not_after
        exp = exp.replace(microsecond=0)
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": claims.client_id,
            "iat": int(now.timestamp()),
            "exp": int(exp.timestamp()),
            "jti": secrets.token_urlsafe(12),
            "perms": sorted(claims.permissions),
        }
        if claims.key_id:
            payload["key_id"] = claims.key_id
        if claims.admin_fp:
            payload["adm"] = claims.admin_fp
        if claims.dev:
            payload["dev"] = True
        import jwt

        return jwt.encode(payload, self._secret, algorithm="HS256"), exp.astimezone(UTC)

    def verify(self, token: str) -> SessionClaims:
        return self.remembered(token) or self.verify_new(token)

    def remembered(self, token: str) -> SessionClaims | None:
        """The claims of a token verified before and not expired since; None otherwise."""
        return self._verified.get(token)

    def verify_new(self, token: str) -> SessionClaims:
        """Check the signature and claims (no cache lookup), and remember the token."""
        claims, exp = self._decode(token)  # an expired token fails here
        self._verified.put(token, claims, exp)
        return claims

    def _decode(self, token: str) -> tuple[SessionClaims, float]:
        import jwt

        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("session token expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("invalid credential") from None
        perms = payload.get("perms")
        if not isinstance(perms, list):
            raise Unauthorized("invalid credential")
        claims = SessionClaims(
            client_id=str(payload["sub"]),
            permissions=frozenset(str(p) for p in perms),
            key_id=payload.get("key_id"),
            admin_fp=payload.get("adm"),
            dev=bool(payload.get("dev", False)),
        )
        return claims, float(payload["exp"])
