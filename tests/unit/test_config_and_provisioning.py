"""Settings from the environment and first-start secrets."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from chalicelib import provisioning
from chalicelib.auth.admin import sha256_hex
from chalicelib.config import ConfigError, Settings
from chalicelib.durations import parse_duration, parse_size


def test_defaults() -> None:
    s = Settings.from_env({})
    assert s.token_ttl_seconds == 86400 and s.max_body_bytes == 1 << 20
    assert s.resolved_secrets_dir.name == "data-secrets"


def test_deployed_handler_names() -> None:
    handlers = ("entity_worker", "meta_worker")
    chalice = Settings.from_env({"AWS_LAMBDA_FUNCTION_NAME": "deltadatabase-dev", "DELTADB_ROLE": "main"})
    assert chalice.lambda_function_names(handlers) == {
        "entity_worker": "deltadatabase-dev-entity_worker",
        "meta_worker": "deltadatabase-dev-meta_worker",
    }
    cfn = {"DELTADB_LAMBDA_FUNCTIONS": "entity_worker=stack-EntityWorker-A1, meta_worker=stack-MetaWorker-B2"}
    assert Settings.from_env(cfn).lambda_function_names(handlers) == {
        "entity_worker": "stack-EntityWorker-A1",
        "meta_worker": "stack-MetaWorker-B2",
    }
    with pytest.raises(ConfigError):
        Settings.from_env({"DELTADB_LAMBDA_FUNCTIONS": "entity_worker"})


def test_a_deployed_handler_needs_a_kek() -> None:
    with pytest.raises(ConfigError):
        Settings.from_env({"AWS_LAMBDA_FUNCTION_NAME": "f-entity_worker", "DELTADB_ROLE": "worker"})
    s = Settings.from_env({"AWS_LAMBDA_FUNCTION_NAME": "f", "DELTADB_ROLE": "worker", "DELTADB_KMS_KEY_ID": "alias/k"})
    assert s.kms_key_id == "alias/k" and provisioning.ensure(s).admin_sha256 is None  # a handler authenticates nobody
    with pytest.raises(ConfigError):
        Settings.from_env({"DELTADB_KMS_KEY_ID": "alias/k", "DELTADB_MASTER_KEY": "A" * 44})


def test_env_values() -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    s = Settings.from_env({"DELTADB_MASTER_KEY": key, "DELTADB_TOKEN_TTL": "1h30m", "DELTADB_MAX_BODY": "2MiB"})
    assert s.master_key == base64.b64decode(key)
    assert s.token_ttl_seconds == 5400 and s.max_body_bytes == 2 << 20
    assert Settings.from_env({"DELTADB_MASTER_KEY": os.urandom(32).hex()}).master_key is not None


@pytest.mark.parametrize(
    "env",
    [
        {"DELTADB_MASTER_KEY": "c2hvcnQ="},
        {"DELTADB_ADMIN_KEY": "short"},
        {"DELTADB_SESSION_SECRET": "too-short"},
        {"DELTADB_TOKEN_TTL": "soon"},
        {"DELTADB_MAX_BODY": "lots"},
        {"DELTADB_DEV_MODE": "1", "AWS_LAMBDA_FUNCTION_NAME": "f"},
        {"DELTADB_DEV_MODE": "1", "DELTADB_ADMIN_KEY": "x" * 20},
    ],
)
def test_bad_env_is_a_config_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(env)


def test_durations() -> None:
    assert parse_duration("24h") == 86400 and parse_duration("7d") == 604800 and parse_duration("1w") == 604800
    assert parse_duration("90s") == 90 and parse_duration("1h30m") == 5400
    for bad in ["", "h", "-1h", "1y", "0s", "1.5h"]:
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert parse_size("512KiB") == 524288 and parse_size("1000") == 1000


def test_first_start_generates_once(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "data")
    first = provisioning.ensure(s)
    assert first.generated_admin_key and first.generated_admin_key.startswith("ak_")
    assert first.admin_sha256 == sha256_hex(first.generated_admin_key)
    again = provisioning.ensure(s)
    assert again.generated_admin_key is None
    assert again.admin_sha256 == first.admin_sha256 and again.session_secret == first.session_secret
    folder = tmp_path / "data-secrets"
    for name in ("admin.json", "session.key", "keyring.json"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    assert first.generated_admin_key not in (folder / "admin.json").read_text()
    assert json.loads((folder / "admin.json").read_text()).keys() == {"sha256"}
    assert len(first.session_secret) == 32


def test_configured_admin_key_is_not_generated(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "data", admin_key="configured-admin-key-123")
    sec = provisioning.ensure(s)
    assert sec.generated_admin_key is None and sec.admin_sha256 == sha256_hex("configured-admin-key-123")


def test_lambda_requires_complete_configuration() -> None:
    with pytest.raises(ConfigError):
        provisioning.ensure(Settings(in_lambda=True, admin_key="x" * 20))
    sec = provisioning.ensure(Settings(in_lambda=True, admin_key="x" * 20, session_secret=b"s" * 32))
    assert sec.admin_sha256 == sha256_hex("x" * 20)


def test_main_role_holds_no_keys_and_no_storage(tmp_path: Path) -> None:
    from chalicelib.bootstrap import Runtime

    s = Settings(
        data_dir=tmp_path / "data",
        admin_key="admin-key-0123456789",
        role="main",
        invoker="pool",
        worker_urls=("http://127.0.0.1:1",),
        worker_secret="w" * 40,
    )
    sec = provisioning.ensure(s)
    assert sec.key_file is None
    assert not (tmp_path / "data-secrets" / "keyring.json").exists()
    runtime = Runtime(s)
    with pytest.raises(RuntimeError):
        _ = runtime.processing


def test_worker_pools_need_a_strong_secret() -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(
            {"DELTADB_INVOKER": "pool", "DELTADB_WORKER_URLS": "http://x:1", "DELTADB_WORKER_SECRET": "short"}
        )
    with pytest.raises(ConfigError):
        Settings.from_env({"DELTADB_INVOKER": "pool"})


@pytest.mark.parametrize(
    "var", ["DELTADB_APIKEY_REVALIDATE_SECONDS", "DELTADB_KEY_CACHE_MAX_AGE", "DELTADB_SCHEMA_REVALIDATE_SECONDS"]
)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1"])
def test_a_time_window_must_be_a_finite_non_negative_number(var: str, value: str) -> None:
    # "nan" would never compare as expired: a revoked key or shredded database honoured until restart.
    with pytest.raises(ConfigError, match=var):
        Settings.from_env({var: value})


def test_the_api_key_reuse_window_is_off_by_default_and_takes_durations() -> None:
    assert Settings.from_env({}).apikey_revalidate_seconds == 0
    assert Settings.from_env({"DELTADB_APIKEY_REVALIDATE_SECONDS": "5s"}).apikey_revalidate_seconds == 5
