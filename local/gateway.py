"""A minimal API Gateway for the local server: HTTP request → REST proxy event → app.

It does what API Gateway does in front of the Lambda: match the path against the
app's routes and build the (documented) REST API proxy event. Then, for a route and
method the app has, it calls the route's view the way Chalice's REST handler does —
a ``Request`` made from the event, the app's HTTP middleware around the view — but
without the per-request work a local server does not need (Chalice's content-type
scans for API Gateway's binary types, building the handler and its middleware chain
anew, validating and re-reading the response headers). Anything else (a method the
path lacks: 405 with ``Allow``) goes through the app as its Lambda handler,
``app(event, context)``, unchanged. app.py stays the one source of routes; the Lambda
path is Chalice's own and tested on its own (tests/e2e/test_packaged_bundle.py).

Path parameters are passed still percent-encoded, as the raw path had them, so the
routes decode exactly once and a ``%2F`` inside a name is rejected there (400).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import parse_qs

from chalice.app import Chalice, Request, Response

Segments = tuple[str | None, ...]  # None marks a {parameter}
Middleware = Callable[[Request, Callable[[Request], Response]], Response]


class _RequestIds:
    """Request ids unique across processes and requests: a random per-process prefix and a counter.

    Cheaper than drawing 16 random bytes per request (a getrandom call was ~10 % of a
    GET's CPU); a forked child draws a prefix of its own.
    """

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._prefix = os.urandom(10).hex()
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):012x}"  # 32 hex digits, like a uuid's


_REQUEST_IDS = _RequestIds()


class _Context:
    """The parts of a Lambda context object a Chalice app may read."""

    __slots__ = ("_request_id", "function_name")

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self._request_id: str | None = None

    @property
    def aws_request_id(self) -> str:
        """Unique per request, like Lambda's; made when first read (a request nobody logs needs none)."""
        if self._request_id is None:
            self._request_id = _REQUEST_IDS.next()
        return self._request_id

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 900_000


def thread_local_requests(app: Chalice) -> None:
    """Make ``app.current_request`` per-thread, so concurrent requests never mix.

    Chalice keeps the current request in one attribute: fine for Lambda (one request
    per process at a time), wrong for a threaded server. ``chalice local`` swaps the
    app's class for the same reason.
    """
    if getattr(type(app), "_deltadb_thread_local", False):
        return
    local = threading.local()

    def get(_self: Chalice) -> Any:
        return getattr(local, "request", None)

    def set_(_self: Chalice, value: Any) -> None:
        local.request = value

    app.__class__ = type(
        f"ThreadLocal{type(app).__name__}",
        (type(app),),
        {"current_request": property(get, set_), "_deltadb_thread_local": True},
    )


_REMEMBERED_PATHS = 4096  # matched paths kept (most requests repeat a few); cleared when full


def parse_query(query: str) -> dict[str, list[str]]:
    """The query's parameters, as ``parse_qs(keep_blank_values=True)`` gives them.

    surrogateescape keeps invalid UTF-8 visible (as lone surrogates, which name validation
    refuses with 400) instead of turning it into U+FFFD, another key. A query with
    nothing to decode (no ``%``, no ``+``: most of them) is split here, at a third of
    parse_qs's cost.
    """
    if "%" in query or "+" in query:
        return parse_qs(query, keep_blank_values=True, errors="surrogateescape")
    params: dict[str, list[str]] = {}
    for part in query.split("&"):
        if part:
            name, _, value = part.partition("=")
            params.setdefault(name, []).append(value)
    return params


class ProxyGateway:
    def __init__(self, app: Chalice, stage: str = "api") -> None:
        thread_local_requests(app)
        self.app = app
        self.stage = stage
        self._middleware: tuple[Middleware, ...] | None = None  # the app's, read at the first request
        self._static: dict[str, str] = {}
        self._dynamic: dict[int, list[tuple[Segments, tuple[str, ...], str]]] = {}
        self._matched: dict[str, tuple[str, tuple[tuple[str, str], ...] | None]] = {}  # paths seen lately
        # Static routes win over parameterised ones, as in API Gateway.
        for resource in sorted(app.routes):
            parts = resource.split("/")
            if not any(p.startswith("{") for p in parts):
                self._static[resource] = resource
                continue
            segs: Segments = tuple(None if p.startswith("{") else p for p in parts)
            params = tuple(p[1:-1] for p in parts if p.startswith("{"))
            self._dynamic.setdefault(len(parts), []).append((segs, params, resource))

    def match(self, path: str) -> tuple[str, dict[str, str] | None] | None:
        found = self._matched.get(path)
        if found is None:
            found = self._match(path)
            if found is None:
                return None
            if len(self._matched) >= _REMEMBERED_PATHS:
                self._matched.clear()
            self._matched[path] = found
        resource, params = found
        return resource, dict(params) if params is not None else None

    def _match(self, path: str) -> tuple[str, tuple[tuple[str, str], ...] | None] | None:
        if path != "/" and path.endswith("/"):
            path = path[:-1]  # API Gateway ignores one trailing slash
        resource = self._static.get(path)
        if resource is not None:
            return resource, None
        parts = path.split("/")
        for segs, names, resource in self._dynamic.get(len(parts), ()):
            values = []
            for part, seg in zip(parts, segs, strict=True):
                if seg is None:
                    if not part:
                        break
                    values.append(part)
                elif part != seg:
                    break
            else:
                return resource, tuple(zip(names, values, strict=True))
        return None

    def handle(
        self,
        method: str,
        raw_path: str,
        query_string: str,
        headers: dict[str, str],
        body: bytes,
        source_ip: str = "127.0.0.1",
    ) -> dict[str, Any] | None:
        """The app's proxy response dict, or None when no route matches the path."""
        matched = self.match(raw_path)
        if matched is None:
            return None
        resource, path_params = matched
        multi_query = parse_query(query_string) if query_string else None
        event = {
            "resource": resource,
            "path": raw_path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} if multi_query else None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_params,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": resource,
                "httpMethod": method,
                "path": f"/{self.stage}{raw_path}",
                "stage": self.stage,
                "identity": {"sourceIp": source_ip},
            },
            "body": body if body else None,
            "isBase64Encoded": False,
        }
        context = _Context(self.app.app_name)
        entry = self.app.routes[resource].get(method)
        if entry is None:
            response: dict[str, Any] = self.app(event, context)
            return response
        return self._call_view(event, context, entry.view_function, path_params or {})

    def _call_view(
        self, event: dict[str, Any], context: _Context, view: Callable[..., Any], params: dict[str, str]
    ) -> dict[str, Any]:
        """What Chalice's REST handler does for a matched route, less what only API Gateway needs."""
        if self._middleware is None:
            self._middleware = tuple(f for f, kind in self.app.middleware_handlers if kind in ("http", "all"))
        request = Request(event, context)
        self.app.lambda_context = cast(Any, context)  # the parts of a Lambda context Chalice reads
        self.app.current_request = request

        def innermost(_request: Request) -> Response:
            response = view(**params)
            return response if isinstance(response, Response) else Response(body=response)

        handler: Callable[[Request], Response] = innermost
        for middleware in reversed(self._middleware):
            handler = _Link(middleware, handler)
        return handler(request).to_dict()


class _Link:
    """One middleware in the chain: ``middleware(request, next)``."""

    __slots__ = ("middleware", "next")

    def __init__(self, middleware: Middleware, next_handler: Callable[[Request], Response]) -> None:
        self.middleware = middleware
        self.next = next_handler

    def __call__(self, request: Request) -> Response:
        return self.middleware(request, self.next)
