"""Declaring routes: one view per method, its access rule declared with it.

A resource module holds a ``RouteTable`` and declares views on it::

    @routes.put("/entity/{db}", access=WRITE, audit="entity.write")
    def put_entities(req: RouteRequest, db: str) -> Response: ...

``RouteTable.blueprint()`` turns the table into a Chalice Blueprint for one app: each
view is wrapped so that the credential is checked against the declared access before
the view runs, and every error becomes the contract's ``{"error": ...}`` body. Every
path also answers OPTIONS with 405 (no permissive CORS preflight). A route declared with
``audit=<action>`` writes one audit line per request (chalicelib/audit.py), whatever the
outcome: who (the key id, ``admin`` or the dev client id, never the credential), the
target (the path's names, and the ``key`` query parameter), the result from the status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from chalice.app import Blueprint, Request, Response

from chalicelib import audit, jsonbody
from chalicelib.auth.principal import Principal
from chalicelib.errors import DeltaError, PayloadTooLarge
from chalicelib.routes.responses import error_response
from chalicelib.services.conditions import Conditions

if TYPE_CHECKING:
    from chalicelib.services import Services

log = logging.getLogger("deltadb.app")

ANY_CONTENT = ["*/*"]  # accept bodies whatever Content-Type a Go-era client sends

# Access rules besides the permissions read / write / admin:
PUBLIC = "public"  # no credential is looked at
OPTIONAL = "optional"  # a valid credential is used if one is sent; none or a bad one is no error
AUTHENTICATED = "authenticated"  # any valid credential
PRINCIPAL_KEY = "deltadb_principal"  # where the caller's id is left in the request context, for the access log
AUDIT_ACTOR = "deltadb_audit_actor"  # set by a view whose caller is known only from the body (login)
AUDIT_TARGET = "deltadb_audit_target"  # set by a view whose target is known only from its result (a new key)


class RouteRequest:
    """What a view gets: the request, the use cases, and who is calling (None on public routes)."""

    __slots__ = ("principal", "request", "services")  # one per request: a plain class is the cheapest

    def __init__(self, request: Request, services: Services, principal: Principal | None) -> None:
        self.request = request
        self.services = services
        self.principal = principal

    def header(self, name: str) -> str | None:
        value: str | None = self.request.headers.get(name)
        return value

    def query(self, name: str) -> str | None:
        params = self.request.query_params
        return params.get(name) if params else None

    def json(self) -> Any:
        """The body, parsed strictly; 413 beyond the size limit, 400 when not JSON."""
        raw = self.request.raw_body
        limit = self.services.max_body_bytes
        if raw is not None and len(raw) > limit:
            raise PayloadTooLarge(f"request body larger than {limit} bytes")
        return jsonbody.parse(raw)

    def conditions(self) -> Conditions:
        return Conditions(if_match=self.header("if-match"), if_none_match=self.header("if-none-match"))

    def audit_as(self, *, actor: str | None = None, target: str | None = None) -> None:
        """Name the audit line's actor or target when the path and credential do not tell."""
        if actor is not None:
            self.request.context[AUDIT_ACTOR] = actor
        if target is not None:
            self.request.context[AUDIT_TARGET] = target


View = Callable[..., Response]


@dataclass(frozen=True)
class _Route:
    path: str
    method: str
    access: str
    view: View
    audit: str | None = None


def _principal(services: Services, authorization: str | None, access: str) -> Principal | None:
    if access == PUBLIC:
        return None
    if access == OPTIONAL:
        if not authorization:
            return None
        try:
            return services.auth.authenticate(authorization)
        except DeltaError:
            return None
    principal = services.auth.authenticate(authorization)
    if access != AUTHENTICATED:
        principal.require(access)
    return principal


class RouteTable:
    def __init__(self) -> None:
        self._routes: list[_Route] = []

    def route(self, path: str, method: str, *, access: str, audit: str | None = None) -> Callable[[View], View]:
        def register(view: View) -> View:
            self._routes.append(_Route(path, method, access, view, audit))
            return view

        return register

    def get(self, path: str, *, access: str) -> Callable[[View], View]:
        return self.route(path, "GET", access=access)

    def put(self, path: str, *, access: str, audit: str | None = None) -> Callable[[View], View]:
        return self.route(path, "PUT", access=access, audit=audit)

    def post(self, path: str, *, access: str, audit: str | None = None) -> Callable[[View], View]:
        return self.route(path, "POST", access=access, audit=audit)

    def delete(self, path: str, *, access: str, audit: str | None = None) -> Callable[[View], View]:
        return self.route(path, "DELETE", access=access, audit=audit)

    def blueprint(self, import_name: str, services: Callable[[], Services]) -> Blueprint:
        bp = Blueprint(import_name)
        methods: dict[str, list[str]] = {}
        for r in self._routes:
            bp.route(r.path, methods=[r.method], content_types=ANY_CONTENT)(_wrap(bp, r, services))
            methods.setdefault(r.path, []).append(r.method)
        for path, allowed in methods.items():
            bp.route(path, methods=["OPTIONS"], content_types=ANY_CONTENT)(_refuse_options(allowed))
        return bp


def _wrap(bp: Blueprint, route: _Route, services: Callable[[], Services]) -> View:
    def view(**params: str) -> Response:
        request: Request | None = None
        try:
            svc = services()
            request = bp.current_request
            principal = _principal(svc, request.headers.get("authorization"), route.access)
            if principal is not None:
                request.context[PRINCIPAL_KEY] = principal.key_id or principal.client_id
            response = route.view(RouteRequest(request, svc, principal), **params)
        except DeltaError as exc:
            response = error_response(exc.status, exc.message)
        except Exception:
            log.exception("unhandled error in %s", route.view.__name__)
            response = error_response(500, "internal server error")
        if route.audit is not None and request is not None:
            try:
                _audit(route.audit, request, params, response.status_code)
            except Exception:  # the answer stands: a failed audit line is logged, never a 500
                log.exception("audit line of %s failed", route.view.__name__)
        return response

    view.__name__ = route.view.__name__
    return view


def request_id(request: Request) -> str | None:
    """API Gateway's request id (the local gateway sets the Lambda context's), for logs and audit lines."""
    found: str | None = request.context.get("requestId") or getattr(request.lambda_context, "aws_request_id", None)
    return found


def _audit(action: str, request: Request, params: dict[str, str], status: int) -> None:
    context = request.context
    key = request.query_params.get("key") if request.query_params else None
    parts = [unquote(v) for v in params.values()] + ([key] if key else [])
    audit.record(
        action,
        actor=str(context.get(AUDIT_ACTOR) or context.get(PRINCIPAL_KEY) or "anonymous"),
        target=str(context.get(AUDIT_TARGET) or "/".join(parts) or "-"),
        result=audit.result_for_status(status),
        request_id=request_id(request),
    )


def _refuse_options(allowed: list[str]) -> View:
    def options(**_params: str) -> Response:
        return error_response(405, "method not allowed", {"Allow": ", ".join(allowed)})

    return options
