"""``/health`` (public; details for admins) and ``/admin/workers``."""

from __future__ import annotations

from chalice.app import Response

from chalicelib.auth.principal import ADMIN
from chalicelib.routes.responses import json_response
from chalicelib.routes.table import OPTIONAL, RouteRequest, RouteTable

routes = RouteTable()


@routes.get("/health", access=OPTIONAL)
def health(req: RouteRequest) -> Response:
    return json_response(req.services.admin.health(req.principal))


@routes.get("/admin/workers", access=ADMIN)
def list_workers(req: RouteRequest) -> Response:
    return json_response(req.services.admin.workers())
