"""DeltaDatabase: the Chalice app.

Routes are the main worker: they parse, authorise and validate (chalicelib.api), then
invoke the processing handlers declared below with ``@app.lambda_function`` through
the configured Invoker. Routes do no crypto on entities and no storage I/O.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from chalice.app import Chalice, Request, Response

from chalicelib.api import Conditions
from chalicelib.bootstrap import Runtime
from chalicelib.errors import DeltaError
from chalicelib.invoke.base import ENTITY_WORKER, META_WORKER

app = Chalice(app_name="deltadatabase")
app.debug = False  # never put stack traces in responses
log = logging.getLogger("deltadb.app")

ANY_CONTENT = ["*/*"]  # accept bodies whatever Content-Type a Go-era client sends
JSON_HEADERS = {"Content-Type": "application/json"}


Headers = dict[str, str | list[str]]


def request() -> Request:
    req = app.current_request
    assert req is not None  # set by Chalice before any view runs
    return req


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    out: Headers = {**JSON_HEADERS, **(headers or {})}
    return Response(body=json.dumps(body), status_code=status, headers=out)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": message}, status, headers)


@app.middleware("http")
def chalice_errors(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Rewrite Chalice's own error bodies into the contract's ``{"error": ...}``."""
    response = get_response(event)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Message" in body:
        # Chalice's own errors (405 wrong method, 415, ...) use {"Code", "Message"}.
        return error_response(response.status_code, str(body["Message"]).lower(), _allow(response.headers))
    return response


def _allow(headers: dict[str, Any]) -> dict[str, str]:
    allow = headers.get("Allow")
    return {"Allow": allow} if allow else {}


def route(path: str, methods: list[str]) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Register a route; map errors to the contract's ``{"error": ...}`` bodies.

    Every route also declares OPTIONS and refuses it with 405: no permissive CORS
    preflight, and Chalice's local gateway has no answer of its own without CORS.
    """

    def register(view: Callable[..., Response]) -> Callable[..., Response]:
        def dispatch(**params: str) -> Response:
            if request().method == "OPTIONS":
                return error_response(405, "method not allowed", {"Allow": ", ".join(methods)})
            try:
                return view(**params)
            except DeltaError as exc:
                return error_response(exc.status, exc.message)
            except Exception:
                log.exception("unhandled error in %s", view.__name__)
                return error_response(500, "internal server error")

        dispatch.__name__ = view.__name__
        app.route(path, methods=[*methods, "OPTIONS"], content_types=ANY_CONTENT)(dispatch)
        return view

    return register


def _auth() -> str | None:
    return request().headers.get("authorization")


def _conditions() -> Conditions:
    h = request().headers
    return Conditions(if_match=h.get("if-match"), if_none_match=h.get("if-none-match"))


def _key() -> str | None:
    params = request().query_params
    return params.get("key") if params else None


# -- health and admin ------------------------------------------------------------
@route("/health", ["GET"])
def health() -> Response:
    return json_response(runtime.api.health(_auth()))


@route("/admin/workers", ["GET"])
def admin_workers() -> Response:
    return json_response(runtime.api.list_workers(_auth()))


# -- auth ------------------------------------------------------------------------
@route("/api/login", ["POST"])
def login() -> Response:
    return json_response(runtime.api.login(request().raw_body))


@route("/api/keys", ["GET", "POST"])
def api_keys() -> Response:
    if request().method == "POST":
        return json_response(runtime.api.create_key(_auth(), request().raw_body), 201)
    return json_response(runtime.api.list_keys(_auth()))


@route("/api/keys/{key_id}", ["DELETE"])
def api_key(key_id: str) -> Response:
    return json_response(runtime.api.delete_key(_auth(), key_id))


# -- entities --------------------------------------------------------------------
@route("/entity/{db}", ["GET", "PUT", "DELETE"])
def entity(db: str) -> Response:
    api, method = runtime.api, request().method
    if method == "PUT":
        if "respond-async" in (request().headers.get("prefer") or "").lower():
            started = api.put_entities_async(_auth(), db, request().raw_body)
            return json_response(started, 202, {"Location": f"/operations/{started['operation_id']}"})
        etags = api.put_entities(_auth(), db, request().raw_body, _conditions())
        return json_response({"status": "ok"}, headers={"ETag": etags[0]} if len(etags) == 1 else None)
    if method == "DELETE":
        return json_response(api.delete_entity(_auth(), db, _key(), _conditions()))
    result = api.get_entity(_auth(), db, _key(), _conditions())
    if result.get("not_modified"):
        return Response(body="", status_code=304, headers={"ETag": result["etag"]})
    return Response(body=result["value"], status_code=200, headers={**JSON_HEADERS, "ETag": result["etag"]})


@route("/operations/{op_id}", ["GET"])
def operation(op_id: str) -> Response:
    return json_response(runtime.api.operation(_auth(), op_id))


# -- schemas ---------------------------------------------------------------------
@route("/admin/schemas", ["GET"])
def list_schemas() -> Response:
    return json_response(runtime.api.list_schemas())


@route("/schema/{schema_id}", ["GET", "PUT", "DELETE"])
def schema(schema_id: str) -> Response:
    api, method = runtime.api, request().method
    if method == "PUT":
        return json_response(api.put_schema(_auth(), schema_id, request().raw_body))
    if method == "DELETE":
        return json_response(api.delete_schema(_auth(), schema_id))
    return Response(body=api.get_schema(schema_id), status_code=200, headers={**JSON_HEADERS})


# -- processing handlers (Lambda functions) ----------------------------------------
@app.lambda_function(name=ENTITY_WORKER)
def entity_worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return runtime.handle(ENTITY_WORKER, event)


@app.lambda_function(name=META_WORKER)
def meta_worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return runtime.handle(META_WORKER, event)


runtime = Runtime({ENTITY_WORKER: entity_worker, META_WORKER: meta_worker})
