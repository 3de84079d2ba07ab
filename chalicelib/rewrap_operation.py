"""``POST /admin/rewrap``: a rewrap run as an asynchronous operation on the processing side.

The route persists the operation (``_ops/<id>/request``, sealed like an asynchronous PUT,
with ``"kind": "rewrap"``) and starts ``rewrap.run`` as an ``Event`` invocation, so a
Lambda deployment rewraps without a shell. The run drives the same pages as ``deltadb
rewrap`` (chalicelib/walks.py), calling its own handler, and records its counts after
each page in ``_ops/<id>/progress`` (counts only, no names, no content), which
``GET /operations/{id}`` reports. A run cut short (a Lambda timeout, a killed worker)
stops updating its progress: after ``STALE_RUN_SECONDS`` the operation reads as failed,
and ``POST /admin/rewrap`` again continues from the rewrap's checkpoint.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib import audit, names
from chalicelib.errors import DeltaError
from chalicelib.handlers.wire import Call, R
from chalicelib.operations import PREFIX, STALE_SECONDS
from chalicelib.storage.base import ObjectNotFound, Storage
from chalicelib.walks import RewrapTotals, RewrapWalk

if TYPE_CHECKING:
    from chalicelib.handlers.dispatch import Handler

KIND = "rewrap"
STALE_RUN_SECONDS = 300.0  # a running rewrap records progress after every page, far more often
INTERRUPTED = "interrupted; POST /admin/rewrap again to continue from its checkpoint"

log = logging.getLogger(__name__)


def _progress_object(op_id: str) -> str:
    return f"{PREFIX}{names.encode(op_id)}/progress"


class SelfCaller:
    """Calls answered by a handler in this process, through its dispatch (``Handler.run``: checks and errors)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    def call(self, c: Call[R]) -> R:
        return self.handler.run(c)


def _write(storage: Storage, op_id: str, clock: Callable[[], float], status: str, **fields: Any) -> None:
    doc = {"status": status, "updated": clock(), **fields}
    storage.put(_progress_object(op_id), json.dumps(doc).encode())


def run(
    handler: Handler,
    storage: Storage,
    clock: Callable[[], float],
    op_id: str,
    db: str | None,
    actor: str,
    request_id: str | None,
) -> None:
    """Run the rewrap to its end, recording progress; its end is an audit line (``rewrap.finish``)."""
    target = db or "*"
    _write(storage, op_id, clock, "running", **RewrapTotals().to_json())
    try:
        totals = RewrapWalk(SelfCaller(handler), db).run(
            on_page=lambda _page, t: _write(storage, op_id, clock, "running", **t.to_json())
        )
    except DeltaError as exc:
        _write(storage, op_id, clock, "failed", error=exc.message)
        audit.record("rewrap.finish", actor=actor, target=target, result=audit.FAILED, request_id=request_id)
        return
    status = "failed" if totals.failed else "done"
    _write(storage, op_id, clock, status, **totals.to_json())
    result = audit.FAILED if totals.failed else audit.OK
    audit.record("rewrap.finish", actor=actor, target=target, result=result, request_id=request_id, **totals.to_json())


def status(storage: Storage, op_id: str, request: dict[str, Any], now: float) -> dict[str, Any]:
    """The operation as ``GET /operations/{id}`` shows it: pending / done / failed, with the counts."""
    try:
        progress = json.loads(storage.get(_progress_object(op_id)).data)
    except ObjectNotFound:
        progress = {"status": "pending", "updated": request["created"]}
    state = str(progress.pop("status"))
    updated = float(progress.pop("updated", request["created"]))
    limit = STALE_SECONDS if state == "pending" else STALE_RUN_SECONDS
    if state in ("pending", "running") and now - updated > limit:
        state, progress["error"] = "failed", INTERRUPTED
    result = {"db": request.get("db"), **progress}
    return {
        "operation_id": op_id,
        "status": "pending" if state == "running" else state,
        "entities": [],
        "result": result,
    }
