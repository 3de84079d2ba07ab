"""``/health`` (public; details for admins), ``/admin/workers`` and ``POST /admin/rewrap``."""

from __future__ import annotations

from chalice.app import Response

from chalicelib.auth.principal import ADMIN
from chalicelib.routes.responses import json_response
from chalicelib.routes.table import OPTIONAL, PRINCIPAL_KEY, RouteRequest, RouteTable, request_id

routes = RouteTable()


@routes.get("/health", access=OPTIONAL)
def health(req: RouteRequest) -> Response:
    return json_response(req.services.admin.health(req.principal))


@routes.get("/admin/workers", access=ADMIN)
def list_workers(req: RouteRequest) -> Response:
    return json_response(req.services.admin.workers())


@routes.post("/admin/rewrap", access=ADMIN, audit="rewrap.start")
def start_rewrap(req: RouteRequest) -> Response:
    """Rewrap every entity (or one database's) under the current key chain, asynchronously: poll the operation."""
    body = req.json() if req.request.raw_body else {}  # no body: every database; a JSON null is no object
    context = req.request.context
    op_id, db = req.services.admin.start_rewrap(body, str(context.get(PRINCIPAL_KEY)), request_id(req.request))
    req.audit_as(target=db or "*")
    started = {"status": "pending", "operation_id": op_id}
    return json_response(started, 202, {"Location": f"/operations/{op_id}"})
