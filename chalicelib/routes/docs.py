"""``/openapi.json``: the OpenAPI 3.1 document of the whole API (public), shipped in the package."""

from __future__ import annotations

import functools

from chalice.app import Response

from chalicelib.routes.responses import json_text_response
from chalicelib.routes.table import PUBLIC, RouteRequest, RouteTable

routes = RouteTable()


@functools.cache
def document() -> str:
    """The document's JSON text, read from the package once per process."""
    from importlib import resources  # (with tempfile and shutil, ~8 ms: not at cold start)

    return resources.files("chalicelib").joinpath("openapi.json").read_text(encoding="utf-8")


@routes.get("/openapi.json", access=PUBLIC)
def openapi(req: RouteRequest) -> Response:
    return json_text_response(document())
