"""The API's routes as Chalice Blueprints, one module per resource.

Each module declares its views on a ``RouteTable`` with the access each needs
(chalicelib/routes/table.py); ``install`` registers them all on an app, behind one
middleware: the contract's error shape, the access log and the HTTP metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from json.encoder import encode_basestring_ascii as _string  # json.dumps's own escaper
from typing import TYPE_CHECKING

from chalice.app import Chalice, Request, Response

from chalicelib.logs import direct_handler
from chalicelib.metrics.base import NO_METRICS, Metrics
from chalicelib.routes import admin, console, docs, entities, keys, schemas
from chalicelib.routes.responses import error_response
from chalicelib.routes.table import PRINCIPAL_KEY, request_id

if TYPE_CHECKING:
    from chalicelib.services import Services

RESOURCES = (admin, keys, entities, schemas, docs, console)
ACCESS_LOGGER = "deltadb.access"
access_log = logging.getLogger(ACCESS_LOGGER)


def install(
    app: Chalice, services: Callable[[], Services], metrics: Callable[[], Metrics] = lambda: NO_METRICS
) -> None:
    app.register_middleware(partial(_contract_log_and_metrics, metrics), "http")
    for module in RESOURCES:
        app.register_blueprint(module.routes.blueprint(module.__name__, services))


def _contract_log_and_metrics(
    metrics: Callable[[], Metrics], event: Request, get_response: Callable[[Request], Response]
) -> Response:
    """Every response in the contract's shape, one access-log line and the HTTP metrics for it (one layer)."""
    recorder = metrics()
    logged = access_log.isEnabledFor(logging.INFO)
    if not (logged or recorder.enabled):
        return _in_contract(get_response(event))
    started = time.perf_counter()
    response = _in_contract(get_response(event))
    seconds = time.perf_counter() - started
    context = event.context or {}
    route = context.get("resourcePath")  # the template, /entity/{db}: never the names in the path
    if recorder.enabled:
        recorder.http_request(route, event.method, response.status_code, seconds)
        recorder.flush()  # one invocation, one flush (EMF in Lambda)
    if logged:  # never a credential, a body, a query or the names in the path
        line = access_line(event.method, route, response.status_code, seconds, request_id(event),
                           context.get(PRINCIPAL_KEY))  # fmt: skip
        handler = direct_handler(access_log, logging.INFO)
        if handler is not None:
            handler.write("INFO", ACCESS_LOGGER, line)
        else:
            access_log.info(line)
    return response


def access_line(
    method: str, route: str | None, status: int, seconds: float, request: str | None, principal: str | None
) -> str:
    """The access log's JSON line, exactly as ``json.dumps`` writes that dict (tests/unit/test_json_text.py).

    Made directly, and written without a ``LogRecord`` when only our stderr handler listens
    (chalicelib/logs.py ``direct_handler``): through ``logging`` and ``json.dumps`` the line cost
    a GET 45 % more instructions at the default INFO level (bench/request_instructions.py).
    """
    return (
        f'{{"method": {_string(method)}, "route": {_text_or_null(route)}, "status": {int(status)}, '
        f'"ms": {round(seconds * 1000, 2)!r}, "request_id": {_text_or_null(request)}, '
        f'"principal": {_text_or_null(principal)}}}'
    )


def _text_or_null(value: str | None) -> str:
    return "null" if value is None else _string(value)


def _in_contract(response: Response) -> Response:
    """Chalice's own errors (405 wrong method, 415, ...) use {"Code", "Message"}: make them {"error": ...}."""
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Message" in body:
        allow = response.headers.get("Allow")
        headers = {"Allow": str(allow)} if allow else None
        return error_response(response.status_code, str(body["Message"]).lower(), headers)
    return response
