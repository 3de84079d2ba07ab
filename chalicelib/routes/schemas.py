"""``/schema/{id}`` (GET public as in the Go version; PUT, DELETE) and ``/admin/schemas`` (list)."""

from __future__ import annotations

from chalice.app import Response

from chalicelib.auth.principal import WRITE
from chalicelib.routes.responses import json_response, json_text_response
from chalicelib.routes.table import PUBLIC, RouteRequest, RouteTable

routes = RouteTable()
OK = {"status": "ok"}


@routes.get("/admin/schemas", access=PUBLIC)
def list_schemas(req: RouteRequest) -> Response:
    return json_response(req.services.schemas.list())


@routes.get("/schema/{schema_id}", access=PUBLIC)
def get_schema(req: RouteRequest, schema_id: str) -> Response:
    return json_text_response(req.services.schemas.get(schema_id))


@routes.put("/schema/{schema_id}", access=WRITE, audit="schema.write")
def put_schema(req: RouteRequest, schema_id: str) -> Response:
    req.services.schemas.put(schema_id, req.json())
    return json_response(OK)


@routes.delete("/schema/{schema_id}", access=WRITE, audit="schema.delete")
def delete_schema(req: RouteRequest, schema_id: str) -> Response:
    req.services.schemas.delete(schema_id)
    return json_response(OK)
