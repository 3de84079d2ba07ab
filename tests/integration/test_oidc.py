"""OIDC access tokens against a local identity provider (own RSA/EC keys, JWKS over HTTP).

The app runs on its real composition root; only the IdP is ours. Each refusal is
checked for its status and the contract's ``{"error": ...}`` body.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chalicelib.auth.oidc import REFETCH_INTERVAL, OidcConfig, OidcVerifier
from chalicelib.auth.oidc_rules import parse_permissions
from chalicelib.errors import Unauthorized
from chalicelib.storage.memory import MemoryStorage
from tests.conftest import ADMIN_KEY, AppClient
from tests.idp import LocalIdp, ec_key, rsa_key

MAPPING = "deltadb-admins=admin,deltadb-writers=read+write,deltadb-readers=read"


@pytest.fixture
def idp() -> Iterator[LocalIdp]:
    server = LocalIdp()
    yield server
    server.stop()


@pytest.fixture
def client(idp: LocalIdp, app_client: Any) -> Any:
    """A function (settings overrides) -> a request function (method, path, token, body) -> (status, json)."""

    def make(**overrides: Any) -> Any:
        settings: dict[str, Any] = {
            "oidc_issuer": idp.issuer,
            "oidc_audience": ("deltadb-api",),
            "oidc_jwks_url": idp.jwks_url,
            "oidc_permissions": parse_permissions(MAPPING),
        }
        app: AppClient = app_client(store=MemoryStorage(), **(settings | overrides))

        def call(method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
            headers = {"Authorization": f"Bearer {token}"}
            r = app.http.request(method, path, headers=headers, body=json.dumps(body) if body is not None else None)
            return r.status_code, json.loads(r.body) if r.body else None

        return call

    return make


def test_each_group_gets_its_mapped_permissions(idp: LocalIdp, client: Any) -> None:
    call = client()
    assert call("PUT", "/entity/db", ADMIN_KEY, {"k": {"v": 1}})[0] == 200
    reader, writer, admin = (idp.token([g]) for g in ("deltadb-readers", "deltadb-writers", "deltadb-admins"))
    nobody = idp.token(["marketing"])

    assert call("GET", "/entity/db?key=k", reader) == (200, {"v": 1})
    assert call("PUT", "/entity/db", reader, {"k": {"v": 2}})[0] == 403
    assert call("PUT", "/entity/db", writer, {"k": {"v": 2}}) == (200, {"status": "ok"})
    assert call("GET", "/entity/db?key=k", writer) == (200, {"v": 2})
    assert call("GET", "/api/keys", writer)[0] == 403
    assert call("GET", "/api/keys", admin) == (200, [])
    status, body = call("GET", "/entity/db?key=k", nobody)
    assert status == 403 and "read" in body["error"]
    # who each one is: the preferred_username (Keycloak) or sub, never the whole token
    assert call("GET", "/api/me", reader) == (200, {"client_id": "alice", "permissions": ["read"], "is_admin": False})
    assert call("GET", "/api/me", admin)[1] == {"client_id": "alice", "permissions": ["admin"], "is_admin": True}
    assert call("GET", "/api/me", nobody) == (200, {"client_id": "alice", "permissions": [], "is_admin": False})
    assert call("GET", "/api/me", idp.token(preferred_username=None, sub="u-42"))[1]["client_id"] == "u-42"


def test_union_of_groups_and_dotted_claim_paths(idp: LocalIdp, client: Any) -> None:
    call = client(oidc_claim="realm_access.roles")  # Keycloak's realm roles
    token = idp.token(groups=None, realm_access={"roles": ["deltadb-readers", "deltadb-writers", "offline"]})
    assert call("GET", "/api/me", token)[1]["permissions"] == ["read", "write"]
    scoped = client(oidc_claim="scope", oidc_permissions=parse_permissions("deltadb/read=read"))
    assert scoped("GET", "/api/me", idp.token(scope="openid deltadb/read"))[1]["permissions"] == ["read"]


@pytest.mark.parametrize(
    ("case", "make_token", "reason"),
    [
        ("wrong issuer", lambda i: i.token(iss="https://evil.example"), "invalid credential"),
        ("wrong audience", lambda i: i.token(aud="other-api"), "another audience"),
        ("expired", lambda i: i.token(lifetime=-120), "expired"),
        ("no exp", lambda i: i.token(exp=None), "'exp'"),
        ("no aud", lambda i: i.token(aud=None), "'aud'"),
        ("unknown kid", lambda i: i.token(kid="k9", key=rsa_key()), "unknown key"),
        ("bad signature", lambda i: i.token(key=rsa_key()), "bad signature"),
        ("HS256", lambda i: i.token(alg="HS256", key=b"x" * 32), "only RS*"),
        ("none", lambda i: jwt.encode({"iss": i.issuer, "aud": "deltadb-api", "sub": "x"}, None, algorithm="none"),
         "only RS*"),
        ("ID token", lambda i: i.token(token_use="id"), "access token"),
        ("not yet valid", lambda i: i.token(nbf=int(time.time()) + 600), "not valid yet"),
    ],
)  # fmt: skip
def test_invalid_tokens_are_401(idp: LocalIdp, client: Any, case: str, make_token: Any, reason: str) -> None:
    status, body = client()("GET", "/api/me", make_token(idp))
    assert status == 401, case
    assert set(body) == {"error"} and reason in body["error"], body


def test_hs256_token_signed_with_the_public_key_is_refused(idp: LocalIdp, client: Any) -> None:
    """The classic confusion: the IdP's public key (public knowledge) as an HMAC secret."""
    public_pem = idp.keys["k1"].public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    payload = {"iss": idp.issuer, "aud": "deltadb-api", "sub": "x", "exp": int(time.time()) + 60}
    forged = _hs256(header, payload | {"groups": ["deltadb-admins"]}, public_pem)
    assert client()("GET", "/api/keys", forged)[0] == 401


def _hs256(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    import base64
    import hashlib
    import hmac

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def test_session_tokens_and_oidc_tokens_are_not_confused(idp: LocalIdp, client: Any) -> None:
    call = client()
    # our own sessions still work beside OIDC
    status, login = call("POST", "/api/login", "", {"key": ADMIN_KEY})
    assert status == 200
    assert call("GET", "/api/keys", login["token"])[0] == 200
    # an IdP-signed token that claims to be one of our sessions goes to the session verifier (HS256 only)
    claims: dict[str, Any] = {
        "iss": "deltadb",
        "aud": "deltadb-api",
        "sub": "admin",
        "iat": int(time.time()),
        "perms": ["admin"],
    }
    assert call("GET", "/api/keys", idp.token(**claims))[0] == 401
    # a session-shaped token signed with the IdP's issuer but HS256 goes to the OIDC verifier, which refuses HS*
    assert call("GET", "/api/keys", idp.token(alg="HS256", key=b"k" * 32, perms=["admin"]))[0] == 401


def test_ec_keys_and_client_id_audience(idp: LocalIdp, client: Any) -> None:
    idp.keys["e1"] = ec_key()
    call = client(oidc_audience=("app-client-1", "app-client-2"), oidc_audience_claim="client_id")
    token = idp.token(kid="e1", alg="ES256", aud=None, client_id="app-client-2", token_use="access")
    assert call("GET", "/api/me", token)[1]["permissions"] == ["read", "write"]
    assert call("GET", "/api/me", idp.token(kid="e1", alg="ES256", aud=None, client_id="other"))[0] == 401
    # client_id mode requires client_id; an aud alone is not enough
    assert call("GET", "/api/me", idp.token(aud="app-client-1"))[0] == 401


def test_the_keys_are_discovered_from_the_issuer(idp: LocalIdp, client: Any) -> None:
    call = client(oidc_jwks_url=None)
    assert call("GET", "/api/me", idp.token())[0] == 200
    assert call("GET", "/api/me", idp.token(["deltadb-readers"]))[0] == 200
    assert idp.requests == {"/.well-known/openid-configuration": 1, "/jwks.json": 1}  # then cached


def test_rotation_new_key_accepted_after_one_refetch(idp: LocalIdp, client: Any) -> None:
    call = client()
    assert call("GET", "/api/me", idp.token())[0] == 200
    assert idp.requests["/jwks.json"] == 1
    idp.keys = {"k2": rsa_key()}  # the IdP rotates: k1 is gone, k2 signs from now on
    assert call("GET", "/api/me", idp.token(kid="k2"))[0] == 200  # no restart
    assert idp.requests["/jwks.json"] == 2
    assert call("GET", "/api/me", idp.token(kid="k2", sub="u2"))[0] == 200
    assert idp.requests["/jwks.json"] == 2  # the new set is cached


def test_unknown_kids_refetch_at_most_once_per_interval(idp: LocalIdp) -> None:
    now = [1000.0]
    config = OidcConfig(idp.issuer, ("deltadb-api",), "aud", "groups", parse_permissions(MAPPING), idp.jwks_url)
    verifier = OidcVerifier(config, clock=lambda: now[0])
    assert verifier.verify(idp.token()).permissions == {"read", "write"}
    for i in range(5):  # made-up kids: one refetch, then refused without asking the IdP
        with pytest.raises(Unauthorized, match="unknown key"):
            verifier.verify(idp.token(kid=f"x{i}", key=rsa_key()))
    assert idp.requests["/jwks.json"] == 2
    idp.keys["k3"] = rsa_key()
    with pytest.raises(Unauthorized, match="unknown key"):  # still within the interval
        verifier.verify(idp.token(kid="k3"))
    now[0] += REFETCH_INTERVAL
    assert verifier.verify(idp.token(kid="k3")).client_id == "alice"
    assert idp.requests["/jwks.json"] == 3


def test_unreachable_keys_are_503_not_401(idp: LocalIdp, client: Any) -> None:
    call = client(oidc_jwks_url=idp.jwks_url.replace("/jwks.json", "/missing.json"))
    status, body = call("GET", "/api/me", idp.token())
    assert status == 503 and set(body) == {"error"}


def test_without_oidc_settings_nothing_is_fetched(idp: LocalIdp, app_client: Any) -> None:
    app = app_client(store=MemoryStorage())
    r = app.http.get("/api/me", headers={"Authorization": f"Bearer {idp.token(['deltadb-admins'])}"})
    assert r.status_code == 401
    assert app.runtime.services.auth.oidc is None
    assert sum(idp.requests.values()) == 0
