"""``/api/login`` (a session token for a key), ``/api/me``, and ``/api/keys`` (the admin's ``dk_`` keys)."""

from __future__ import annotations

from chalice.app import Response

from chalicelib.auth.principal import ADMIN, ordered
from chalicelib.routes.responses import json_response
from chalicelib.routes.table import AUTHENTICATED, PUBLIC, RouteRequest, RouteTable

routes = RouteTable()


@routes.post("/api/login", access=PUBLIC, audit="login")
def login(req: RouteRequest) -> Response:
    body = req.json()
    req.audit_as(actor=req.services.sessions.actor(body))  # failed logins too: who tried
    return json_response(req.services.sessions.login(body))


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


@routes.post("/api/keys", access=ADMIN, audit="apikey.create")
def create_key(req: RouteRequest) -> Response:
    made = req.services.keys.create(req.json())
    req.audit_as(target=made["id"])
    return json_response(made, 201)


@routes.route("/api/keys/{key_id}", "PATCH", access=ADMIN, audit="apikey.update")
def update_key(req: RouteRequest, key_id: str) -> Response:
    """Disable / enable a key or change its permissions, without changing its secret; at once everywhere
    (other processes: within DELTADB_APIKEY_REVALIDATE_SECONDS when that is set)."""
    return json_response(req.services.keys.update(key_id, req.json()))


@routes.delete("/api/keys/{key_id}", access=ADMIN, audit="apikey.delete")
def delete_key(req: RouteRequest, key_id: str) -> Response:
    req.services.keys.delete(key_id)
    return json_response({"status": "ok"})
