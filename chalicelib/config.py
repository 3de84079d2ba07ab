"""Settings: the one place that reads configuration (environment variables).

The ``deltadb`` CLI turns its flags into these variables before it starts server
processes, so flags, env and Chalice stage config (``.chalice/config.json``
``environment_variables``) all land here.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chalicelib.durations import parse_duration, parse_size


class ConfigError(Exception):
    """Configuration is invalid; the message says which setting and why."""


def _bool(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _pairs(text: str, what: str) -> tuple[tuple[str, str], ...]:
    """``a=x,b=y`` -> (("a", "x"), ("b", "y"))."""
    out = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ConfigError(f"{what}: expected name=value, got {item!r}")
        out.append((name.strip(), value.strip()))
    return tuple(out)


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


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    secrets_dir: Path | None = None  # default: sibling "<data_dir>-secrets"
    admin_key: str | None = field(default=None, repr=False)
    admin_key_sha256: str | None = None
    dev_mode: bool = False
    master_key: bytes | None = field(default=None, repr=False)
    key_file: Path | None = None
    kms_key_id: str | None = None  # KEK in AWS KMS (id, ARN or alias) instead of a local keyring
    kms_region: str | None = None
    session_secret: bytes | None = field(default=None, repr=False)
    token_ttl_seconds: int = 24 * 3600
    max_body_bytes: int = 1024 * 1024
    log_level: str = "INFO"
    in_lambda: bool = False
    cache_entries: int = 10_000
    threads: int | None = None  # request threads per process; None: see http_threads
    inline: str = "auto"  # run requests on the event loop: all | reads | off | auto (all on FS, off on S3)
    server_workers: int | None = None  # server processes; None: 4 per core inline, 1 per core threaded
    schema_revalidate_seconds: float | None = None  # None: 0 on the filesystem, 2 on S3
    # Processing handlers: "inprocess" (embedded), "pool" (local workers), "lambda" (boto3 invoke).
    invoker: str = "inprocess"
    role: str = "all"  # all | main (routes only: no keys, no storage) | worker (handlers only)
    worker_urls: tuple[str, ...] = ()
    worker_secret: str | None = field(default=None, repr=False)  # signs main -> worker calls
    worker_timeout: float = 10.0
    worker_id: str | None = None
    lambda_endpoint: str | None = None
    # Deployed function of each handler. DELTADB_LAMBDA_FUNCTIONS
    # ("entity_worker=<name>,meta_worker=<name>", set by infra/template.json) wins;
    # else "<prefix><handler>" with DELTADB_LAMBDA_PREFIX, by default this function's
    # name + "-" (`chalice deploy` names them <app>-<stage>-<handler>, the API <app>-<stage>).
    lambda_functions: tuple[tuple[str, str], ...] = ()
    lambda_prefix: str | None = None
    # Storage backend: "fs", "s3", or "auto" (S3 when an endpoint is set or in Lambda).
    storage: str = "auto"
    s3_endpoint: str | None = None
    s3_access_key: str | None = field(default=None, repr=False)
    s3_secret_key: str | None = field(default=None, repr=False)
    s3_bucket: str = "deltadatabase"
    s3_use_ssl: bool = False
    s3_region: str | None = None
    s3_create_bucket: bool = False
    s3_retry_mode: str = "standard"
    s3_unquoted_etag: bool = False

    @property
    def inline_mode(self) -> str:
        """Which requests run on the server's event loop instead of its thread pool.

        On the filesystem every operation is short (a durable write is two fsyncs), so
        requests run inline and concurrency comes from more processes: no thread
        hand-offs or GIL contention. With S3 a request waits milliseconds on the network:
        it must not hold up the event loop, so it goes to the thread pool.
        """
        if self.inline == "auto":
            # Handlers in other processes mean network waits, like S3: keep the loop free.
            return "all" if self.backend == "fs" and self.invoker == "inprocess" else "off"
        return self.inline

    def lambda_function_names(self, handlers: tuple[str, ...]) -> dict[str, str]:
        names = {h: f"{self.lambda_prefix}{h}" for h in handlers} if self.lambda_prefix else {}
        return names | dict(self.lambda_functions)

    @property
    def http_threads(self) -> int:
        """Request threads per server process, for requests not run inline.

        A main worker whose handlers run elsewhere (pool, Lambda) spends nearly all of a
        request waiting on the invocation, so it needs more threads in flight than one
        that does the work itself: 32, against 8, so that it keeps every worker busy.
        """
        if self.threads is not None:
            return self.threads
        return 8 if self.invoker == "inprocess" else 32

    @property
    def workers(self) -> int:
        if self.server_workers is not None:
            return self.server_workers
        cores = os.cpu_count() or 1
        return 4 * cores if self.inline_mode == "all" else cores

    @property
    def schema_revalidate(self) -> float:
        if self.schema_revalidate_seconds is not None:
            return self.schema_revalidate_seconds
        return 2.0 if self.backend == "s3" else 0.0

    @property
    def backend(self) -> str:
        if self.storage in ("fs", "s3"):
            return self.storage
        return "s3" if (self.s3_endpoint or self.in_lambda) else "fs"

    @property
    def resolved_secrets_dir(self) -> Path:
        if self.secrets_dir is not None:
            return self.secrets_dir
        data = self.data_dir.resolve()
        return data.parent / f"{data.name}-secrets"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        get = env.get
        try:
            settings = cls(
                data_dir=Path(get("DELTADB_DATA_DIR") or "data"),
                secrets_dir=Path(s) if (s := get("DELTADB_SECRETS_DIR")) else None,
                admin_key=get("DELTADB_ADMIN_KEY") or None,
                admin_key_sha256=(get("DELTADB_ADMIN_KEY_SHA256") or "").lower() or None,
                dev_mode=_bool(get("DELTADB_DEV_MODE")),
                master_key=(
                    decode_key_material(mk, "DELTADB_MASTER_KEY") if (mk := get("DELTADB_MASTER_KEY")) else None
                ),
                key_file=Path(k) if (k := get("DELTADB_KEY_FILE")) else None,
                kms_key_id=get("DELTADB_KMS_KEY_ID") or None,
                # botocore reads only AWS_DEFAULT_REGION; AWS_REGION is what Lambda and most tools set.
                kms_region=get("DELTADB_KMS_REGION") or get("AWS_REGION") or get("AWS_DEFAULT_REGION") or None,
                session_secret=(ss.encode() if (ss := get("DELTADB_SESSION_SECRET")) else None),
                token_ttl_seconds=parse_duration(get("DELTADB_TOKEN_TTL") or "24h"),
                max_body_bytes=parse_size(get("DELTADB_MAX_BODY") or "1MiB"),
                log_level=(get("DELTADB_LOG_LEVEL") or "INFO").upper(),
                in_lambda=bool(get("AWS_LAMBDA_FUNCTION_NAME")),
                lambda_functions=_pairs(get("DELTADB_LAMBDA_FUNCTIONS") or "", "DELTADB_LAMBDA_FUNCTIONS"),
                lambda_prefix=get("DELTADB_LAMBDA_PREFIX")
                or (f"{fn}-" if (fn := get("AWS_LAMBDA_FUNCTION_NAME")) else None),
                cache_entries=int(get("DELTADB_CACHE_ENTRIES") or "10000"),
                invoker=(get("DELTADB_INVOKER") or "inprocess").lower(),
                role=(get("DELTADB_ROLE") or "all").lower(),
                worker_urls=tuple(u.strip() for u in (get("DELTADB_WORKER_URLS") or "").split(",") if u.strip()),
                worker_secret=get("DELTADB_WORKER_SECRET") or None,
                worker_timeout=float(get("DELTADB_WORKER_TIMEOUT") or "10"),
                worker_id=get("DELTADB_WORKER_ID") or None,
                lambda_endpoint=get("DELTADB_LAMBDA_ENDPOINT") or None,
                threads=int(t) if (t := get("DELTADB_THREADS")) else None,
                inline=(get("DELTADB_INLINE") or "auto").lower(),
                server_workers=int(w) if (w := get("DELTADB_WORKERS")) else None,
                schema_revalidate_seconds=(float(v) if (v := get("DELTADB_SCHEMA_REVALIDATE_SECONDS")) else None),
                storage=(get("DELTADB_STORAGE") or "auto").lower(),
                # The S3_* names are the Go version's; users already have them set.
                s3_endpoint=get("S3_ENDPOINT") or None,
                s3_access_key=get("S3_ACCESS_KEY") or None,
                s3_secret_key=get("S3_SECRET_KEY") or None,
                s3_bucket=get("S3_BUCKET") or "deltadatabase",
                s3_use_ssl=_bool(get("S3_USE_SSL")),
                s3_region=get("S3_REGION") or None,
                s3_create_bucket=_bool(get("S3_CREATE_BUCKET")),
                s3_retry_mode=(get("S3_RETRY_MODE") or "standard").lower(),
                s3_unquoted_etag=_bool(get("S3_UNQUOTED_ETAG")),
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        settings.check()
        return settings

    def check(self) -> None:
        if self.admin_key is not None and len(self.admin_key) < 16:
            raise ConfigError("the admin key must be at least 16 characters")
        if self.session_secret is not None and len(self.session_secret) < 32:
            raise ConfigError("DELTADB_SESSION_SECRET must be at least 32 bytes")
        if self.dev_mode and self.in_lambda:
            raise ConfigError("dev mode is refused in a deployed (Lambda) stage")
        if self.kms_key_id and (self.master_key is not None or self.key_file is not None):
            raise ConfigError("DELTADB_KMS_KEY_ID excludes DELTADB_MASTER_KEY and DELTADB_KEY_FILE: choose one KEK")
        if self.in_lambda and self.role != "main" and not (self.kms_key_id or self.master_key or self.key_file):
            raise ConfigError("a deployed handler needs DELTADB_KMS_KEY_ID (or DELTADB_MASTER_KEY)")
        if self.dev_mode and (self.admin_key or self.admin_key_sha256):
            raise ConfigError("dev mode and an admin key exclude each other")
        if self.max_body_bytes < 1024:
            raise ConfigError("DELTADB_MAX_BODY must be at least 1KiB")
        if self.storage not in ("auto", "fs", "s3"):
            raise ConfigError("DELTADB_STORAGE must be auto, fs or s3")
        if self.s3_retry_mode not in ("standard", "adaptive", "legacy"):
            raise ConfigError("S3_RETRY_MODE must be standard or adaptive")
        if bool(self.s3_access_key) != bool(self.s3_secret_key):
            raise ConfigError("S3_ACCESS_KEY and S3_SECRET_KEY go together")
        if self.threads is not None and self.threads < 1:
            raise ConfigError("DELTADB_THREADS must be >= 1")
        if self.invoker not in ("inprocess", "pool", "lambda"):
            raise ConfigError("DELTADB_INVOKER must be inprocess, pool or lambda")
        if self.role not in ("all", "main", "worker"):
            raise ConfigError("DELTADB_ROLE must be all, main or worker")
        if self.invoker == "pool" and not self.worker_urls:
            raise ConfigError("DELTADB_INVOKER=pool needs DELTADB_WORKER_URLS")
        # (a deployed handler is reached only through Lambda, which IAM authorises)
        if (self.invoker == "pool" or (self.role == "worker" and not self.in_lambda)) and len(
            self.worker_secret or ""
        ) < 32:
            raise ConfigError("DELTADB_WORKER_SECRET (>= 32 characters) is required for worker pools")
        if self.inline not in ("auto", "all", "reads", "off"):
            raise ConfigError("DELTADB_INLINE must be auto, all, reads or off")
        if self.server_workers is not None and self.server_workers < 1:
            raise ConfigError("DELTADB_WORKERS must be >= 1")
        if self.cache_entries < 0:
            raise ConfigError("DELTADB_CACHE_ENTRIES must be >= 0")
