"""``deltadb``: run DeltaDatabase as a long-lived server.

``deltadb serve`` turns flags into DELTADB_* environment variables (the one config
channel, read by chalicelib.config), provisions first-start secrets once in this
parent process, sweeps temp files left by killed processes, then starts Granian
(a production HTTP server: Rust I/O, keep-alive, worker processes) on the ASGI
adapter in local/asgi.py.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

from chalicelib import provisioning
from chalicelib.bootstrap import s3_options
from chalicelib.config import ConfigError, Settings
from chalicelib.storage.fs import FileStorage
from chalicelib.storage.s3 import S3Storage

# flag -> environment variable; flags win over the environment.
_FLAG_ENV = {
    "data_dir": "DELTADB_DATA_DIR",
    "secrets_dir": "DELTADB_SECRETS_DIR",
    "admin_key": "DELTADB_ADMIN_KEY",
    "key_file": "DELTADB_KEY_FILE",
    "max_body": "DELTADB_MAX_BODY",
    "token_ttl": "DELTADB_TOKEN_TTL",
    "log_level": "DELTADB_LOG_LEVEL",
    "storage": "DELTADB_STORAGE",
    # The S3 names are the Go version's, without a prefix: users already have them set.
    "s3_endpoint": "S3_ENDPOINT",
    "s3_access_key": "S3_ACCESS_KEY",
    "s3_secret_key": "S3_SECRET_KEY",
    "s3_bucket": "S3_BUCKET",
    "s3_use_ssl": "S3_USE_SSL",
    "s3_region": "S3_REGION",
    "s3_create_bucket": "S3_CREATE_BUCKET",
    "s3_retry_mode": "S3_RETRY_MODE",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deltadb", description="DeltaDatabase: encrypted JSON document store")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="run the all-in-one server (FS backend, in-process handlers)")
    s.add_argument("--host", default=os.environ.get("DELTADB_HOST", "127.0.0.1"), help="listen address")
    s.add_argument("--port", type=int, default=int(os.environ.get("DELTADB_PORT", "8080")), help="listen port")
    s.add_argument("--data-dir", help="storage root: files/, templates/, _auth/ go under it (default ./data)")
    s.add_argument("--secrets-dir", help="where first-start secrets live (default <data-dir>-secrets)")
    s.add_argument("--admin-key", help="admin key (prefer DELTADB_ADMIN_KEY: flags show up in ps)")
    s.add_argument("--key-file", help="local keyring file (default <secrets-dir>/keyring.json)")
    s.add_argument("--max-body", help="request body limit, e.g. 1MiB (default 1MiB)")
    s.add_argument("--token-ttl", help="session token lifetime, e.g. 24h (default 24h)")
    s.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR (default INFO)")
    s.add_argument("--dev", action="store_true", help="dev mode: no admin key, login by client_id (never deploy)")
    s.add_argument(
        "--storage", choices=["auto", "fs", "s3"], help="backend (default auto: S3 when --s3-endpoint is set)"
    )
    s.add_argument("--s3-endpoint", help="host:port or URL of an S3-compatible service (empty: filesystem)")
    s.add_argument("--s3-access-key", help="access key id")
    s.add_argument("--s3-secret-key", help="secret key (prefer S3_SECRET_KEY: flags show up in ps)")
    s.add_argument("--s3-bucket", help="bucket (default deltadatabase)")
    s.add_argument("--s3-use-ssl", nargs="?", const="true", help="use TLS to the endpoint (default false)")
    s.add_argument("--s3-region", help="region (empty works for MinIO, SeaweedFS)")
    s.add_argument("--s3-create-bucket", nargs="?", const="true", help="create the bucket when it is missing")
    s.add_argument("--s3-retry-mode", choices=["standard", "adaptive"], help="botocore retry mode (default standard)")
    s.add_argument(
        "--workers",
        type=int,
        help="server processes (default: 4 per core on the filesystem, 1 per core on S3)",
    )
    s.add_argument(
        "--threads",
        type=int,
        help="request threads per process (default 8)",
    )
    return p


def serve(args: argparse.Namespace) -> int:
    for flag, env in _FLAG_ENV.items():
        value = getattr(args, flag)
        if value:
            os.environ[env] = str(value)
    if args.dev:
        os.environ["DELTADB_DEV_MODE"] = "1"
    if args.threads:
        os.environ["DELTADB_THREADS"] = str(args.threads)
    if args.workers:
        os.environ["DELTADB_WORKERS"] = str(args.workers)
    try:
        settings = Settings.from_env()
        secrets = provisioning.ensure(settings)
    except ConfigError as exc:
        print(f"deltadb: configuration error: {exc}", file=sys.stderr)
        return 2
    if secrets.generated_admin_key:
        print(
            "First start: generated an admin key. It is shown once; only its hash is kept in "
            f"{settings.resolved_secrets_dir / 'admin.json'}\n\n    {secrets.generated_admin_key}\n",
            flush=True,
        )
    if settings.dev_mode:
        print("WARNING: DEV MODE — no admin key; any client_id can log in with read+write.", file=sys.stderr)
    problem = _address_problem(args.host, args.port)
    if problem:
        print(f"deltadb: cannot listen on {args.host}:{args.port}: {problem}", file=sys.stderr)
        return 1
    swept = 0
    if settings.backend == "s3":
        storage = S3Storage.from_options(s3_options(settings))
        problem = storage.check(create=settings.s3_create_bucket)
        if problem:
            print(f"deltadb: S3 storage not usable: {problem}", file=sys.stderr)
            return 2
        where = f"s3://{settings.s3_bucket} at {settings.s3_endpoint or 'AWS'}"
    else:
        swept = FileStorage(settings.data_dir).sweep_temp_files()
        where = str(settings.data_dir.resolve())
    print(
        f"deltadb: serving http://{args.host}:{args.port} data={where} "
        f"workers={settings.workers} inline={settings.inline_mode} threads={settings.http_threads}"
        + (f" (removed {swept} stale temp files)" if swept else ""),
        flush=True,
    )
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    Granian(
        "local.asgi:application",
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        backlog=2048,
        log_level=LogLevels.warning,
        respawn_failed_workers=True,
    ).serve()
    return 0


def _address_problem(host: str, port: int) -> str | None:
    """Why the address cannot be bound (in use, not local...), or None.

    Granian binds with SO_REUSEPORT and panics with a Rust backtrace when binding fails;
    a plain bind first gives a clear message, and also refuses to share a port silently
    with another running server.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return str(exc)
    family, _type, _proto, _name, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(addr)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
