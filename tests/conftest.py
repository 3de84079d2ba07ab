"""Shared fixtures: a configured Chalice test client over a real FS data dir."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

import app as app_module
from chalicelib.config import Settings

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

    def __init__(self, client: Client, data_dir: Path) -> None:
        self.client = client
        self.data_dir = data_dir

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
def configure(tmp_path: Path) -> Iterator[Any]:
    """Reconfigure the app's runtime; returns a function (settings overrides) -> Api."""
    clients: list[Client] = []

    def _configure(**overrides: Any) -> Api:
        settings = make_settings(tmp_path, **overrides)
        app_module.runtime.configure(settings, strict_invoke=True)
        client = Client(app_module.app)
        clients.append(client)
        return Api(client, settings.data_dir)

    yield _configure
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def api(configure: Any) -> Api:
    return configure()  # type: ignore[no-any-return]
