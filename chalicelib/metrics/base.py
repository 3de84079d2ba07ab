"""The Metrics port, the metric catalog, the no-op adapter, and the label bounds.

Every label value comes from a closed set (route templates, methods, status codes,
backends, operations, cache names, handler functions and actions, error codes): never
a database name, an entity key or anything else a client chooses, so the number of
series stays bounded however many databases and keys are written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

# HTTP methods kept as they are; anything else is counted as "other".
KNOWN_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH"})
UNMATCHED_ROUTE = "unmatched"  # a request that reached the app without a route template


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its Prometheus name (the EMF name drops ``deltadb_`` and ``_total``), kind and labels."""

    name: str
    kind: str  # counter | histogram | gauge
    help: str
    labels: tuple[str, ...]
    unit: str = "Count"  # the CloudWatch unit of its EMF form

    @property
    def emf_name(self) -> str:
        return self.name.removeprefix("deltadb_").removesuffix("_total")


HTTP_REQUESTS = MetricSpec(
    "deltadb_http_requests_total", "counter", "HTTP requests answered by the app, by route template",
    ("route", "method", "status"),
)  # fmt: skip
HTTP_DURATION = MetricSpec(
    "deltadb_http_request_duration_seconds", "histogram", "time to answer an HTTP request, by route template",
    ("route", "method"), unit="Seconds",
)  # fmt: skip
STORAGE_OPERATIONS = MetricSpec(
    "deltadb_storage_operations_total", "counter", "storage operations (any outcome)", ("backend", "operation")
)
STORAGE_ERRORS = MetricSpec(
    "deltadb_storage_errors_total", "counter",
    "storage operations that failed (store unavailable or unexpected error; not found and version conflicts are "
    "answers, not errors)", ("backend", "operation"),
)  # fmt: skip
STORAGE_DURATION = MetricSpec(
    "deltadb_storage_operation_duration_seconds", "histogram", "time of a storage operation",
    ("backend", "operation"), unit="Seconds",
)  # fmt: skip
CACHE_HITS = MetricSpec("deltadb_cache_hits_total", "counter", "cache lookups that found an entry", ("cache",))
CACHE_MISSES = MetricSpec("deltadb_cache_misses_total", "counter", "cache lookups that found nothing", ("cache",))
INVOCATIONS = MetricSpec(
    "deltadb_handler_invocations_total", "counter",
    "calls of the processing handlers made by the routes, by handler, action and outcome (ok or the error code)",
    ("handler", "action", "outcome"),
)  # fmt: skip
WORKERS_AVAILABLE = MetricSpec(
    "deltadb_workers_available", "gauge", "processing workers answering the heartbeat (worker pool only)", ()
)
CATALOG = (
    HTTP_REQUESTS,
    HTTP_DURATION,
    STORAGE_OPERATIONS,
    STORAGE_ERRORS,
    STORAGE_DURATION,
    CACHE_HITS,
    CACHE_MISSES,
    INVOCATIONS,
    WORKERS_AVAILABLE,
)


def bounded_method(method: str) -> str:
    return method if method in KNOWN_METHODS else "other"


class Metrics(Protocol):
    """What the code records; each adapter turns it into its own instruments."""

    enabled: bool  # False: callers may skip work done only to feed metrics (timing)

    def http_request(self, route: str | None, method: str, status: int, seconds: float) -> None: ...

    def storage_operation(self, backend: str, operation: str, seconds: float, failed: bool) -> None: ...

    def cache_lookup(self, cache: str, hit: bool) -> None: ...

    def invocation(self, handler: str, action: str, outcome: str) -> None: ...

    def workers_available(self, count: int) -> None: ...

    def flush(self) -> None:
        """End of an invocation: write out what was recorded (EMF); nothing for the others."""


class NoMetrics:
    """Metrics off: every call does nothing."""

    enabled = False

    def http_request(self, route: str | None, method: str, status: int, seconds: float) -> None:
        pass

    def storage_operation(self, backend: str, operation: str, seconds: float, failed: bool) -> None:
        pass

    def cache_lookup(self, cache: str, hit: bool) -> None:
        pass

    def invocation(self, handler: str, action: str, outcome: str) -> None:
        pass

    def workers_available(self, count: int) -> None:
        pass

    def flush(self) -> None:
        pass


NO_METRICS: Metrics = NoMetrics()


def cache_observer(metrics: Metrics, cache: str) -> Callable[[bool], None] | None:
    """What a cache (chalicelib/caches.py) calls on each lookup; None when metrics are off."""
    return partial(metrics.cache_lookup, cache) if metrics.enabled else None
