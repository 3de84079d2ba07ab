"""The route side's client of the handler protocol: typed calls over the Invoker.

``call(GetEntity(...))`` returns an ``EntityValue`` or raises the chalicelib.errors class
the handler reported, whichever invoker (in-process, pool, Lambda) carried it. Each
call is counted here, once, on the route side (handler, action, outcome: ok or the
error's code), whichever process ends up running it.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib.errors import from_result
from chalicelib.handlers.protocol import WorkerStatus
from chalicelib.handlers.wire import Call, R
from chalicelib.invoke.base import Invoker
from chalicelib.metrics.base import NO_METRICS, Metrics


class HandlerClient:
    def __init__(self, invoker: Invoker, max_parallel: int = 32, metrics: Metrics = NO_METRICS) -> None:
        self.invoker = invoker
        self.metrics = metrics
        self._pool = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="deltadb-calls")

    def _decode(self, c: Call[R], result: dict[str, Any]) -> R:
        err = from_result(result)
        self.metrics.invocation(c.function, c.action, "ok" if err is None else err.code)
        if err is not None:
            raise err
        return c.decode_reply(result)

    def _invoke(self, c: Call[Any]) -> dict[str, Any]:
        return self.invoker.invoke(c.function, c.to_json())

    def call(self, c: Call[R]) -> R:
        return self._decode(c, self._invoke(c))

    def call_all(self, calls: Sequence[Call[R]]) -> list[R]:
        """Run independent calls concurrently; replies in input order.

        Every call is attempted; the first error (in input order) is raised after all have
        finished, so nothing is left running behind the response.
        """
        if len(calls) == 1:
            return [self.call(calls[0])]
        results = list(self._pool.map(self._invoke, calls))
        return [self._decode(c, r) for c, r in zip(calls, results, strict=True)]

    def start(self, c: Call[Any]) -> None:
        """Fire and forget (Lambda ``Event`` invocation): no reply, no error."""
        self.invoker.invoke_async(c.function, c.to_json())
        self.metrics.invocation(c.function, c.action, "started")

    def workers(self) -> list[WorkerStatus]:
        return self.invoker.workers()
