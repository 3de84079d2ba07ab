"""The LocalStack switch: endpoints by localstack-client's discovery, the settings it implies."""

from __future__ import annotations

import pytest

from chalicelib import localstack
from chalicelib.config import ConfigError, Settings
from chalicelib.localstack import s3_credentials, s3_endpoint
from local.cli import parser
from local.flags import apply


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "LOCALSTACK_HOST", "EDGE_PORT", "USE_SSL", "USE_LEGACY_PORTS"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "http://localhost:4566"),
        ({"LOCALSTACK_HOST": "127.0.0.1:4599"}, "http://127.0.0.1:4599"),
        ({"LOCALSTACK_HOST": "localstack"}, "http://localstack:4566"),
        ({"EDGE_PORT": "4510"}, "http://localhost:4510"),
        ({"EDGE_PORT": "4510", "LOCALSTACK_HOST": "ls:4511"}, "http://ls:4511"),  # LOCALSTACK_HOST wins
        ({"LOCALSTACK_HOST": "ls:443", "USE_SSL": "1"}, "https://ls:443"),
        ({"AWS_ENDPOINT_URL": "http://10.0.0.9:4566", "LOCALSTACK_HOST": "ls:1"}, "http://10.0.0.9:4566"),
    ],
)
def test_endpoint_discovery(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert localstack.endpoints() == localstack.Endpoints(s3=expected, kms=expected)


def test_the_switch_selects_s3_with_localstack_endpoint_and_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCALSTACK_HOST", "127.0.0.1:4600")
    s = Settings.from_env({"DELTADB_LOCALSTACK": "1"})
    assert (s.localstack, s.backend) == (True, "s3")
    assert s3_endpoint(s) == "http://127.0.0.1:4600"
    assert s3_credentials(s) == ("test", "test")
    given = Settings.from_env(
        {"DELTADB_LOCALSTACK": "1", "S3_ENDPOINT": "http://127.0.0.1:9", "S3_ACCESS_KEY": "a", "S3_SECRET_KEY": "b"}
    )
    assert (s3_endpoint(given), s3_credentials(given)) == ("http://127.0.0.1:9", ("a", "b"))  # explicit wins
    off = Settings.from_env({})
    assert (off.backend, s3_endpoint(off), s3_credentials(off)) == ("fs", None, (None, None))


def test_the_switch_is_refused_in_lambda() -> None:
    with pytest.raises(ConfigError, match="refused in Lambda"):
        Settings.from_env({"DELTADB_LOCALSTACK": "true", "AWS_LAMBDA_FUNCTION_NAME": "f", "DELTADB_ROLE": "main"})


@pytest.mark.parametrize("command", ["serve", "up", "worker"])
def test_the_flag_sets_the_variable(command: str) -> None:
    env: dict[str, str] = {}
    apply(parser().parse_args([command, "--localstack"]), env)
    assert env == {"DELTADB_LOCALSTACK": "true"}
    assert Settings.from_env(env).localstack
