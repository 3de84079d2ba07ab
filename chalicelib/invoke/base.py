"""Invoker port.

An invocation is a function name plus a plain-JSON event, answered by a plain-JSON
result — exactly a Lambda ``RequestResponse`` invoke — so the same handlers run
in-process, in local worker processes or in AWS Lambda. What the events and results
mean is the handler protocol's business (chalicelib/handlers/protocol.py), not the
invoker's.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, runtime_checkable

from chalicelib.errors import DeltaError, to_result
from chalicelib.handlers.protocol import WorkerStatus
from chalicelib.handlers.wire import Call, R

log = logging.getLogger(__name__)
Event = dict[str, Any]
Result = dict[str, Any]


class InvokeFailed(Exception):
    """The invocation did not reach a handler, or its answer was lost (network, 5xx, timeout)."""


def function_error(function: str, kind: str) -> Result:
    """The result for a function that crashed (Lambda's ``X-Amz-Function-Error``), as either transport gives it."""
    # Not the payload: a crash's message or trace may quote what the function held.
    log.error("processing handler %s failed (%s)", function, kind)
    return to_result(DeltaError("processing handler failed"))


class Invoker(Protocol):
    def invoke(self, function: str, event: Event) -> Result:
        """Run one handler and return its result (an error result when it could not be reached)."""

    def invoke_async(self, function: str, event: Event) -> None:
        """Start a handler and return at once (Lambda ``Event`` invocation); no result."""

    def workers(self) -> list[WorkerStatus]:
        """What ``GET /admin/workers`` reports about the processing side."""


@runtime_checkable
class DirectInvoker(Invoker, Protocol):
    """An invoker whose handlers run in this process: typed calls in, reply objects out, no JSON."""

    def call(self, c: Call[R]) -> R:
        """Run one call and return its reply; a failure raises the DeltaError a client sees."""
