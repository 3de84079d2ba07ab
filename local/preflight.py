"""Before a server starts: settings, first-start secrets, the address, storage and KMS.

Everything is built with the composition root's builders (chalicelib/builders.py),
as the server processes will build it. On the filesystem it also sweeps: temp files of
killed writers, and asynchronous operations older than their retention. A problem ends
the start with one plain sentence on stderr and an exit code (2: configuration or
storage, 1: address), never a trace.
"""

from __future__ import annotations

import socket
import sys
import time
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError

from chalicelib import operations, provisioning
from chalicelib.builders import build_kms_keyring, build_storage
from chalicelib.config import ConfigError, Settings
from chalicelib.localstack import s3_endpoint
from chalicelib.storage.fs import FileStorage
from local.server_settings import ServerSettings


@dataclass(frozen=True)
class Prepared:
    settings: Settings
    server: ServerSettings
    host: str
    port: int
    where: str  # where the data is, in words


class Refused(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def address_problem(host: str, port: int) -> str | None:
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
        # SO_REUSEADDR: connections of a previous run in TIME_WAIT must not count as "in use";
        # a socket still listening on the port does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(addr)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def prepare(command: str) -> Prepared | int:
    """The checked configuration of ``command``; an exit code (message printed) on failure."""
    try:
        return _prepare(command)
    except Refused as exc:
        print(f"deltadb: {exc}", file=sys.stderr)
        return exc.code


def _prepare(command: str) -> Prepared:
    try:
        settings = Settings.from_env()
        server = ServerSettings.from_env(settings)
        secrets = provisioning.ensure(settings)
    except ConfigError as exc:
        raise Refused(2, f"configuration error: {exc}") from None
    if secrets.generated_admin_key:
        print(
            "First start: generated an admin key. It is shown once; only its hash is kept in "
            f"{settings.resolved_secrets_dir / 'admin.json'}\n\n    {secrets.generated_admin_key}\n",
            flush=True,
        )
    host, port = server.host, server.listen_port(command)
    if problem := address_problem(host, port):
        raise Refused(1, f"cannot listen on {host}:{port}: {problem}")
    if server.metrics_port:  # (0: any free port)
        if server.metrics_port == port:
            raise Refused(2, f"the metrics port must differ from the API port ({port})")
        if problem := address_problem(server.metrics_host, server.metrics_port):
            raise Refused(1, f"cannot serve metrics on {server.metrics_host}:{server.metrics_port}: {problem}")
    where = "(through the workers)" if settings.role == "main" else _check_processing_side(settings)
    return Prepared(settings, server, host, port, where)


def _check_processing_side(settings: Settings) -> str:
    """Check the KEK and the storage the handlers will use; say where the data is."""
    if settings.kms_key_id:
        try:
            problem = build_kms_keyring(settings).check()
        except BotoCoreError as exc:  # no region, bad endpoint URL
            problem = str(exc)
        if problem:
            raise Refused(2, f"KMS key not usable: {problem}")
    storage = build_storage(settings)
    if problem := storage.check():  # S3: creates a missing bucket when S3_CREATE_BUCKET is set
        raise Refused(2, f"{'S3 storage' if settings.backend == 's3' else 'storage'} not usable: {problem}")
    if isinstance(storage, FileStorage):
        swept = storage.sweep_temp_files()
        notes = [f"removed {swept} stale temp files"] if swept else []
        try:  # (on S3 the bucket's lifecycle rule removes expired operations)
            expired = operations.expire(storage, settings.operation_retention_seconds, time.time())
        except OSError as exc:  # not a reason to refuse the start: the server's own sweeps try again
            print(f"deltadb: could not remove expired operations: {exc}", file=sys.stderr)
            expired = 0
        notes += [f"removed {expired} expired operations"] if expired else []
        return f"{settings.data_dir.resolve()}" + (f" ({', '.join(notes)})" if notes else "")
    return f"s3://{settings.s3_bucket} at {s3_endpoint(settings) or 'AWS'}"
