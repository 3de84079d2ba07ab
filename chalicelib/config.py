"""Settings: the one place that reads configuration (environment variables).

Each setting is declared once, as a field of ``Settings`` made with ``setting()`` (chalicelib/settings_table.py;
the storage and OIDC groups in config_storage.py and config_oidc.py, which ``Settings`` inherits): its
environment variable(s), parser, default, help text, the ``deltadb`` flag and the
commands that take it, and its own limits (choices, minimum). ``Settings.from_env``
and the CLI's flags (local/flags.py, help text naming the variable) both come from
that declaration; rules that involve several settings live in ``Settings.check``.

The CLI turns its flags into these variables before it starts server processes, so
flags, env and Chalice stage config (``.chalice/config.json``
``environment_variables``) all land here.
"""

# ruff: noqa: RUF009 (each field's default is a setting() declaration: an immutable Field)
from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from chalicelib.auth.oidc_rules import settings_problem
from chalicelib.config_oidc import OidcSettings
from chalicelib.config_storage import StorageSettings
from chalicelib.durations import parse_duration, parse_size
from chalicelib.settings_table import (
    API_COMMANDS,
    ConfigError,
    Env,
    boolean,
    csv,
    load,
    lower,
    pairs,
    setting,
    upper,
)

if TYPE_CHECKING:
    from chalicelib.crypto.database_keys import CacheLimits

__all__ = ["ConfigError", "Settings", "decode_key_material"]


def decode_key_material(text: str, what: str) -> bytes:
    """A 32-byte key given as base64 (standard or url-safe) or 64 hex digits."""
    text = text.strip()
    candidates: list[bytes] = []
    if len(text) == 64:
        try:
            candidates.append(bytes.fromhex(text))
        except ValueError:
            pass
    for decoder in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            candidates.append(decoder(text + "=" * (-len(text) % 4)))
        except (binascii.Error, ValueError):
            pass
    for raw in candidates:
        if len(raw) == 32:
            return raw
    raise ConfigError(f"{what} must be 32 bytes, given as base64 or 64 hex digits")


_SIZES = "e.g. 512KiB, 1MiB"


def seconds_or_duration(text: str) -> float:
    """``0``, ``2.5`` (seconds) or a duration such as ``30s``, ``5m``."""
    try:
        return float(text)
    except ValueError:
        return float(parse_duration(text))


@dataclass(frozen=True)
class Settings(StorageSettings, OidcSettings):
    """Every setting of the app: these, and the storage and OIDC ones it inherits."""

    data_dir: Path = setting(
        Path("data"), env="DELTADB_DATA_DIR", parse=Path, flag="--data-dir", shown="./data",
        help="storage root: files/, templates/, _auth/ directly under it",
    )  # fmt: skip
    secrets_dir: Path | None = setting(
        None, env="DELTADB_SECRETS_DIR", parse=Path, flag="--secrets-dir", shown="<data-dir>-secrets",
        help="first-start secrets (keyring, admin-key hash, session key), outside the storage root",
    )  # fmt: skip
    admin_key: str | None = setting(
        None, env="DELTADB_ADMIN_KEY", secret=True, flag="--admin-key", commands=API_COMMANDS,
        shown="generated on first start", help="admin key, >= 16 characters (prefer the env var: flags show in ps)",
    )  # fmt: skip
    admin_key_sha256: str | None = setting(
        None, env="DELTADB_ADMIN_KEY_SHA256", parse=lower, help="the admin key given as its SHA-256 hex instead"
    )
    dev_mode: bool = setting(
        False, env="DELTADB_DEV_MODE", parse=boolean, flag="--dev", commands=API_COMMANDS, shown="off",
        help="dev mode: no admin key, login by client_id gives read+write (never deploy; refused in Lambda)",
    )  # fmt: skip
    master_key: bytes | None = setting(
        None, env="DELTADB_MASTER_KEY", secret=True, parse=partial(decode_key_material, what="DELTADB_MASTER_KEY"),
        shown="key file", help="32-byte key-encryption key, base64 or hex, instead of the keyring file",
    )  # fmt: skip
    key_file: Path | None = setting(
        None, env="DELTADB_KEY_FILE", parse=Path, flag="--key-file",
        shown="<secrets-dir>/keyring.json", help="local keyring file",
    )  # fmt: skip
    kms_key_id: str | None = setting(
        None, env="DELTADB_KMS_KEY_ID", flag="--kms-key-id",
        help="key-encryption key in AWS KMS: key id, ARN or alias/... (instead of a local keyring)",
    )  # fmt: skip
    # botocore reads only AWS_DEFAULT_REGION; AWS_REGION is what Lambda and most tools set.
    kms_region: str | None = setting(
        None, env=("DELTADB_KMS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"), shown="AWS_REGION",
        help="region of the KMS key",
    )  # fmt: skip
    session_secret: bytes | None = setting(
        None, env="DELTADB_SESSION_SECRET", secret=True, parse=str.encode, shown="generated",
        help="JWT signing key (>= 32 bytes); the same on every instance",
    )  # fmt: skip
    secrets_id: str | None = setting(
        None, env="DELTADB_SECRETS_ID",
        help="AWS Secrets Manager secret (id or ARN), a JSON object with session_secret and admin_key_sha256, "
        "read at start instead of DELTADB_SESSION_SECRET / DELTADB_ADMIN_KEY_SHA256 (infra/template.json makes it)",
    )  # fmt: skip
    token_ttl_seconds: int = setting(
        24 * 3600, env="DELTADB_TOKEN_TTL", parse=parse_duration, flag="--token-ttl", commands=API_COMMANDS,
        shown="24h", help="session token lifetime, e.g. 30m, 24h, 7d",
    )  # fmt: skip
    max_body_bytes: int = setting(
        1024 * 1024, env="DELTADB_MAX_BODY", parse=parse_size, flag="--max-body", commands=API_COMMANDS,
        shown="1MiB", minimum=1024, minimum_text="1KiB", help=f"request body limit ({_SIZES}); larger bodies get 413",
    )  # fmt: skip
    log_level: str = setting(
        "INFO", env="DELTADB_LOG_LEVEL", parse=upper, flag="--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"), hidden_choices=("CRITICAL",), help="log level",
    )  # fmt: skip
    audit_log: Path | None = setting(
        None, env="DELTADB_AUDIT_LOG", parse=Path, flag="--audit-log", shown="stderr, with the other logs",
        help="append the audit trail (one JSON line per security-relevant action) to this file instead",
    )  # fmt: skip
    in_lambda: bool = setting(False, env="AWS_LAMBDA_FUNCTION_NAME", parse=bool, shown="set by Lambda",
                              help="running in AWS Lambda: deployed-stage rules apply")  # fmt: skip
    cache_entries: int = setting(
        10_000, env="DELTADB_CACHE_ENTRIES", parse=int, minimum=0,
        help="decrypted values kept per process; always revalidated by ETag, never served stale",
    )  # fmt: skip
    # The database-key cache (chalicelib/crypto/database_keys.py): with KMS, the data-key cache.
    key_cache_seconds: float = setting(
        5.0, env="DELTADB_KEY_CACHE_MAX_AGE", parse=seconds_or_duration, shown="5s", minimum=0,
        help="how long an unwrapped database key is reused (0: unwrap for every entity); also how long "
        "a shred may take to reach this process's cached key (see docs/operations.md)",
    )  # fmt: skip
    key_cache_messages: int = setting(
        100_000, env="DELTADB_KEY_CACHE_MAX_MESSAGES", parse=int, minimum=1,
        help="entities sealed under one cached database key before it is unwrapped again",
    )  # fmt: skip
    key_cache_bytes: int = setting(
        1 << 30, env="DELTADB_KEY_CACHE_MAX_BYTES", parse=parse_size, shown="1GiB", minimum=1,
        help=f"plaintext bytes sealed under one cached database key before it is unwrapped again ({_SIZES})",
    )  # fmt: skip
    schema_revalidate_seconds: float | None = setting(
        None, env="DELTADB_SCHEMA_REVALIDATE_SECONDS", parse=float, shown="0 on FS, 2 on S3", minimum=0,
        help="how long another instance's schema change may take to apply here",
    )  # fmt: skip
    apikey_revalidate_seconds: float = setting(
        0.0, env="DELTADB_APIKEY_REVALIDATE_SECONDS", parse=seconds_or_duration, shown="0", minimum=0,
        help="how long a process reuses an API key's record before reading it again (0: on every request); also "
        "how long a key deleted, disabled or changed through another process may still be honoured here",
    )  # fmt: skip
    operation_retention_seconds: int = setting(
        7 * 86400, env="DELTADB_OPERATION_RETENTION", parse=parse_duration, flag="--operation-retention",
        shown="7d", minimum=3600, minimum_text="1h",
        help="how long asynchronous operations (_ops/) are kept, e.g. 24h, 7d; on S3 the bucket's lifecycle rule "
        "removes them (infra/template.json), on the filesystem the processing side does",
    )  # fmt: skip
    # Processing handlers: "inprocess" (embedded), "pool" (local workers), "lambda" (boto3 invoke).
    invoker: str = setting(
        "inprocess", env="DELTADB_INVOKER", parse=lower, choices=("inprocess", "pool", "lambda"),
        help="where the processing handlers run",
    )  # fmt: skip
    role: str = setting(
        "all", env="DELTADB_ROLE", parse=lower, choices=("all", "main", "worker"),
        help="all; main (routes only: no keys, no storage); worker (handlers only)",
    )  # fmt: skip
    worker_urls: tuple[str, ...] = setting(
        (), env="DELTADB_WORKER_URLS", parse=csv, shown="", help="comma-separated worker URLs for the pool invoker"
    )
    worker_secret: str | None = setting(
        None, env="DELTADB_WORKER_SECRET", secret=True, shown="generated by up",
        help="signs main -> worker calls (>= 32 characters)",
    )  # fmt: skip
    worker_timeout: float = setting(
        10.0, env="DELTADB_WORKER_TIMEOUT", parse=float, shown="10",
        help="seconds before a silent worker's call fails over to another",
    )  # fmt: skip
    worker_id: str | None = setting(None, env="DELTADB_WORKER_ID", flag="--worker-id", commands=("worker",),
                                    help="name shown in /admin/workers")  # fmt: skip
    lambda_endpoint: str | None = setting(
        None, env="DELTADB_LAMBDA_ENDPOINT", shown="AWS", help="Invoke API endpoint for the lambda invoker"
    )
    # Deployed function of each handler. DELTADB_LAMBDA_FUNCTIONS
    # ("entity_worker=<name>,meta_worker=<name>", set by infra/template.json) wins;
    # else "<prefix><handler>" with DELTADB_LAMBDA_PREFIX, by default this function's
    # name + "-" (`chalice deploy` names them <app>-<stage>-<handler>, the API <app>-<stage>).
    lambda_functions: tuple[tuple[str, str], ...] = setting(
        (), env="DELTADB_LAMBDA_FUNCTIONS", parse=partial(pairs, what="DELTADB_LAMBDA_FUNCTIONS"), shown="",
        help="deployed function names: entity_worker=<name>,meta_worker=<name>",
    )  # fmt: skip
    lambda_prefix: str | None = setting(
        None, env=("DELTADB_LAMBDA_PREFIX", Env("AWS_LAMBDA_FUNCTION_NAME", parse=lambda fn: f"{fn}-")),
        shown="<this function>-", help="prefix of the deployed handler functions' names",
    )  # fmt: skip
    # Metrics (docs/operations.md#metrics). The endpoint's port and address are the HTTP server's
    # settings (local/server_settings.py); these say what each process records.
    metrics_dir: Path | None = setting(
        None, env="PROMETHEUS_MULTIPROC_DIR", parse=Path, shown="set by --metrics-port",
        help="folder where each server process writes its Prometheus metrics (prometheus-client's multiprocess "
        "mode); deltadb serve|up|worker --metrics-port make a fresh one per run. Unset: no metrics recorded",
    )  # fmt: skip
    metrics_namespace: str = setting(
        "DeltaDatabase", env=("DELTADB_METRICS_NAMESPACE", "POWERTOOLS_METRICS_NAMESPACE"),
        help="CloudWatch namespace of the embedded-metric-format lines written in Lambda",
    )  # fmt: skip
    metrics_disabled: bool = setting(
        False, env="POWERTOOLS_METRICS_DISABLED", parse=boolean, shown="false",
        help="no embedded-metric-format lines in Lambda (Powertools' own switch)",
    )  # fmt: skip

    @property
    def key_cache(self) -> CacheLimits:
        from chalicelib.crypto.database_keys import CacheLimits

        return CacheLimits(self.key_cache_seconds, self.key_cache_messages, self.key_cache_bytes)

    def lambda_function_names(self, handlers: tuple[str, ...]) -> dict[str, str]:
        names = {h: f"{self.lambda_prefix}{h}" for h in handlers} if self.lambda_prefix else {}
        return names | dict(self.lambda_functions)

    @property
    def schema_revalidate(self) -> float:
        if self.schema_revalidate_seconds is not None:
            return self.schema_revalidate_seconds
        return 2.0 if self.backend == "s3" else 0.0

    @property
    def backend(self) -> str:
        if self.storage in ("fs", "s3"):
            return self.storage
        return "s3" if (self.s3_endpoint or self.in_lambda or self.localstack) else "fs"

    @property
    def resolved_secrets_dir(self) -> Path:
        if self.secrets_dir is not None:
            return self.secrets_dir
        data = self.data_dir.resolve()
        return data.parent / f"{data.name}-secrets"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        settings = load(cls, os.environ if env is None else env)
        settings.check()
        return settings

    def check(self) -> None:
        """The rules between settings (each setting's own limits are checked by ``load``)."""
        if self.admin_key is not None and len(self.admin_key) < 16:
            raise ConfigError("the admin key must be at least 16 characters")
        if self.session_secret is not None and len(self.session_secret) < 32:
            raise ConfigError("DELTADB_SESSION_SECRET must be at least 32 bytes")
        if self.localstack and self.in_lambda:
            raise ConfigError("DELTADB_LOCALSTACK is for local runs; refused in Lambda")
        if self.dev_mode and self.in_lambda:
            raise ConfigError("dev mode is refused in a deployed (Lambda) stage")
        if self.kms_key_id and (self.master_key is not None or self.key_file is not None):
            raise ConfigError("DELTADB_KMS_KEY_ID excludes DELTADB_MASTER_KEY and DELTADB_KEY_FILE: choose one KEK")
        if self.in_lambda and self.role != "main" and not (self.kms_key_id or self.master_key or self.key_file):
            raise ConfigError("a deployed handler needs DELTADB_KMS_KEY_ID (or DELTADB_MASTER_KEY)")
        if self.dev_mode and (self.admin_key or self.admin_key_sha256):
            raise ConfigError("dev mode and an admin key exclude each other")
        if bool(self.s3_access_key) != bool(self.s3_secret_key):
            raise ConfigError("S3_ACCESS_KEY and S3_SECRET_KEY go together")
        oidc = (self.oidc_issuer, self.oidc_audience, self.oidc_jwks_url, self.oidc_permissions)
        if problem := settings_problem(*oidc):
            raise ConfigError(problem)
        if self.invoker == "pool" and not self.worker_urls:
            raise ConfigError("DELTADB_INVOKER=pool needs DELTADB_WORKER_URLS")
        # (a deployed handler is reached only through Lambda, which IAM authorises)
        if (self.invoker == "pool" or (self.role == "worker" and not self.in_lambda)) and len(
            self.worker_secret or ""
        ) < 32:
            raise ConfigError("DELTADB_WORKER_SECRET (>= 32 characters) is required for worker pools")
