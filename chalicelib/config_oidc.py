"""The external-identity settings of ``Settings`` (chalicelib/config.py): OIDC access tokens as Bearer credentials.

Declared here, one field each with ``setting()`` like every setting; ``Settings`` inherits them. The rules
between them are chalicelib/auth/oidc_rules.py; docs/deploy.md shows Cognito and Keycloak.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.auth.oidc_rules import parse_permissions
from chalicelib.settings_table import csv, lower, setting


@dataclass(frozen=True)
class OidcSettings:
    oidc_issuer: str | None = setting(
        None, env="DELTADB_OIDC_ISSUER", shown="off", help="OIDC issuer URL (the tokens' iss); turns OIDC tokens on"
    )
    oidc_audience: tuple[str, ...] = setting(
        (), env="DELTADB_OIDC_AUDIENCE", parse=csv, shown="",
        help="accepted audiences, comma-separated: the API's aud, or the app client ids (see _AUDIENCE_CLAIM)",
    )  # fmt: skip
    oidc_audience_claim: str = setting(
        "aud", env="DELTADB_OIDC_AUDIENCE_CLAIM", parse=lower, choices=("aud", "client_id"),
        help="the claim checked against the audience: aud, or client_id (Cognito access tokens have no aud)",
    )  # fmt: skip
    oidc_jwks_url: str | None = setting(
        None, env="DELTADB_OIDC_JWKS_URL", shown="discovered",
        help="the issuer's JWKS; default <issuer>/.well-known/jwks.json for Cognito, else from "
        "<issuer>/.well-known/openid-configuration",
    )  # fmt: skip
    oidc_claim: str = setting(
        "groups", env="DELTADB_OIDC_CLAIM",
        help="the claim mapped to permissions: groups, cognito:groups, scope, roles, or a dotted path "
        "(realm_access.roles)",
    )  # fmt: skip
    oidc_permissions: tuple[tuple[str, frozenset[str]], ...] = setting(
        (), env="DELTADB_OIDC_PERMISSIONS", parse=parse_permissions, shown="",
        help="claim value -> permissions, e.g. deltadb-admins=admin,deltadb-writers=read+write,deltadb-readers=read",
    )  # fmt: skip
