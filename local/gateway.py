"""A minimal API Gateway for the local server: HTTP request → the app's route → ``Response``.

It does what API Gateway and Chalice's REST handler do in front of the Lambda: match
the path against the app's routes, make the route's ``Request`` (local/gateway_request.py:
the attributes Chalice's ``Request(event)`` would have, without building the event) and
run the view inside the app's HTTP middleware, as Chalice does — less the per-request
work a local server does not need (building the proxy event and reading it back,
Chalice's content-type scans for API Gateway's binary types, building the middleware
chain anew, turning the response into a proxy dict). Anything else (a method the path
lacks: 405 with ``Allow``) goes through the app as its Lambda handler,
``app(event, context)``, unchanged. app.py stays the one source of routes; the Lambda
path is Chalice's own and tested on its own (tests/e2e/test_packaged_bundle.py).

Path parameters are passed still percent-encoded, as the raw path had them, so the
routes decode exactly once and a ``%2F`` inside a name is rejected there (400).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import parse_qs

from chalice.app import Chalice, Request, Response

from local.gateway_request import LambdaContext, LocalRequest

Segments = tuple[str | None, ...]  # None marks a {parameter}
Middleware = Callable[[Request, Callable[[Request], Response]], Response]


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
        self._chains: dict[tuple[str, str], Callable[[Request], Response]] = {}  # (resource, method): built once
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
    ) -> Response | None:
        """The app's response, or None when no route matches the path. ``headers``: lower-case names."""
        matched = self.match(raw_path)
        if matched is None:
            return None
        resource, path_params = matched
        query = parse_query(query_string) if query_string else None
        context = LambdaContext(self.app.app_name)
        request = LocalRequest(
            method=method, raw_path=raw_path, resource=resource, headers=headers, query=query,
            path_params=path_params, body=body, source_ip=source_ip, stage=self.stage, lambda_context=context,
        )  # fmt: skip
        chain = self._chains.get((resource, method))
        if chain is None:
            entry = self.app.routes[resource].get(method)
            if entry is None:  # a method the path lacks (405 with Allow): the app as Lambda runs it
                return _response(self.app(request.to_original_event(), context))
            chain = self._chains[(resource, method)] = self._chain(entry.view_function)
        self.app.lambda_context = cast(Any, context)  # the parts of a Lambda context Chalice reads
        self.app.current_request = request
        return chain(request)

    def _chain(self, view: Callable[..., Any]) -> Callable[[Request], Response]:
        """What Chalice's REST handler runs for a route: the app's HTTP middleware around the view.

        Built once per route (Chalice builds it per request), less what only API Gateway
        needs (content-type scans for binary types, re-reading the response headers).
        """

        def innermost(request: Request) -> Response:
            response = view(**(request.uri_params or {}))
            return response if isinstance(response, Response) else Response(body=response)

        handler: Callable[[Request], Response] = innermost
        for middleware in reversed([f for f, kind in self.app.middleware_handlers if kind in ("http", "all")]):
            handler = _Link(middleware, handler)
        return handler


def _response(proxy: dict[str, Any]) -> Response:
    """A proxy response dict (Chalice's own answer) as a ``Response``."""
    headers: dict[str, str | list[str]] = {**(proxy.get("headers") or {}), **(proxy.get("multiValueHeaders") or {})}
    body = proxy.get("body")
    if proxy.get("isBase64Encoded") and body is not None:  # a binary type's body, as API Gateway decodes it
        body = base64.b64decode(body)
    return Response(body=body, headers=headers, status_code=int(proxy["statusCode"]))


class _Link:
    """One middleware in the chain: ``middleware(request, next)``."""

    __slots__ = ("middleware", "next")

    def __init__(self, middleware: Middleware, next_handler: Callable[[Request], Response]) -> None:
        self.middleware = middleware
        self.next = next_handler

    def __call__(self, request: Request) -> Response:
        return self.middleware(request, self.next)
