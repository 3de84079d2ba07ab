"""Shared fixtures: a configured Chalice test client over each storage backend.

``api`` runs a test once per backend: the filesystem, moto in server mode and
LocalStack — both real S3 servers spoken to over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import provisioning
from chalicelib.bootstrap import Runtime
from chalicelib.config import Settings
from chalicelib.crypto.keyring import KeyRing
from chalicelib.handlers.protocol import DescribeWorker, WorkerStatus
from chalicelib.storage.base import Storage
from chalicelib.storage.s3 import S3Options, S3Storage
from chalicelib.webapp import create_app
from tests import s3servers

BACKENDS = ["fs", "moto", "localstack"]
# (backend, how the routes reach the handlers): every backend in-process, and the FS one
# through Chalice's own Lambda entry point as well.
MODES = [(b, "inprocess") for b in BACKENDS] + [("fs", "chalice-lambda"), ("fs", "pool")]


class ChaliceLambdaInvoker:
    """Invokes the handlers through ``chalice.test.Client.lambda_`` (Chalice's Lambda entry
    point, with a Lambda context), the way AWS Lambda calls them."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(json.dumps(self._client.lambda_.invoke(function, event).payload))
        return result

    def invoke_async(self, function: str, event: dict[str, Any]) -> None:
        self.invoke(function, event)

    def workers(self) -> list[WorkerStatus]:
        call = DescribeWorker()
        return [call.decode_reply(self.invoke(call.function, call.to_json()))]


class AppClient(Client):
    """chalice.test.Client on an app of its own, built on ``runtime`` by the app factory."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(create_app(runtime))
        self.runtime = runtime


class LateInvoker:
    """An invoker known only once the app exists (the app's Lambda entry points)."""

    def __init__(self, holder: list[ChaliceLambdaInvoker]) -> None:
        self._holder = holder

    def invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        return self._holder[0].invoke(function, event)

    def invoke_async(self, function: str, event: dict[str, Any]) -> None:
        self._holder[0].invoke_async(function, event)

    def workers(self) -> list[WorkerStatus]:
        return self._holder[0].workers()


ADMIN_KEY = "test-admin-key-0123456789"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


class Api:
    """Thin wrapper over chalice.test.Client that speaks JSON."""

    def __init__(self, client: AppClient, data_dir: Path, storage: Storage) -> None:
        self.client = client
        self.runtime = client.runtime
        self.data_dir = data_dir
        self.storage = storage  # the raw store, for tests that look at or tamper with objects

    def objects(self) -> dict[str, bytes]:
        """Every stored object (key -> raw bytes), whatever the backend."""
        return {k: self.storage.get(k).data for k in self.storage.list("")}

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = ADMIN_KEY,
        raw: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        r = self.client.http.request(method, path, headers=h, body=payload)
        return Reply(r.status_code, dict(r.headers), r.body or b"")

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("PUT", path, body, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("POST", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Reply:
        return self.request("DELETE", path, **kw)

    def create_key(self, permissions: list[str], **extra: Any) -> dict[str, Any]:
        r = self.post("/api/keys", {"name": "k", "permissions": permissions, **extra})
        assert r.status == 201, r.raw
        return r.json

    def login(self, key: str) -> str:
        r = self.post("/api/login", {"key": key}, token=None)
        assert r.status == 200, r.raw
        return str(r.json["token"])


def make_settings(tmp: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "data_dir": tmp / "data",
        "secrets_dir": tmp / "secrets",
        "admin_key": ADMIN_KEY,
    }
    base.update(overrides)
    return Settings(**base)


@pytest.fixture
def app_client(tmp_path: Path) -> Iterator[Any]:
    """An app of its own on given adapters; returns a function -> chalice test Client (with ``.runtime``).

    ``app_client(store=..., keyring=..., strict_invoke=..., **settings_overrides)``; the
    clients are closed at the end of the test.
    """
    clients: list[Client] = []

    def configure(
        *, store: Storage, keyring: KeyRing | None = None, strict_invoke: bool = False, **overrides: Any
    ) -> AppClient:
        settings = make_settings(tmp_path, **overrides)
        client = AppClient(Runtime(settings, storage=store, keyring=keyring, strict_invoke=strict_invoke))
        clients.append(client)
        return client

    yield configure
    for c in clients:
        c.__exit__(None, None, None)


class WorkerPool:
    """Real `deltadb worker` processes on the test's data and secrets folders."""

    def __init__(self, tmp: Path, count: int) -> None:
        import os
        import secrets
        import subprocess
        import sys
        import time

        self.secret = secrets.token_urlsafe(32)
        ports = [s3servers.free_port() for _ in range(count)]
        self.urls = tuple(f"http://127.0.0.1:{p}" for p in ports)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DELTADB_")}
        env |= {"DELTADB_WORKER_SECRET": self.secret, "DELTADB_LOG_LEVEL": "WARNING"}
        self.procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "local.cli",
                    "worker",
                    "--port",
                    str(port),
                    "--worker-id",
                    f"w{i}",
                    "--data-dir",
                    str(tmp / "data"),
                    "--secrets-dir",
                    str(tmp / "secrets"),
                ],
                env=env,
                cwd=str(s3servers.ROOT),
                start_new_session=True,
            )
            for i, port in enumerate(ports)
        ]
        deadline = time.monotonic() + 30
        for port in ports:
            while not _listening(port):
                assert time.monotonic() < deadline, "worker processes did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        import os
        import signal

        for proc in self.procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            proc.wait(15)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def s3_server_pool() -> Iterator[dict[str, s3servers.S3Server]]:
    """S3 servers started on first use, stopped at the end of the session."""
    pool: dict[str, s3servers.S3Server] = {}
    yield pool
    for server in pool.values():
        server.stop()


def s3_endpoint(pool: dict[str, s3servers.S3Server], name: str) -> str:
    if name not in pool:
        pool[name] = s3servers.start_moto() if name == "moto" else s3servers.start_localstack()
    return pool[name].endpoint


def s3_storage(endpoint: str) -> S3Storage:
    """A fresh bucket on the server, so tests never see each other's objects."""
    options = S3Options(bucket=f"t-{uuid.uuid4().hex[:20]}", endpoint=endpoint, access_key="test", secret_key="test")
    storage = S3Storage.from_options(options)
    assert storage.check(create=True) is None
    return storage


@pytest.fixture(params=MODES, ids=[f"{b}-{i}" if i != "inprocess" else b for b, i in MODES])
def mode(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def backend(mode: tuple[str, str]) -> str:
    return mode[0]


@pytest.fixture
def configure(
    tmp_path: Path, backend: str, mode: tuple[str, str], s3_server_pool: dict[str, s3servers.S3Server]
) -> Iterator[Any]:
    """A new app and runtime per call; returns a function (settings overrides) -> Api.

    Calls within one test share the same store, as restarts of one server would.
    """
    clients: list[AppClient] = []
    store: list[Storage] = []
    pool: list[WorkerPool] = []

    def _configure(**overrides: Any) -> Api:
        if backend != "fs":
            overrides.setdefault("storage", "s3")
        if mode[1] == "pool":
            if not pool:
                provisioning.ensure(make_settings(tmp_path))  # keyring first, shared with the workers
                pool.append(WorkerPool(tmp_path, 2))
            overrides |= {"invoker": "pool", "worker_urls": pool[0].urls, "worker_secret": pool[0].secret}
        settings = make_settings(tmp_path, **overrides)
        if not store and backend != "fs":
            store.append(s3_storage(s3_endpoint(s3_server_pool, backend)))
        invoker: list[ChaliceLambdaInvoker] = []
        runtime = Runtime(
            settings,
            strict_invoke=True,
            storage=store[0] if store else None,
            invoker=LateInvoker(invoker) if mode[1] == "chalice-lambda" else None,
        )
        client = AppClient(runtime)
        invoker.append(ChaliceLambdaInvoker(client))  # through this app's own Lambda entry points
        clients.append(client)
        return Api(client, settings.data_dir, runtime.processing.storage)

    yield _configure
    for c in clients:
        c.__exit__(None, None, None)
        close = getattr(c.runtime.invoker, "close", None)
        if close is not None:
            close()
    for p in pool:
        p.stop()


@pytest.fixture
def api(configure: Any) -> Api:
    return configure()  # type: ignore[no-any-return]
