"""The API's routes as Chalice Blueprints, one module per resource.

Each module declares its views on a ``RouteTable`` with the access each needs
(chalicelib/routes/table.py); ``install`` registers them all on an app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice.app import Chalice, Response

from chalicelib.routes import admin, entities, keys, schemas
from chalicelib.routes.responses import error_response

if TYPE_CHECKING:
    from chalicelib.services import Services

RESOURCES = (admin, keys, entities, schemas)


def install(app: Chalice, services: Callable[[], Services]) -> None:
    app.register_middleware(_contract_errors, "http")
    for module in RESOURCES:
        app.register_blueprint(module.routes.blueprint(module.__name__, services))


def _contract_errors(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Rewrite Chalice's own error bodies into the contract's ``{"error": ...}``."""
    response = get_response(event)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Message" in body:
        # Chalice's own errors (405 wrong method, 415, ...) use {"Code", "Message"}.
        allow = response.headers.get("Allow")
        headers = {"Allow": str(allow)} if allow else None
        return error_response(response.status_code, str(body["Message"]).lower(), headers)
    return response
