"""Invoker port.

An invocation is a function name plus a plain-JSON event, answered by a plain-JSON
result — exactly a Lambda ``RequestResponse`` invoke — so the same handlers run
in-process, in local worker processes or in AWS Lambda.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

Event = dict[str, Any]
Result = dict[str, Any]

# Names of the processing handlers (Lambda function names in app.py).
ENTITY_WORKER = "entity_worker"  # envelope crypto + entity objects: needs the KEK
META_WORKER = "meta_worker"  # schemas and API-key records: no key material


class Invoker(Protocol):
    def invoke(self, function: str, event: Event) -> Result:
        """Run one handler and return its result."""

    def invoke_many(self, function: str, events: Sequence[Event]) -> list[Result]:
        """Run several independent events concurrently; results in input order."""

    def invoke_async(self, function: str, event: Event) -> None:
        """Start a handler and return at once (Lambda ``Event`` invocation); no result."""

    def workers(self) -> list[dict[str, Any]]:
        """What ``GET /admin/workers`` reports about the processing side."""
