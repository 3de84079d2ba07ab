"""ASGI adapter: serves the Chalice app (routes from app.py, unchanged) behind Granian.

Chalice ships no WSGI/ASGI adapter. Requests go through local/gateway.py, which does
what API Gateway and Chalice's handler do: match the route, make its ``Request`` and run
the view in the app's middleware; the view's ``Response`` is written here. ASGI rather
than WSGI because only the ASGI scope carries ``raw_path``: a ``%2F`` inside a name must
reach the route still encoded (and be rejected there with 400), not become a different
path. Granian's WSGI also merges ``os.environ`` into every
environ, where an ``HTTP_*`` variable would pass for a request header.

Here:
- the sync app runs either inline on the event loop or on a bounded thread pool, by
  ``ServerSettings.inline_mode``: inline on the filesystem (operations take microseconds to a
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
import gc
import json
import logging

from chalice.app import Chalice, Response, handle_extra_types

from chalicelib.handlers.protocol import FUNCTIONS
from local.asgi_plumbing import (
    Headers,
    LazyApp,
    PooledApp,
    Receive,
    Reply,
    Scope,
    Send,
    header_dict,
    json_reply,
    raw_path,
    read_body,
    send_reply,
)
from local.gateway import ProxyGateway
from local.server_settings import ServerSettings

log = logging.getLogger("deltadb.http")


def _error(code: int, message: str) -> Reply:
    return json_reply(code, {"error": message})


class ChaliceASGI(PooledApp):
    def __init__(self, app: Chalice, max_body_bytes: int, threads: int, inline: str = "off") -> None:
        super().__init__(threads, "deltadb-http")
        self.gateway = ProxyGateway(app)
        self.max_body_bytes = max_body_bytes
        self.inline_all = inline == "all"
        self.inline_methods = frozenset({"GET"}) if inline == "reads" else frozenset()

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, too_large = await read_body(receive, self.max_body_bytes)
        if too_large:
            reply = _error(413, f"request body larger than {self.max_body_bytes} bytes")
        elif self.inline_all or scope["method"] in self.inline_methods:
            reply = self._handle(scope, body)
        else:
            loop = asyncio.get_running_loop()
            reply = await loop.run_in_executor(self.pool, self._handle, scope, body)
        await send_reply(send, reply)

    def _handle(self, scope: Scope, body: bytes) -> Reply:
        query = scope.get("query_string", b"").decode("latin-1")
        client = scope.get("client") or ("127.0.0.1", 0)
        try:
            response = self.gateway.handle(scope["method"], raw_path(scope), query, header_dict(scope), body, client[0])
            if response is None:
                return _error(404, "not found")
            return _reply(response)
        except Exception:
            log.exception("unhandled error in the HTTP adapter")
            return _error(500, "internal server error")


def _reply(response: Response) -> Reply:
    """A Chalice ``Response`` as an HTTP reply, with what ``Response.to_dict`` and API Gateway would send."""
    body = response.body
    if isinstance(body, str):
        payload = body.encode("utf-8")
    elif isinstance(body, bytes):
        payload = body
    else:  # as Chalice serialises a non-text body (None too: "null")
        payload = json.dumps(body, separators=(",", ":"), default=handle_extra_types).encode("utf-8")
    headers: Headers = []
    for name, value in response.headers.items():
        key = name.lower().encode("latin-1")
        if key == b"content-length":
            continue  # the server sets it from the payload
        if isinstance(value, list):
            headers.extend((key, str(v).encode("latin-1")) for v in value)
        else:
            headers.append((key, str(value).encode("latin-1")))
    return response.status_code, headers, payload


def _routes() -> ChaliceASGI:
    import app as app_module  # the one source of routes

    runtime = app_module.runtime
    settings = runtime.settings
    server = ServerSettings.from_env(settings)
    # Build what requests use now, at the process's start, not in its first request: a
    # process that first gets a connection in the middle of a load would otherwise stall
    # every request queued on it for the build (the auth stack, the keyring, the handlers).
    runtime.services  # noqa: B018
    if settings.invoker != "inprocess":
        # Connect to the workers now (the pool probes each one at once): every server
        # process knows its workers before serving.
        runtime.invoker  # noqa: B018
    else:
        for function in FUNCTIONS:  # the handlers, their storage and keyring
            runtime.processing.handler(function)
    # Everything built so far lives as long as the process: keep it out of the cyclic GC's
    # full collections, which would otherwise walk it all (tens of thousands of objects,
    # milliseconds each time) in the middle of requests.
    gc.freeze()
    return ChaliceASGI(app_module.app, settings.max_body_bytes, server.http_threads, server.inline_mode)


application = LazyApp(_routes)
