"""OIDC: the pure rules (no network, no PyJWT), so config.py can parse and check with them.

The permission mapping (``DELTADB_OIDC_PERMISSIONS``) reads
``<claim value>=<permission>[+<permission>...]`` items, comma-separated::

    deltadb-admins=admin,deltadb-writers=read+write,deltadb-readers=read

A token gets the union of the permissions of every value its claim holds; values that
are not mapped grant nothing. The claim (``DELTADB_OIDC_CLAIM``) is a top-level name
(``groups``, ``cognito:groups``, ``scope``, or a URL-like Auth0 name) or a dotted path
into nested objects (``realm_access.roles``, Keycloak); a list of strings is taken as
is, a string is split on whitespace (``scope``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from chalicelib.auth.principal import PERMISSIONS
from chalicelib.settings_table import ConfigError, csv

Mapping_ = tuple[tuple[str, frozenset[str]], ...]


def parse_permissions(text: str) -> Mapping_:
    """``a=admin,b=read+write`` -> (("a", {"admin"}), ("b", {"read", "write"}))."""
    out: list[tuple[str, frozenset[str]]] = []
    for item in csv(text):
        # rpartition: a claim value may itself hold '=' (never ',', the separator)
        value, sep, perms = item.rpartition("=")
        granted = frozenset(p.strip().lower() for p in perms.split("+") if p.strip())
        if not sep or not value.strip() or not granted:
            raise ConfigError(f"DELTADB_OIDC_PERMISSIONS: expected <claim value>=<permission>[+...], got {item!r}")
        if unknown := granted - set(PERMISSIONS):
            raise ConfigError(
                f"DELTADB_OIDC_PERMISSIONS: unknown permission {sorted(unknown)[0]!r} in {item!r} "
                f"(use {', '.join(PERMISSIONS)})"
            )
        out.append((value.strip(), granted))
    return tuple(out)


def claim_values(payload: Mapping[str, Any], claim: str) -> list[str]:
    """The strings the claim holds: the top-level name first, else the dotted path."""
    value: Any = payload.get(claim)
    if value is None and "." in claim:
        value = payload
        for part in claim.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def permissions_for(payload: Mapping[str, Any], claim: str, mapping: Mapping_) -> frozenset[str]:
    held = set(claim_values(payload, claim))
    granted: set[str] = set()
    for value, perms in mapping:
        if value in held:
            granted |= perms
    return frozenset(granted)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    import ipaddress  # only when the settings name OIDC URLs: not on every cold start

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url: str, what: str) -> str | None:
    """Keys are fetched over https; plain http only from this machine (tests, a local IdP)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return None
    return f"{what} must be an https URL (http only for localhost), got {url!r}"


def settings_problem(
    issuer: str | None, audience: tuple[str, ...], jwks_url: str | None, mapping: Mapping_
) -> str | None:
    """The rules between the OIDC settings; None when they hold (or OIDC is off)."""
    if issuer is None:
        if audience or jwks_url or mapping:
            return "DELTADB_OIDC_AUDIENCE, _JWKS_URL and _PERMISSIONS need DELTADB_OIDC_ISSUER"
        return None
    # The issuer is a URL (OIDC Core 1.0), so it can never be our own session tokens' "deltadb".
    if urlsplit(issuer).scheme not in ("https", "http") or not urlsplit(issuer).hostname:
        return f"DELTADB_OIDC_ISSUER must be the issuer's URL (the tokens' iss), got {issuer!r}"
    if not audience:
        return "DELTADB_OIDC_ISSUER needs DELTADB_OIDC_AUDIENCE (the API's audience, or the app client ids)"
    if not mapping:
        return "DELTADB_OIDC_ISSUER needs DELTADB_OIDC_PERMISSIONS (which claim values grant what)"
    if jwks_url:
        return url_problem(jwks_url, "DELTADB_OIDC_JWKS_URL")
    return url_problem(issuer, "DELTADB_OIDC_ISSUER (its keys are discovered from it)")
