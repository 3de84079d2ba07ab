"""The route side's client of the handler protocol: typed calls over the Invoker.

``call(GetEntity(...))`` returns an ``EntityValue`` or raises the chalicelib.errors class
the handler reported, whichever invoker (in-process, pool, Lambda) carried it. With
handlers in this process (a ``DirectInvoker``) the call object itself is handed over;
otherwise it travels as JSON. Each call is counted here, once, on the route side
(handler, action, outcome: ok or the error's code), whichever process ends up running it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from chalicelib.errors import DeltaError, from_result
from chalicelib.handlers.protocol import WorkerStatus
from chalicelib.handlers.wire import Call, R
from chalicelib.invoke.base import DirectInvoker, Invoker
from chalicelib.metrics.base import NO_METRICS, Metrics


class HandlerClient:
    def __init__(self, invoker: Invoker, max_parallel: int = 32, metrics: Metrics = NO_METRICS) -> None:
        self.invoker = invoker
        self.metrics = metrics
        self._pool = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="deltadb-calls")
        self._run: Callable[[Call[Any]], Any] = invoker.call if isinstance(invoker, DirectInvoker) else self._over_json

    def _over_json(self, c: Call[R]) -> R:
        result = self.invoker.invoke(c.function, c.to_json())
        err = from_result(result)
        if err is not None:
            raise err
        return c.decode_reply(result)

    def call(self, c: Call[R]) -> R:
        try:
            reply: R = self._run(c)
        except DeltaError as exc:
            self.metrics.invocation(c.function, c.action, exc.code)
            raise
        self.metrics.invocation(c.function, c.action, "ok")
        return reply

    def call_all(self, calls: Sequence[Call[R]]) -> list[R]:
        """Run independent calls concurrently; replies in input order.

        Every call is attempted; the first error (in input order) is raised after all have
        finished, so nothing is left running behind the response.
        """
        if len(calls) == 1:
            return [self.call(calls[0])]
        futures = [self._pool.submit(self.call, c) for c in calls]
        wait(futures)
        return [f.result() for f in futures]

    def start(self, c: Call[Any]) -> None:
        """Fire and forget (Lambda ``Event`` invocation): no reply, no error."""
        self.invoker.invoke_async(c.function, c.to_json())
        self.metrics.invocation(c.function, c.action, "started")

    def workers(self) -> list[WorkerStatus]:
        return self.invoker.workers()
