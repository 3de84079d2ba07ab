"""``/entity/{db}`` (PUT one or many, GET, DELETE), its keys, the databases, and ``/operations/{id}``."""

from __future__ import annotations

import json

from chalice.app import Response

from chalicelib.auth.principal import READ, WRITE
from chalicelib.routes.responses import json_response, json_text_response
from chalicelib.routes.table import RouteRequest, RouteTable

routes = RouteTable()
OK = json.dumps({"status": "ok"})  # the same text for every write: serialised once


@routes.put("/entity/{db}", access=WRITE, audit="entity.write")
def put_entities(req: RouteRequest, db: str) -> Response:
    entities = req.services.entities
    if "respond-async" in (req.header("prefer") or "").lower():
        operation_id = entities.start_put(db, req.json(), req.conditions())
        started = {"status": "pending", "operation_id": operation_id}
        return json_response(started, 202, {"Location": f"/operations/{operation_id}"})
    etags = entities.put(db, req.json(), req.conditions())
    return json_text_response(OK, {"ETag": etags[0]} if len(etags) == 1 else None)


@routes.get("/entity/{db}", access=READ)
def get_entity(req: RouteRequest, db: str) -> Response:
    result = req.services.entities.get(db, req.query("key"), req.conditions())
    if result.not_modified:
        return Response(body="", status_code=304, headers={"ETag": result.etag})
    return json_text_response(str(result.value), {"ETag": result.etag})


@routes.delete("/entity/{db}", access=WRITE, audit="entity.delete")
def delete_entity(req: RouteRequest, db: str) -> Response:
    req.services.entities.delete(db, req.query("key"), req.conditions())
    return json_text_response(OK)


@routes.get("/entity/{db}/keys", access=READ)
def list_keys(req: RouteRequest, db: str) -> Response:
    """Keys only (names are not encrypted at rest; values are never read): paged by an opaque cursor."""
    keys, cursor = req.services.entities.list_keys(db, req.query("prefix"), req.query("limit"), req.query("cursor"))
    return json_response({"keys": keys, "next_cursor": cursor})


@routes.get("/api/schemas", access=READ)
def list_databases(req: RouteRequest) -> Response:
    """The Go console's name for it: the databases that hold at least one entity, sorted."""
    return json_response(req.services.entities.databases())


@routes.get("/operations/{op_id}", access=WRITE)
def get_operation(req: RouteRequest, op_id: str) -> Response:
    doc = req.services.entities.operation(op_id).to_json()
    if doc.get("result") is None:  # an asynchronous PUT's operation: the contract's shape
        doc.pop("result", None)
    return json_response(doc)
