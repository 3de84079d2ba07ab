"""ASGI adapter: serves the Chalice app (routes from app.py, unchanged) behind Granian.

Chalice ships no WSGI/ASGI adapter. Requests go through local/gateway.py, which does
what API Gateway does: build the REST proxy event and call the app as its Lambda
handler. ASGI rather than WSGI because only the ASGI scope carries ``raw_path``: a
``%2F`` inside a name must reach the route still encoded (and be rejected there with
400), not become a different path. Granian's WSGI also merges ``os.environ`` into every
environ, where an ``HTTP_*`` variable would pass for a request header.

Here:
- the sync app runs either inline on the event loop or on a bounded thread pool, by
  ``Settings.inline_mode``: inline on the filesystem (operations take microseconds to a
  couple of fsyncs; concurrency comes from more server processes, with no thread
  hand-offs or GIL contention), on the pool for S3 (network waits must not hold up the
  loop). ``app.current_request`` is per-thread either way;
- the body limit is enforced while receiving: an over-long body is read and
  discarded, then answered 413, so the connection stays usable;
- a path matching no route answers 404 ``{"error": ...}`` (API Gateway's 403
  "Missing Authentication Token" is not what the contract wants).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalice.app import Chalice

from local.gateway import ProxyGateway

log = logging.getLogger("deltadb.http")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Reply = tuple[int, list[tuple[bytes, bytes]], bytes]


def _error(code: int, message: str) -> Reply:
    body = json.dumps({"error": message}).encode()
    return code, [(b"content-type", b"application/json")], body


class ChaliceASGI:
    def __init__(self, app: Chalice, max_body_bytes: int, threads: int, inline: str = "off") -> None:
        self.gateway = ProxyGateway(app)
        self.max_body_bytes = max_body_bytes
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="deltadb-http")
        self.inline_all = inline == "all"
        self.inline_methods = frozenset({"GET"}) if inline == "reads" else frozenset()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body, too_large = await self._read_body(receive)
        if too_large:
            reply = _error(413, f"request body larger than {self.max_body_bytes} bytes")
        elif self.inline_all or scope["method"] in self.inline_methods:
            reply = self._handle(scope, body)
        else:
            loop = asyncio.get_running_loop()
            reply = await loop.run_in_executor(self.pool, self._handle, scope, body)
        status, headers, payload = reply
        if status != 304:
            headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload if status != 304 else b""})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.pool.shutdown(wait=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _read_body(self, receive: Receive) -> tuple[bytes, bool]:
        """Return (body, too_large). An over-long body is drained, not kept."""
        chunks: list[bytes] = []
        size = 0
        too_large = False
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                too_large = True
                chunks.clear()
            elif chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks), too_large

    def _handle(self, scope: Scope, body: bytes) -> Reply:
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        client = scope.get("client") or ("127.0.0.1", 0)
        try:
            response = self.gateway.handle(scope["method"], path, query, headers, body, client[0])
        except Exception:
            log.exception("unhandled error in the HTTP adapter")
            return _error(500, "internal server error")
        if response is None:
            return _error(404, "not found")
        return self._reply(response)

    @staticmethod
    def _reply(response: dict[str, Any]) -> Reply:
        raw = response.get("body")
        if raw is None:
            payload = b""
        elif response.get("isBase64Encoded"):
            payload = base64.b64decode(raw)
        else:
            payload = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
        out = [
            (k.lower().encode("latin-1"), str(v).encode("latin-1"))
            for k, v in (response.get("headers") or {}).items()
            if k.lower() != "content-length"
        ]
        for k, values in (response.get("multiValueHeaders") or {}).items():
            out.extend((k.lower().encode("latin-1"), str(v).encode("latin-1")) for v in values)
        return int(response["statusCode"]), out, payload


ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class LazyApp:
    """An ASGI app built on first use inside each server process (after Granian forks)."""

    def __init__(self, build: Callable[[], ASGIApp]) -> None:
        self._build = build
        self._app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            self._app = self._build()
        await self._app(scope, receive, send)


def _routes() -> ChaliceASGI:
    import app as app_module  # the one source of routes

    settings = app_module.runtime.settings
    if settings.invoker != "inprocess":
        # Connect to the workers now (the pool probes each one at once), not at the
        # first request: every server process knows its workers before serving.
        app_module.runtime.invoker  # noqa: B018
    return ChaliceASGI(app_module.app, settings.max_body_bytes, settings.http_threads, settings.inline_mode)


application = LazyApp(_routes)
