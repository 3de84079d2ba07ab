"""In-process Invoker: calls the handler functions directly (the embedded default).

Events and results are the same JSON-shaped dicts a Lambda invoke would carry; no
serialisation happens here because nothing crosses a process. ``strict=True`` (the
test suites use it) round-trips every event and result through ``json`` to prove
they would survive a real hop.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib.errors import DeltaError, to_result
from chalicelib.handlers.protocol import DescribeWorker, WorkerStatus
from chalicelib.invoke.base import Event, Result

log = logging.getLogger(__name__)

Handler = Callable[[Event, Any], Result]


class InProcessInvoker:
    def __init__(self, handlers: Mapping[str, Handler], *, max_parallel: int = 16, strict: bool = False) -> None:
        self._handlers = dict(handlers)
        self._pool = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="deltadb-invoke")
        self._strict = strict

    def invoke(self, function: str, event: Event) -> Result:
        handler = self._handlers[function]
        if self._strict:
            event = json.loads(json.dumps(event))
        try:
            result = handler(event, None)
        except Exception:  # a handler bug must not take the route down with a trace
            log.exception("handler %s raised", function)
            return to_result(DeltaError())
        if self._strict:
            result = json.loads(json.dumps(result))
        return result

    def invoke_async(self, function: str, event: Event) -> None:
        self._pool.submit(self.invoke, function, event)

    def workers(self) -> list[WorkerStatus]:
        call = DescribeWorker()
        info = self.invoke(call.function, call.to_json())
        return [] if "error" in info else [call.decode_reply(info)]
