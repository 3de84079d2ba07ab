"""Health and the processing workers' status."""

from __future__ import annotations

from typing import Any

from chalicelib.auth.principal import ADMIN, Principal
from chalicelib.errors import DeltaError
from chalicelib.handler_client import HandlerClient
from chalicelib.handlers.protocol import CheckStorage


class AdminService:
    def __init__(self, handlers: HandlerClient) -> None:
        self.handlers = handlers

    def health(self, principal: Principal | None) -> dict[str, Any]:
        """``{"status": "ok"}`` for everyone; admins also get the storage's state."""
        if principal is None or ADMIN not in principal.permissions:
            return {"status": "ok"}
        try:
            storage = self.handlers.call(CheckStorage()).to_json()
        except DeltaError as exc:
            storage = {"ok": False, "detail": exc.message}
        return {"status": "ok" if storage.get("ok") else "degraded", "storage": storage}

    def workers(self) -> list[dict[str, Any]]:
        return [w.to_json() for w in self.handlers.workers()]
