"""``deltadb``: run DeltaDatabase as long-lived processes.

- ``deltadb serve``: the all-in-one server; handlers run in-process.
- ``deltadb up --workers N``: the main worker (routes) plus N processing workers, each
  a separate process serving the Lambda Invoke API; the main reaches them through the
  pool invoker and holds no keys and no storage credentials.
- ``deltadb worker``: one processing worker (``up`` starts these itself).

Flags become DELTADB_* / S3_* environment variables (the one config channel, read by
chalicelib.config). First-start secrets are provisioned once, here in the parent, then
Granian (Rust I/O, keep-alive, worker processes) serves the ASGI apps in local/.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time

from botocore.exceptions import BotoCoreError

from chalicelib import provisioning
from chalicelib.bootstrap import build_storage
from chalicelib.config import ConfigError, Settings
from chalicelib.crypto.kms_keyring import KmsKeyRing
from chalicelib.crypto.kms_keyring import make_client as make_kms_client
from chalicelib.storage.fs import FileStorage

# flag -> environment variable; flags win over the environment.
_FLAG_ENV = {
    "data_dir": "DELTADB_DATA_DIR",
    "secrets_dir": "DELTADB_SECRETS_DIR",
    "admin_key": "DELTADB_ADMIN_KEY",
    "key_file": "DELTADB_KEY_FILE",
    "kms_key_id": "DELTADB_KMS_KEY_ID",
    "max_body": "DELTADB_MAX_BODY",
    "token_ttl": "DELTADB_TOKEN_TTL",
    "log_level": "DELTADB_LOG_LEVEL",
    "threads": "DELTADB_THREADS",
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
# What a main worker must not hold: key material and storage credentials (and, in
# up(), nothing named AWS_*: credentials, profiles and endpoints of the workers).
_WORKER_ONLY_ENV = ("DELTADB_MASTER_KEY", "DELTADB_KEY_FILE", "DELTADB_KMS_KEY_ID", "S3_ACCESS_KEY", "S3_SECRET_KEY")


def _common(s: argparse.ArgumentParser, default_port: int) -> None:
    s.add_argument("--host", default=os.environ.get("DELTADB_HOST", "127.0.0.1"), help="listen address")
    s.add_argument("--port", type=int, default=int(os.environ.get("DELTADB_PORT", default_port)), help="listen port")
    s.add_argument("--data-dir", help="storage root: files/, templates/, _auth/ go under it (default ./data)")
    s.add_argument("--secrets-dir", help="where first-start secrets live (default <data-dir>-secrets)")
    s.add_argument("--key-file", help="local keyring file (default <secrets-dir>/keyring.json)")
    s.add_argument("--kms-key-id", help="KEK in AWS KMS: key id, ARN or alias/... (instead of a local keyring)")
    s.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR (default INFO)")
    s.add_argument("--threads", type=int, help="request threads per process (default 8; 32 in a main worker of `up`)")
    s.add_argument("--storage", choices=["auto", "fs", "s3"], help="backend (default auto: S3 if an endpoint is set)")
    s.add_argument("--s3-endpoint", help="host:port or URL of an S3-compatible service (empty: filesystem)")
    s.add_argument("--s3-access-key", help="access key id")
    s.add_argument("--s3-secret-key", help="secret key (prefer S3_SECRET_KEY: flags show up in ps)")
    s.add_argument("--s3-bucket", help="bucket (default deltadatabase)")
    s.add_argument("--s3-use-ssl", nargs="?", const="true", help="use TLS to the endpoint (default false)")
    s.add_argument("--s3-region", help="region (empty works for MinIO, SeaweedFS)")
    s.add_argument("--s3-create-bucket", nargs="?", const="true", help="create the bucket when it is missing")
    s.add_argument("--s3-retry-mode", choices=["standard", "adaptive"], help="botocore retry mode (default standard)")


def _api_flags(s: argparse.ArgumentParser) -> None:
    s.add_argument("--admin-key", help="admin key (prefer DELTADB_ADMIN_KEY: flags show up in ps)")
    s.add_argument("--max-body", help="request body limit, e.g. 1MiB (default 1MiB)")
    s.add_argument("--token-ttl", help="session token lifetime, e.g. 24h (default 24h)")
    s.add_argument("--dev", action="store_true", help="dev mode: no admin key, login by client_id (never deploy)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deltadb", description="DeltaDatabase: encrypted JSON document store")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="the all-in-one server (handlers in-process)")
    _common(s, 8080)
    _api_flags(s)
    s.add_argument("--workers", type=int, help="server processes (default: 4 per core on FS, 1 per core on S3)")
    u = sub.add_parser("up", help="the main worker plus N processing worker processes")
    _common(u, 8080)
    _api_flags(u)
    u.add_argument("--workers", type=int, default=2, help="processing worker processes (default 2)")
    u.add_argument("--server-workers", type=int, help="main worker HTTP processes (default: 1 per core)")
    w = sub.add_parser("worker", help="one processing worker (Lambda Invoke API); needs DELTADB_WORKER_SECRET")
    _common(w, 9000)
    w.add_argument("--worker-id", help="name shown in /admin/workers")
    return p


def _apply(args: argparse.Namespace) -> None:
    for flag, env in _FLAG_ENV.items():
        value = getattr(args, flag, None)
        if value:
            os.environ[env] = str(value)
    if getattr(args, "dev", False):
        os.environ["DELTADB_DEV_MODE"] = "1"


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
        # SO_REUSEADDR: connections of a previous run in TIME_WAIT must not count as "in use";
        # a socket still listening on the port does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(addr)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def _prepare(host: str, port: int) -> tuple[Settings, provisioning.Secrets, str] | int:
    """Settings, secrets (created on first start) and a storage check; an exit code on failure."""
    try:
        settings = Settings.from_env()
        secrets_ = provisioning.ensure(settings)
    except ConfigError as exc:
        print(f"deltadb: configuration error: {exc}", file=sys.stderr)
        return 2
    if secrets_.generated_admin_key:
        print(
            "First start: generated an admin key. It is shown once; only its hash is kept in "
            f"{settings.resolved_secrets_dir / 'admin.json'}\n\n    {secrets_.generated_admin_key}\n",
            flush=True,
        )
    problem = _address_problem(host, port)
    if problem:
        print(f"deltadb: cannot listen on {host}:{port}: {problem}", file=sys.stderr)
        return 1
    if settings.role == "main":
        return settings, secrets_, "(through the workers)"
    if settings.kms_key_id:
        try:
            problem = KmsKeyRing(make_kms_client(settings.kms_region), settings.kms_key_id).check()
        except BotoCoreError as exc:  # no region, bad endpoint URL
            problem = str(exc)
        if problem:
            print(f"deltadb: KMS key not usable: {problem}", file=sys.stderr)
            return 2
    if settings.backend == "s3":
        problem = build_storage(settings).check()
        if problem:
            print(f"deltadb: S3 storage not usable: {problem}", file=sys.stderr)
            return 2
        return settings, secrets_, f"s3://{settings.s3_bucket} at {settings.s3_endpoint or 'AWS'}"
    swept = FileStorage(settings.data_dir).sweep_temp_files()
    note = f" (removed {swept} stale temp files)" if swept else ""
    return settings, secrets_, f"{settings.data_dir.resolve()}{note}"


def _granian(target: str, host: str, port: int, workers: int) -> None:
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    Granian(
        target,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        backlog=2048,
        log_level=LogLevels.warning,
        respawn_failed_workers=True,
    ).serve()


def serve(args: argparse.Namespace) -> int:
    _apply(args)
    if args.workers:
        os.environ["DELTADB_WORKERS"] = str(args.workers)
    if args.dev:
        print("WARNING: DEV MODE — no admin key; any client_id can log in with read+write.", file=sys.stderr)
    prepared = _prepare(args.host, args.port)
    if isinstance(prepared, int):
        return prepared
    settings, _, where = prepared
    print(
        f"deltadb: serving http://{args.host}:{args.port} data={where} "
        f"workers={settings.workers} inline={settings.inline_mode} threads={settings.http_threads}",
        flush=True,
    )
    _granian("local.asgi:application", args.host, args.port, settings.workers)
    return 0


def worker(args: argparse.Namespace) -> int:
    _apply(args)
    os.environ["DELTADB_ROLE"] = "worker"
    if args.worker_id:
        os.environ["DELTADB_WORKER_ID"] = args.worker_id
    prepared = _prepare(args.host, args.port)
    if isinstance(prepared, int):
        return prepared
    _settings, _, where = prepared
    print(f"deltadb worker: http://{args.host}:{args.port} data={where}", flush=True)
    _granian("local.worker:application", args.host, args.port, 1)
    return 0


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In a worker child: get SIGTERM when the supervising process dies, even by kill -9."""
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG (Linux)


class _Supervisor:
    """Keeps the processing workers running: a worker that dies is started again."""

    def __init__(self, count: int, host: str, env: dict[str, str]) -> None:
        self.env = env
        self.host = host
        self.ports = [_free_port(host) for _ in range(count)]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * count
        self._stop = threading.Event()

    def _start(self, i: int) -> None:
        cmd = [sys.executable, "-m", "local.cli", "worker", "--host", self.host, "--port", str(self.ports[i]),
               "--worker-id", f"worker-{i + 1}"]  # fmt: skip
        self.procs[i] = subprocess.Popen(  # noqa: S603 (our own CLI)
            cmd, env=self.env, start_new_session=True, preexec_fn=_die_with_parent
        )

    def start(self) -> None:
        for i in range(len(self.ports)):
            self._start(i)
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            for i, proc in enumerate(self.procs):
                if proc is not None and proc.poll() is not None:
                    print(f"deltadb up: worker-{i + 1} exited ({proc.returncode}); restarting", file=sys.stderr)
                    self._start(i)

    def stop(self) -> None:
        self._stop.set()
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            if proc is not None:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)

    def urls(self) -> str:
        return ",".join(f"http://{self.host}:{port}" for port in self.ports)


def up(args: argparse.Namespace) -> int:
    _apply(args)
    os.environ.setdefault("DELTADB_WORKER_SECRET", secrets.token_urlsafe(32))
    # Provision (keyring, session key, admin key) once, before any child starts.
    prepared = _prepare(args.host, args.port)
    if isinstance(prepared, int):
        return prepared
    _settings, _, where = prepared
    sup = _Supervisor(args.workers, "127.0.0.1", {**os.environ, "DELTADB_ROLE": "worker"})
    sup.start()
    # The main worker: routes only, in a process of its own started from a clean
    # environment (a forked child would still carry the parent's environment block):
    # no key material, no KMS or storage credentials ever enter the processes that
    # face the network. This process only supervises.
    env = {k: v for k, v in os.environ.items() if k not in _WORKER_ONLY_ENV and not k.startswith("AWS_")}
    # No AWS identity at all: not from files, nor from the instance or container metadata.
    env |= {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env |= {"DELTADB_ROLE": "main", "DELTADB_INVOKER": "pool", "DELTADB_WORKER_URLS": sup.urls()}
    if args.server_workers:
        env["DELTADB_WORKERS"] = str(args.server_workers)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_address_problem("127.0.0.1", p) is None for p in sup.ports):
        time.sleep(0.1)  # wait until every worker listens
    print(
        f"deltadb: processing workers={args.workers} ({sup.urls()}) data={where}; main worker on "
        f"http://{args.host}:{args.port}",
        flush=True,
    )
    cmd = [sys.executable, "-m", "local.cli", "serve", "--host", args.host, "--port", str(args.port)]
    # Its own process group: a stop signal to ours reaches it once, forwarded, never twice
    # (Granian can hang when a second SIGTERM lands during its shutdown).
    main_proc = subprocess.Popen(  # noqa: S603 (our own CLI)
        cmd, env=env, start_new_session=True, preexec_fn=_die_with_parent
    )

    stopping: list[float] = []  # when a stop was asked for

    def forward(signum: int, _frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stopping.append(time.monotonic())
        main_proc.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code: int | None = None
    try:
        while code is None:
            try:
                code = main_proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                if stopping and time.monotonic() - stopping[0] > 30:
                    code = -signal.SIGKILL  # its shutdown hangs: _stop_group ends it
    finally:
        _stop_group(main_proc.pid)  # also HTTP processes orphaned by a main that died
        sup.stop()
    if stopping:
        return 0  # a requested stop
    # The main worker died on its own: report it, so a supervisor (systemd) restarts us.
    return 128 - code if code < 0 else code or 1


def _stop_group(pgid: int, grace: float = 10.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"serve": serve, "up": up, "worker": worker}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
