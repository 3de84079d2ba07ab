"""OIDC settings: the permission mapping, claim paths and the rules between the settings."""

from __future__ import annotations

import pytest

from chalicelib.auth.oidc_rules import claim_values, parse_permissions, permissions_for
from chalicelib.config import ConfigError, Settings

OK = {"DELTADB_OIDC_ISSUER": "https://idp.example/realms/x", "DELTADB_OIDC_AUDIENCE": "api"}


def test_mapping_parses_values_and_permission_sets() -> None:
    m = parse_permissions("deltadb-admin=admin, writers=read+write ,/team/a=b=READ")
    assert [(v, set(p)) for v, p in m] == [
        ("deltadb-admin", {"admin"}),
        ("writers", {"read", "write"}),
        ("/team/a=b", {"read"}),
    ]


@pytest.mark.parametrize("bad", ["admins", "=admin", "x=", "x=read+owner", "x=+"])
def test_bad_mappings_name_the_setting(bad: str) -> None:
    with pytest.raises(ConfigError, match="DELTADB_OIDC_PERMISSIONS"):
        parse_permissions(bad)


def test_claim_values_top_level_dotted_and_scope_strings() -> None:
    payload = {
        "cognito:groups": ["a", "b"],
        "realm_access": {"roles": ["r1", 7, "r2"]},
        "scope": "openid deltadb/read",
        "https://example.com/roles": ["x"],
    }
    assert claim_values(payload, "cognito:groups") == ["a", "b"]
    assert claim_values(payload, "realm_access.roles") == ["r1", "r2"]
    assert claim_values(payload, "scope") == ["openid", "deltadb/read"]
    assert claim_values(payload, "https://example.com/roles") == ["x"]  # a dotted name taken whole first
    assert claim_values(payload, "realm_access.missing") == []
    assert claim_values(payload, "groups") == []
    mapping = parse_permissions("a=read,b=write,zz=admin")
    assert permissions_for(payload, "cognito:groups", mapping) == {"read", "write"}


def test_settings_parse_from_the_environment() -> None:
    s = Settings.from_env(OK | {"DELTADB_OIDC_PERMISSIONS": "g=read", "DELTADB_OIDC_AUDIENCE_CLAIM": "CLIENT_ID"})
    assert (s.oidc_audience, s.oidc_audience_claim, s.oidc_claim) == (("api",), "client_id", "groups")
    assert Settings.from_env({}).oidc_issuer is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DELTADB_OIDC_AUDIENCE": "api"}, "need DELTADB_OIDC_ISSUER"),
        ({"DELTADB_OIDC_ISSUER": "deltadb", "DELTADB_OIDC_AUDIENCE": "a"}, "issuer's URL"),
        (OK, "needs DELTADB_OIDC_PERMISSIONS"),
        ({**OK, "DELTADB_OIDC_AUDIENCE": ""}, "needs DELTADB_OIDC_AUDIENCE"),
        ({**OK, "DELTADB_OIDC_PERMISSIONS": "g=read", "DELTADB_OIDC_JWKS_URL": "http://idp.example/jwks"}, "https"),
        ({**OK, "DELTADB_OIDC_PERMISSIONS": "g=read", "DELTADB_OIDC_ISSUER": "http://idp.example"}, "https"),
        ({**OK, "DELTADB_OIDC_PERMISSIONS": "g=read", "DELTADB_OIDC_AUDIENCE_CLAIM": "azp"}, "aud or client_id"),
    ],
)
def test_settings_rules(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_http_only_for_loopback() -> None:
    local = {**OK, "DELTADB_OIDC_PERMISSIONS": "g=read", "DELTADB_OIDC_ISSUER": "http://127.0.0.1:8081/realms/x"}
    assert Settings.from_env(local).oidc_issuer == "http://127.0.0.1:8081/realms/x"
    assert Settings.from_env(local | {"DELTADB_OIDC_JWKS_URL": "http://localhost:1/jwks"}).oidc_jwks_url
