"""What the local gateway hands a route: a Chalice ``Request`` made without a proxy event, and request ids.

On Lambda, Chalice builds its ``Request`` from API Gateway's proxy event. The local
server has the request's parts at hand already (lower-case headers, the parsed query,
the path parameters), so ``LocalRequest`` sets the same attributes from them directly:
the views and the middleware read exactly what they would read on Lambda
(tests/unit/test_gateway.py compares the two attribute by attribute), without building
an event dict nobody reads and copying every header twice. The event is made only if a
view asks for it (``to_original_event``).
"""

from __future__ import annotations

import os
from typing import Any

from chalice.app import CaseInsensitiveMapping, MultiDict, Request

from chalicelib.process_ids import PerProcessIds

# 32 hex digits, like a uuid's: a random per-process prefix of 20 and a counter of 12.
REQUEST_IDS = PerProcessIds(lambda: os.urandom(10).hex(), digits=12)


class LambdaContext:
    """The parts of a Lambda context object a Chalice app may read."""

    __slots__ = ("_request_id", "function_name")

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self._request_id: str | None = None

    @property
    def aws_request_id(self) -> str:
        """Unique per request, like Lambda's; made when first read (a request nobody logs needs none)."""
        if self._request_id is None:
            self._request_id = REQUEST_IDS.next()
        return self._request_id

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 900_000


class _LowerCaseHeaders(CaseInsensitiveMapping):
    """Chalice's case-insensitive headers over a dict whose names are lower-case already (no copy)."""

    def __init__(self, lowered: dict[str, str]) -> None:  # Chalice's __init__ would copy
        self._dict = lowered

    def get(self, key: str, default: Any = None) -> Any:
        # Mapping.get finds a missing header by catching KeyError: most requests ask for
        # two or three headers they lack (If-Match, If-None-Match, Prefer).
        return self._dict.get(key.lower(), default)


class LocalRequest(Request):
    """A Chalice ``Request`` with the attributes ``Request(event, context)`` would have."""

    def __init__(  # keyword-only: path and resource, both str, must not swap
        self,
        *,
        method: str,
        raw_path: str,
        resource: str,
        headers: dict[str, str],
        query: dict[str, list[str]] | None,
        path_params: dict[str, str] | None,
        body: bytes,
        source_ip: str,
        stage: str,
        lambda_context: LambdaContext,
    ) -> None:
        # Not Request.__init__: it reads every attribute out of an event dict.
        self.query_params = MultiDict(query) if query else None
        self.headers = _LowerCaseHeaders(headers)
        self.uri_params = path_params
        self.method = method
        self._is_base64_encoded = False
        self._body = body or None
        self._json_body = None
        self._raw_body = b""
        self.context = {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/{stage}{raw_path}",
            "stage": stage,
            "identity": {"sourceIp": source_ip},
        }
        self.stage_vars = None
        self.path = resource
        self.lambda_context = lambda_context
        self._raw_path = raw_path
        self._multi_query = query

    def to_original_event(self) -> dict[str, Any]:
        """The REST proxy event API Gateway would have sent (made on demand: no route reads it)."""
        headers = dict(self.headers)
        query = self._multi_query or None
        return {
            "resource": self.path,
            "path": self._raw_path,
            "httpMethod": self.method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in query.items()} if query else None,
            "multiValueQueryStringParameters": query,
            "pathParameters": self.uri_params,
            "stageVariables": None,
            "requestContext": self.context,
            "body": self._body,
            "isBase64Encoded": False,
        }
