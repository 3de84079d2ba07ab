"""OIDC with Amazon Cognito as the issuer: moto's Cognito user pools in server mode.

moto_server runs on 127.0.0.1; a user pool with groups, two app clients and users are
made through its API, real access tokens come from ``admin_initiate_auth``, and the app
fetches the pool's keys over HTTP from moto's ``/<pool>/.well-known/jwks.json``.
Cognito access tokens carry ``client_id`` and no ``aud``: the audience claim is client_id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from chalicelib.auth.oidc_rules import parse_permissions
from chalicelib.storage.memory import MemoryStorage
from tests import s3servers
from tests.conftest import ADMIN_KEY, s3_endpoint

REGION = "us-east-1"
PASSWORD = "Correct-Horse-9-battery"
MAPPING = "deltadb-admins=admin,deltadb-writers=read+write,deltadb-readers=read"


@dataclass
class Pool:
    endpoint: str
    pool_id: str
    client_id: str
    other_client_id: str
    idp: Any

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.pool_id}"

    def tokens(self, user: str, client_id: str | None = None) -> dict[str, str]:
        r = self.idp.admin_initiate_auth(
            UserPoolId=self.pool_id,
            ClientId=client_id or self.client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": user, "PASSWORD": PASSWORD},
        )
        return dict(r["AuthenticationResult"])


@pytest.fixture
def pool(s3_server_pool: dict[str, s3servers.S3Server]) -> Pool:
    endpoint = s3_endpoint(s3_server_pool, "moto")
    idp = boto3.client(
        "cognito-idp", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
    )
    pool_id = idp.create_user_pool(PoolName="deltadb-users")["UserPool"]["Id"]

    def app_client(name: str) -> str:
        flows = ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
        made = idp.create_user_pool_client(UserPoolId=pool_id, ClientName=name, ExplicitAuthFlows=flows)
        return str(made["UserPoolClient"]["ClientId"])

    for group in ("deltadb-admins", "deltadb-writers", "deltadb-readers"):
        idp.create_group(UserPoolId=pool_id, GroupName=group)
    users = {"ann": ["deltadb-admins"], "wes": ["deltadb-writers"], "rita": ["deltadb-readers"], "nora": []}
    for user, groups in users.items():
        idp.admin_create_user(UserPoolId=pool_id, Username=user, MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=pool_id, Username=user, Password=PASSWORD, Permanent=True)
        for group in groups:
            idp.admin_add_user_to_group(UserPoolId=pool_id, Username=user, GroupName=group)
    return Pool(endpoint, pool_id, app_client("deltadb-console"), app_client("another-app"), idp)


@pytest.fixture
def call(pool: Pool, app_client: Any) -> Any:
    app = app_client(
        store=MemoryStorage(),
        oidc_issuer=pool.issuer,
        oidc_audience=(pool.client_id,),
        oidc_audience_claim="client_id",
        oidc_claim="cognito:groups",
        oidc_permissions=parse_permissions(MAPPING),
        oidc_jwks_url=f"{pool.endpoint}/{pool.pool_id}/.well-known/jwks.json",
    )

    def request(method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        r = app.http.request(method, path, headers=headers, body=json.dumps(body) if body is not None else None)
        return r.status_code, json.loads(r.body) if r.body else None

    return request


def test_cognito_groups_map_to_permissions(pool: Pool, call: Any) -> None:
    assert call("PUT", "/entity/db", ADMIN_KEY, {"k": [1]})[0] == 200
    ann, wes, rita, nora = (pool.tokens(u)["AccessToken"] for u in ("ann", "wes", "rita", "nora"))

    assert call("GET", "/entity/db?key=k", rita) == (200, [1])
    assert call("PUT", "/entity/db", rita, {"k": [2]})[0] == 403
    assert call("PUT", "/entity/db", wes, {"k": [2]}) == (200, {"status": "ok"})
    assert call("GET", "/entity/db?key=k", wes) == (200, [2])
    assert call("GET", "/api/keys", wes)[0] == 403
    assert call("GET", "/api/keys", ann) == (200, [])
    assert call("GET", "/entity/db?key=k", nora)[0] == 403
    assert call("GET", "/api/me", ann) == (200, {"client_id": "ann", "permissions": ["admin"], "is_admin": True})
    assert call("GET", "/api/me", nora) == (200, {"client_id": "nora", "permissions": [], "is_admin": False})


def test_id_tokens_and_other_app_clients_are_refused(pool: Pool, call: Any) -> None:
    tokens = pool.tokens("ann")
    status, body = call("GET", "/api/me", tokens["IdToken"])  # aud = the client, token_use = id
    assert status == 401 and set(body) == {"error"}
    other = pool.tokens("ann", pool.other_client_id)["AccessToken"]
    status, body = call("GET", "/api/keys", other)
    assert status == 401 and "another app client" in body["error"]
    status, _ = call("GET", "/api/keys", tokens["AccessToken"][:-4] + "AAAA")  # signature spoiled
    assert status == 401
