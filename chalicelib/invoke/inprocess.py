"""In-process Invoker: runs the handlers in this process (the embedded default).

Nothing crosses a process, so ``call`` hands the typed call to the handler and gets
its reply object back: no JSON between the route side and the handler (replies are
shared, not copied: frozen dataclasses, read-only by convention). ``invoke`` is the
JSON form, for the places that hold an event rather than a call. ``strict=True`` (the
test suites use it) sends every call, reply and error through ``json`` and back, to
prove they would survive a real hop.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib.errors import DeltaError, from_result, to_result
from chalicelib.handlers.dispatch import Handler
from chalicelib.handlers.protocol import DescribeWorker, WorkerStatus
from chalicelib.handlers.wire import Call, R, decode_call
from chalicelib.invoke.base import Event, Result

log = logging.getLogger(__name__)


def _hop(doc: dict[str, Any]) -> Any:
    return json.loads(json.dumps(doc))


class InProcessInvoker:
    def __init__(self, handler_for: Callable[[str], Handler], *, max_parallel: int = 16, strict: bool = False) -> None:
        self._handler_for = handler_for
        self._pool = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="deltadb-invoke")
        self._strict = strict

    def call(self, c: Call[R]) -> R:
        """Run one call here and return its reply; a failure raises the client's DeltaError."""
        if self._strict:
            c = decode_call(_hop(c.to_json()))
        try:
            reply = self._handler_for(c.function).run(c)
        except DeltaError as exc:
            if self._strict:
                raise from_result(_hop(to_result(exc))) or DeltaError() from None
            raise
        except Exception:  # a handler bug must not take the route down with a trace
            log.exception("handler %s raised", c.function)
            raise DeltaError() from None
        return c.decode_reply(_hop(reply.to_json())) if self._strict else reply

    def invoke(self, function: str, event: Event) -> Result:
        if self._strict:
            event = _hop(event)
        try:
            result = self._handler_for(function)(event)
        except Exception:  # a handler bug must not take the route down with a trace
            log.exception("handler %s raised", function)
            return to_result(DeltaError())
        return _hop(result) if self._strict else result

    def invoke_async(self, function: str, event: Event) -> None:
        self._pool.submit(self.invoke, function, event)

    def workers(self) -> list[WorkerStatus]:
        try:
            return [self.call(DescribeWorker())]
        except DeltaError:
            return []
