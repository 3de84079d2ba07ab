"""``/api/login`` (a session token for a key), ``/api/me``, and ``/api/keys`` (the admin's ``dk_`` keys)."""

from __future__ import annotations

from chalice.app import Response

from chalicelib.auth.principal import ADMIN, ordered
from chalicelib.routes.responses import json_response
from chalicelib.routes.table import AUTHENTICATED, PUBLIC, RouteRequest, RouteTable

routes = RouteTable()


@routes.post("/api/login", access=PUBLIC)
def login(req: RouteRequest) -> Response:
    return json_response(req.services.sessions.login(req.json()))


@routes.get("/api/me", access=AUTHENTICATED)
def me(req: RouteRequest) -> Response:
    """Who this credential is (the Go console asks on every load)."""
    assert req.principal is not None
    perms = req.principal.permissions
    return json_response(
        {"client_id": req.principal.client_id, "permissions": ordered(perms), "is_admin": ADMIN in perms}
    )


@routes.get("/api/keys", access=ADMIN)
def list_keys(req: RouteRequest) -> Response:
    return json_response(req.services.keys.list())


@routes.post("/api/keys", access=ADMIN)
def create_key(req: RouteRequest) -> Response:
    return json_response(req.services.keys.create(req.json()), 201)


@routes.route("/api/keys/{key_id}", "PATCH", access=ADMIN)
def update_key(req: RouteRequest, key_id: str) -> Response:
    """Disable / enable a key or change its permissions, without changing its secret; at once everywhere."""
    return json_response(req.services.keys.update(key_id, req.json()))


@routes.delete("/api/keys/{key_id}", access=ADMIN)
def delete_key(req: RouteRequest, key_id: str) -> Response:
    req.services.keys.delete(key_id)
    return json_response({"status": "ok"})
