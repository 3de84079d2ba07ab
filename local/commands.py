"""The ``deltadb`` commands. Their configuration is in the environment (local/flags.py).

- ``serve``: the all-in-one server; handlers run in-process.
- ``worker``: one processing worker (Lambda Invoke API); ``up`` starts these itself.
- ``up``: the main worker (routes) plus N processing workers, each a separate process
  group; the main reaches them through the pool invoker and holds no keys and no
  storage credentials. ``up`` itself only supervises (local/supervisor.py).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time

from local import metrics_endpoint
from local.granian_launcher import run_granian
from local.preflight import Prepared, address_problem, prepare
from local.supervisor import WorkerSupervisor, start_server, stop_groups

# What a main worker must not hold: key material and storage credentials (and, in
# up(), nothing named AWS_*: credentials, profiles and endpoints of the workers).
WORKER_ONLY_ENV = ("DELTADB_MASTER_KEY", "DELTADB_KEY_FILE", "DELTADB_KMS_KEY_ID", "S3_ACCESS_KEY", "S3_SECRET_KEY")
STOP_DEADLINE = 30.0  # seconds a requested stop of the main worker may take before it is killed


def serve() -> int:
    prepared = prepare("serve")
    if isinstance(prepared, int):
        return prepared
    server = prepared.server
    if prepared.settings.dev_mode:
        print("WARNING: DEV MODE — no admin key; any client_id can log in with read+write.", file=sys.stderr)
    print(
        f"deltadb: serving http://{prepared.host}:{prepared.port} data={prepared.where} "
        f"processes={server.process_count} inline={server.inline_mode} threads={server.http_threads}",
        flush=True,
    )
    with metrics_endpoint.serving(server):
        run_granian(
            "local.asgi:application",
            prepared.host,
            prepared.port,
            server.process_count,
            default_processes=server.processes is None,
        )
    return 0


def worker() -> int:
    os.environ["DELTADB_ROLE"] = "worker"
    prepared = prepare("worker")
    if isinstance(prepared, int):
        return prepared
    print(f"deltadb worker: http://{prepared.host}:{prepared.port} data={prepared.where}", flush=True)
    with metrics_endpoint.serving(prepared.server):
        run_granian("local.worker:application", prepared.host, prepared.port, 1)
    return 0


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _main_worker_env(worker_urls: str) -> dict[str, str]:
    """The main worker's environment, made from a clean one: no keys, no storage, no AWS identity.

    (A forked child would still carry the parent's environment block.) No AWS identity
    at all: not from the environment, nor from files or instance / container metadata.
    """
    env = {k: v for k, v in os.environ.items() if k not in WORKER_ONLY_ENV and not k.startswith("AWS_")}
    env |= {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env | {"DELTADB_ROLE": "main", "DELTADB_INVOKER": "pool", "DELTADB_WORKER_URLS": worker_urls}


def up() -> int:
    os.environ.setdefault("DELTADB_WORKER_SECRET", secrets.token_urlsafe(32))
    # Provision (keyring, session key, admin key) once, before any child starts.
    prepared = prepare("up")
    if isinstance(prepared, int):
        return prepared
    # One metrics endpoint, ours, over the files of every process we start (they inherit
    # PROMETHEUS_MULTIPROC_DIR, not the port: none of them serves an endpoint of its own).
    with metrics_endpoint.serving(prepared.server):
        os.environ.pop("DELTADB_METRICS_PORT", None)
        return _up(prepared)


def _up(prepared: Prepared) -> int:
    count, host = prepared.server.processing_workers, "127.0.0.1"
    workers = WorkerSupervisor([_free_port(host) for _ in range(count)], host, {**os.environ, "DELTADB_ROLE": "worker"})
    workers.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(address_problem(host, p) is None for p in workers.ports):
        time.sleep(0.1)  # wait until every worker listens
    print(
        f"deltadb: processing workers={count} ({workers.urls()}) data={prepared.where}; main worker on "
        f"http://{prepared.host}:{prepared.port}",
        flush=True,
    )
    # Its own process group: a stop signal to ours reaches it once, forwarded, never twice
    # (Granian can hang when a second SIGTERM lands during its shutdown).
    main_args = ["serve", "--host", prepared.host, "--port", str(prepared.port)]
    main = start_server(main_args, _main_worker_env(workers.urls()))
    stopping: list[float] = []  # when a stop was asked for

    def forward(signum: int, _frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stopping.append(time.monotonic())
        main.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code: int | None = None
    try:
        while code is None:
            try:
                code = main.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                if stopping and time.monotonic() - stopping[0] > STOP_DEADLINE:
                    code = -signal.SIGKILL  # its shutdown hangs: stop_groups ends it
    finally:
        stop_groups([main.pid])  # also HTTP processes a main that died may have left
        workers.stop()
    if stopping:
        return 0  # a requested stop
    # The main worker died on its own: report it, so a supervisor (systemd) restarts us.
    return 128 - code if code < 0 else code or 1
