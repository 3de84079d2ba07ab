"""Shared fixtures: a configured Chalice test client over each storage backend.

``api`` runs a test once per backend: the filesystem, moto in server mode and
LocalStack — both real S3 servers spoken to over HTTP on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import provisioning
from chalicelib.bootstrap import Runtime
from chalicelib.crypto.keyring import KeyRing
from chalicelib.storage.base import Storage
from tests import s3servers
from tests.app_clients import ADMIN_KEY, Api, AppClient, ChaliceLambdaInvoker, LateInvoker, Reply, make_settings
from tests.s3_buckets import s3_endpoint, s3_storage
from tests.worker_pool import WorkerPool

# The helpers moved out of this file stay importable from it (``from tests.conftest import ...``).
__all__ = [
    "ADMIN_KEY", "Api", "AppClient", "ChaliceLambdaInvoker", "LateInvoker", "Reply", "WorkerPool",
    "make_settings", "s3_endpoint", "s3_storage",
]  # fmt: skip

BACKENDS = ["fs", "moto", "localstack"]
# (backend, how the routes reach the handlers): every backend in-process, and the FS one
# through Chalice's own Lambda entry point as well.
MODES = [(b, "inprocess") for b in BACKENDS] + [("fs", "chalice-lambda"), ("fs", "pool")]


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


@pytest.fixture(scope="session")
def s3_server_pool() -> Iterator[dict[str, s3servers.S3Server]]:
    """S3 servers started on first use, stopped at the end of the session."""
    pool: dict[str, s3servers.S3Server] = {}
    yield pool
    for server in pool.values():
        server.stop()


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
