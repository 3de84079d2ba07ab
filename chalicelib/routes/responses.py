"""Responses in the contract's shapes: JSON bodies, ``{"error": "..."}`` for every error."""

from __future__ import annotations

import json
from typing import Any

from chalice.app import Response

JSON_HEADERS = {"Content-Type": "application/json"}
Headers = dict[str, str | list[str]]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    out: Headers = {**JSON_HEADERS, **(headers or {})}
    return Response(body=json.dumps(body), status_code=status, headers=out)


def json_text_response(text: str, headers: dict[str, str] | None = None) -> Response:
    """200 with a body that already is JSON text (a stored entity or schema)."""
    out: Headers = {**JSON_HEADERS, **(headers or {})}
    return Response(body=text, status_code=200, headers=out)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": message}, status, headers)
