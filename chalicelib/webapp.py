"""The app factory: one Chalice app (routes and processing functions) on one Runtime.

app.py builds the deployed app with it; tests build their own apps on their own
runtimes. The processing functions are registered on the app itself, not on a
Blueprint, because Chalice applies app middleware only to the app's own functions.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Chalice

from chalicelib import routes
from chalicelib.bootstrap import Runtime
from chalicelib.handlers.protocol import FUNCTIONS

APP_NAME = "deltadatabase"


def create_app(runtime: Runtime) -> Chalice:
    app = Chalice(app_name=APP_NAME)
    app.debug = False  # never put stack traces in responses
    # The API answers JSON only: no body is binary, so API Gateway passes bodies as text
    # whatever their Content-Type, and Chalice skips its binary-type checks per request.
    app.api.binary_types = []
    routes.install(app, lambda: runtime.services, lambda: runtime.metrics)
    for name in FUNCTIONS:
        app.lambda_function(name=name)(_function(runtime, name))
    return app


def _function(runtime: Runtime, name: str) -> Any:
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            return runtime.handle(name, event)
        finally:
            runtime.metrics.flush()  # one invocation, one flush (EMF in Lambda)

    # Chalice records the handler as "app.<__name__>": app.py exposes it under that name.
    handler.__name__ = handler.__qualname__ = name
    return handler
