"""OIDC access tokens from an external identity provider (Cognito, Keycloak, Auth0, ...).

Built only when ``DELTADB_OIDC_ISSUER`` is set, and nothing is fetched before the first
token that names that issuer: a process without OIDC never touches the network for it.

Verification: the signing key comes from the issuer's JWKS (PyJWT's ``PyJWKClient``,
the set cached for ``JWKS_LIFESPAN``); only asymmetric algorithms; ``exp``, ``iss``,
``sub`` and the audience (``aud``, or Cognito's ``client_id``) are required, with
``LEEWAY`` seconds of clock skew. A token whose ``kid`` is not in the cached set makes
the set be fetched again (the IdP rotated its keys) — at most once per
``REFETCH_INTERVAL``, so a flood of made-up kids cannot turn into a flood of requests
to the IdP.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import jwt

from chalicelib.auth.oidc_rules import Mapping_, permissions_for, url_problem
from chalicelib.auth.principal import Principal
from chalicelib.caches import Expiring
from chalicelib.errors import Unauthorized, Unavailable

if TYPE_CHECKING:
    from chalicelib.config import Settings

log = logging.getLogger("deltadb.auth")

# Asymmetric only: an HS* token would be "signed" with whatever the verifier takes as
# the key, and "none" is no signature at all.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
LEEWAY = 30  # seconds of clock skew between us and the IdP
JWKS_LIFESPAN = 300  # seconds a fetched key set is used before it is fetched again
REFETCH_INTERVAL = 10.0  # at least this long between fetches caused by an unknown kid
FETCH_TIMEOUT = 5.0
CACHE_SIZE = 10_000
NAME_CLAIMS = ("username", "preferred_username", "sub")  # Cognito, Keycloak, everyone


@dataclass(frozen=True, slots=True)
class OidcConfig:
    issuer: str
    audience: tuple[str, ...]
    audience_claim: str  # "aud" (the standard) or "client_id" (Cognito access tokens)
    claim: str
    permissions: Mapping_
    jwks_url: str | None = None  # None: discovered from the issuer


def build_oidc(s: Settings) -> OidcVerifier:
    """The verifier of the configured issuer (composition root); it fetches nothing until a token comes."""
    assert s.oidc_issuer is not None
    return OidcVerifier(
        OidcConfig(
            s.oidc_issuer, s.oidc_audience, s.oidc_audience_claim, s.oidc_claim, s.oidc_permissions, s.oidc_jwks_url
        )
    )


def fetch_json(url: str) -> Any:
    """One GET of a JSON document, no redirects followed (they could leave https)."""
    if url_problem(url, "URL"):
        raise ValueError(f"refusing to fetch {url!r}: https only (http for localhost)")
    opener = urllib.request.build_opener(_NoRedirect())
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 (checked above)
    with opener.open(request, timeout=FETCH_TIMEOUT) as r:
        return json.load(r)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kw: Any) -> None:
        return None


def is_cognito(issuer: str) -> bool:
    host = urlsplit(issuer).hostname or ""
    return host.startswith("cognito-idp.") and host.endswith(".amazonaws.com")


class OidcVerifier:
    def __init__(
        self,
        config: OidcConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        fetch: Callable[[str], Any] = fetch_json,
    ) -> None:
        self.config = config
        self._clock, self._fetch = clock, fetch
        self._lock = threading.Lock()
        self._jwks: jwt.PyJWKClient | None = None
        self._last_refetch: float | None = None  # of a fetch caused by an unknown kid or a failure
        self._verified: Expiring[str, Principal] = Expiring(CACHE_SIZE, time.time)  # until exp + leeway

    def claims_issuer(self, token: str) -> bool:
        """Whether the token says it is from our IdP (unverified: this only picks the verifier)."""
        try:
            iss = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            return False
        return isinstance(iss, str) and hmac.compare_digest(iss.encode(), self.config.issuer.encode())

    def remembered(self, token: str) -> Principal | None:
        """Who a token verified before (and not expired since) names; None otherwise."""
        return self._verified.get(token)

    def verify(self, token: str) -> Principal:
        hit = self._verified.get(token)
        if hit is not None:
            return hit
        payload = self._decode(token)
        principal = Principal(_name(payload), permissions_for(payload, self.config.claim, self.config.permissions))
        self._verified.put(token, principal, float(payload["exp"]) + LEEWAY)
        return principal

    # -- verification ------------------------------------------------------------
    def _decode(self, token: str) -> dict[str, Any]:
        c = self.config
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("invalid credential") from None
        if header.get("alg") not in ALGORITHMS:
            raise Unauthorized("identity token refused: only RS*, PS* and ES* signatures are accepted")
        key = self._key(header.get("kid"))
        by_aud = c.audience_claim == "aud"
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                issuer=c.issuer,
                audience=list(c.audience) if by_aud else None,
                leeway=LEEWAY,
                options={"require": ["exp", "iss", "sub", c.audience_claim], "verify_aud": by_aud},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("identity token expired") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("identity token is for another audience") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"identity token refused: {_reason(exc)}") from None
        if not by_aud and not _one_of(payload.get("client_id"), c.audience):
            raise Unauthorized("identity token is for another app client")
        # Cognito marks its tokens; an ID token is for the client app, not a credential for APIs.
        if payload.get("token_use", "access") != "access":
            raise Unauthorized("identity token refused: send the access token, not the ID token")
        return payload

    def _key(self, kid: Any) -> Any:
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("identity token refused: no key id (kid)")
        client = self._client()
        try:
            key = client.match_kid(client.get_signing_keys(), kid)
            if key is None and self._may_refetch():
                log.info("OIDC: unknown key id, fetching the issuer's keys again")
                key = client.match_kid(client.get_signing_keys(refresh=True), kid)
        except (jwt.PyJWKClientError, jwt.PyJWKSetError) as exc:
            log.warning("OIDC: the issuer's keys could not be fetched: %s", exc)
            raise Unavailable("the identity provider's keys could not be fetched") from None
        if key is None:
            raise Unauthorized("identity token signed by an unknown key")
        return key.key

    def _may_refetch(self) -> bool:
        with self._lock:
            now = self._clock()
            if self._last_refetch is not None and now - self._last_refetch < REFETCH_INTERVAL:
                return False
            self._last_refetch = now
            return True

    def _client(self) -> jwt.PyJWKClient:
        if self._jwks is None:
            url = self._jwks_url()
            with self._lock:
                if self._jwks is None:
                    # cooldown 0: _may_refetch is the rate limit, counted from the last forced fetch only,
                    # so a key rotated right after start is still picked up at once.
                    self._jwks = jwt.PyJWKClient(
                        url, lifespan=JWKS_LIFESPAN, timeout=FETCH_TIMEOUT, cooldown_duration=0
                    )
        return self._jwks

    def _jwks_url(self) -> str:
        c = self.config
        if c.jwks_url:
            return c.jwks_url
        base = c.issuer.rstrip("/")
        if is_cognito(c.issuer):
            return f"{base}/.well-known/jwks.json"
        if not self._may_refetch():
            raise Unavailable("the identity provider's discovery document could not be fetched")
        try:
            doc = self._fetch(f"{base}/.well-known/openid-configuration")
        except (OSError, ValueError) as exc:
            log.warning("OIDC: discovery at %s failed: %s", base, exc)
            raise Unavailable("the identity provider's discovery document could not be fetched") from None
        url = doc.get("jwks_uri") if isinstance(doc, dict) else None
        # OIDC Discovery 1.0 §4.3: the document's issuer must be exactly the one we trust.
        if not isinstance(url, str) or doc.get("issuer") != c.issuer or url_problem(url, "jwks_uri"):
            log.warning("OIDC: discovery document at %s has no usable jwks_uri or another issuer", base)
            raise Unavailable("the identity provider's discovery document is not usable")
        self._last_refetch = None  # the first unknown kid may still refetch at once
        return url


def _one_of(value: Any, allowed: tuple[str, ...]) -> bool:
    if not isinstance(value, str):
        return False
    return any(hmac.compare_digest(value.encode(), a.encode()) for a in allowed)


def _name(payload: dict[str, Any]) -> str:
    for claim in NAME_CLAIMS:
        value = payload.get(claim)
        if isinstance(value, str) and value:
            return value
    return str(payload["sub"])


def _reason(exc: jwt.PyJWTError) -> str:
    """A short, fixed reason (never the token's content)."""
    if isinstance(exc, jwt.InvalidIssuerError):
        return "wrong issuer"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"the '{exc.claim}' claim is missing"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "not valid yet"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "bad signature"
    return "malformed or wrongly signed"
