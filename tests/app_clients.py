"""The Chalice test client the route tests speak through, and the settings every test app starts from.

``Api`` wraps ``chalice.test.Client`` in JSON; ``AppClient`` is a client on an app of its own
built by the app factory; the two invokers reach the handlers through Chalice's Lambda entry
point. The fixtures that build them live in tests/conftest.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalice.test import Client

from chalicelib.bootstrap import Runtime
from chalicelib.config import Settings
from chalicelib.handlers.protocol import DescribeWorker, WorkerStatus
from chalicelib.storage.base import Storage
from chalicelib.webapp import create_app


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


def error_of(r: Any) -> str:
    """The message of the contract's error body ``{"error": "<message>"}``, asserting that shape."""
    body = r.json
    assert set(body) == {"error"}, body
    assert isinstance(body["error"], str) and body["error"]
    return str(body["error"])
