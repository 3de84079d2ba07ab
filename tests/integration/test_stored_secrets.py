"""Deployed secrets from AWS Secrets Manager (moto in server mode), not from the function's environment."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib import provisioning
from chalicelib.auth.digest import sha256_hex
from chalicelib.bootstrap import Runtime
from chalicelib.config import ConfigError
from tests.conftest import AppClient, make_settings, s3_endpoint

ADMIN = "stored-admin-key-0123456789"
SESSION = "s" * 48


@pytest.fixture
def secrets_manager(s3_server_pool: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from aws_lambda_powertools.utilities.parameters import base

    endpoint = s3_endpoint(s3_server_pool, "moto")
    for name, value in {
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint,  # botocore: the service id, spaces as _
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }.items():
        monkeypatch.setenv(name, value)
    base.DEFAULT_PROVIDERS.clear()  # a provider keeps the client (and endpoint) it was made with
    yield boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1")
    base.DEFAULT_PROVIDERS.clear()


def new_secret(client: Any, value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return str(client.create_secret(Name=f"deltadb-{uuid.uuid4().hex[:8]}", SecretString=text)["ARN"])


def test_a_deployed_route_function_reads_its_secrets_from_secrets_manager(secrets_manager: Any, tmp_path: Path) -> None:
    arn = new_secret(secrets_manager, {"session_secret": SESSION, "admin_key_sha256": sha256_hex(ADMIN)})
    settings = make_settings(tmp_path, admin_key=None, in_lambda=True, role="main", secrets_id=arn)
    loaded = provisioning.ensure(settings)
    assert loaded.admin_sha256 == sha256_hex(ADMIN) and loaded.session_secret == SESSION.encode()
    assert not (tmp_path / "secrets").exists()  # nothing generated, nothing written


def test_the_api_signs_in_with_the_stored_admin_key(secrets_manager: Any, tmp_path: Path) -> None:
    arn = new_secret(secrets_manager, {"session_secret": SESSION, "admin_key_sha256": sha256_hex(ADMIN)})
    client = AppClient(Runtime(make_settings(tmp_path, admin_key=None, secrets_id=arn)))
    r = client.http.post("/api/login", body=json.dumps({"key": ADMIN}))
    assert r.status_code == 200, r.body
    token = json.loads(r.body)["token"]
    assert client.http.get("/api/keys", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.http.post("/api/login", body=json.dumps({"key": "test-admin-key-0123456789"})).status_code == 401


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("not json", "JSON object"),
        ({"session_secret": "short", "admin_key_sha256": "a" * 64}, "session_secret"),
        ({"session_secret": SESSION, "admin_key_sha256": "xyz"}, "admin_key_sha256"),
        ({"admin_key_sha256": "a" * 64}, "session_secret"),
    ],
)
def test_a_bad_secret_is_a_clear_configuration_error(
    secrets_manager: Any, tmp_path: Path, value: Any, complaint: str
) -> None:
    arn = new_secret(secrets_manager, value)
    with pytest.raises(ConfigError, match=complaint):
        provisioning.ensure(make_settings(tmp_path, admin_key=None, in_lambda=True, role="main", secrets_id=arn))


def test_a_missing_secret_is_a_clear_configuration_error(secrets_manager: Any, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DELTADB_SECRETS_ID: cannot read secret"):
        provisioning.ensure(make_settings(tmp_path, in_lambda=True, role="main", secrets_id="deltadb-none"))


def test_processing_functions_never_read_it(secrets_manager: Any, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, in_lambda=True, role="worker", secrets_id="deltadb-none", kms_key_id="k")
    assert provisioning.ensure(settings).session_secret == b""  # no call made (the secret does not even exist)
