"""A minimal API Gateway for the local server: HTTP request → REST proxy event → app.

It does what API Gateway does in front of the Lambda: match the path against the
app's routes, build the (documented) REST API proxy event, and call the Chalice app
as its Lambda handler, ``app(event, context)``. Only that public entry point and
``app.routes`` are used — not chalice.local's internals — and it costs a fraction
of ``LocalGateway`` per request (route matching is compiled once).

Path parameters are passed still percent-encoded, as the raw path had them, so the
routes decode exactly once and a ``%2F`` inside a name is rejected there (400).
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import parse_qs

from chalice.app import Chalice

Segments = tuple[str | None, ...]  # None marks a {parameter}


class _Context:
    """The parts of a Lambda context object a Chalice app may read."""

    __slots__ = ("aws_request_id", "function_name")

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.aws_request_id = os.urandom(16).hex()  # unique per request, like Lambda's (a uuid4 costs 3x as much)

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


class ProxyGateway:
    def __init__(self, app: Chalice, stage: str = "api") -> None:
        thread_local_requests(app)
        self.app = app
        self.stage = stage
        self._static: dict[str, str] = {}
        self._dynamic: dict[int, list[tuple[Segments, tuple[str, ...], str]]] = {}
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
                return resource, dict(zip(names, values, strict=True))
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
        # surrogateescape keeps invalid UTF-8 visible (as lone surrogates, which name
        # validation refuses with 400) instead of turning it into U+FFFD, another key.
        multi_query = parse_qs(query_string, keep_blank_values=True, errors="surrogateescape") if query_string else None
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
        response: dict[str, Any] = self.app(event, _Context(self.app.app_name))
        return response
