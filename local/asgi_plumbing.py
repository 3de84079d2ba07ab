"""ASGI plumbing shared by the server's apps (local/asgi.py routes, local/worker.py handlers).

- ``PooledApp``: the lifespan protocol (startup guards the process with
  local/parent_death.py, shutdown drains the thread pool) and a thread pool for the
  app's blocking work; subclasses answer ``http`` scopes only. A request that by its
  headers has no body gets its (empty) body without a call into the server.
- ``read_body``: the body up to a limit; an over-long one is drained (so the
  connection stays usable) and reported, not kept.
- ``raw_path``: the path still percent-encoded, as the client sent it.
- ``send_reply`` / ``json_reply``: one response, with its content-length.
- ``LazyApp``: an app built on first use inside each server process.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from local.parent_death import guard_server_process

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]
Reply = tuple[int, Headers, bytes]
JSON = (b"content-type", b"application/json")


class PooledApp:
    def __init__(self, threads: int, name: str) -> None:
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self.http(scope, _empty_body_first(receive) if bodiless(scope) else receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                guard_server_process()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.pool.shutdown(wait=True)
                await send({"type": "lifespan.shutdown.complete"})
                return


def bodiless(scope: Scope) -> bool:
    """True when an HTTP/1.x request has no body: no Transfer-Encoding, Content-Length absent or 0.

    RFC 9112 section 6.3: such a request's body is empty. HTTP/2 may send a body without
    either header, so it always reads.
    """
    if scope.get("http_version") not in ("1.1", "1.0"):
        return False
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return False
    return True


def _empty_body_first(receive: Receive) -> Receive:
    """``receive`` whose first message is the empty body, made here.

    Asking Granian for a body that cannot exist costs a round into its Rust side, about
    0.03-0.1 ms of a GET's ~0.35 ms on this machine (bench/README.md, S3 section). A
    later call (waiting for a disconnect) goes to the server, past the server's own
    empty body message, which was answered here already.
    """
    calls = 0

    async def first_empty() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            return {"type": "http.request", "body": b"", "more_body": False}
        message = await receive()
        if calls == 2 and message["type"] == "http.request":
            message = await receive()
        return message

    return first_empty


async def read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
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
        if size > limit:
            too_large = True
            chunks.clear()
        elif chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), too_large


def raw_path(scope: Scope) -> str:
    """The request path as sent (a ``%2F`` stays encoded), as text."""
    path: bytes = scope.get("raw_path") or scope["path"].encode()
    return path.decode("latin-1")


def header_dict(scope: Scope) -> dict[str, str]:
    """Request headers by lower-case name; repeated headers joined with ", "."""
    raw = scope["headers"]
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw}
    if len(headers) == len(raw):  # no header repeated (nearly every request): done in one pass
        return headers
    headers = {}
    for raw_name, raw_value in raw:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def json_reply(status: int, doc: Any, headers: Headers | None = None) -> Reply:
    return status, [JSON, *(headers or [])], json.dumps(doc).encode()


async def send_reply(send: Send, reply: Reply) -> None:
    status, headers, payload = reply
    if status == 304:
        payload = b""
    else:
        headers = [*headers, (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class LazyApp:
    """An ASGI app built on first use inside each server process (after Granian forks)."""

    def __init__(self, build: Callable[[], ASGIApp]) -> None:
        self._build = build
        self._app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            self._app = self._build()
        await self._app(scope, receive, send)
