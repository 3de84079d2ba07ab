"""Prometheus adapter: the catalog's instruments in prometheus-client.

Built only when metrics are on (``PROMETHEUS_MULTIPROC_DIR`` set by ``deltadb serve|up
--metrics-port``): prometheus-client is imported here, never by ``import app``. In
multiprocess mode every server process writes its own files in that folder and the
endpoint (local/metrics_endpoint.py) adds them up; prometheus-client picks the mode
from the variable by itself.
"""

from __future__ import annotations

from typing import Any

from chalicelib.metrics.base import (
    CACHE_HITS,
    CACHE_MISSES,
    HTTP_DURATION,
    HTTP_REQUESTS,
    INVOCATIONS,
    STORAGE_DURATION,
    STORAGE_ERRORS,
    STORAGE_OPERATIONS,
    UNMATCHED_ROUTE,
    WORKERS_AVAILABLE,
    MetricSpec,
    bounded_method,
)

# Sub-millisecond to seconds: a filesystem request takes well under a millisecond, an S3 one tens of them.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class PrometheusMetrics:
    enabled = True

    def __init__(self, registry: Any = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        # A registry of its own: each instance (tests make several) owns its instruments;
        # in multiprocess mode the values live in the folder's files whatever the registry.
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)

        def counter(spec: MetricSpec) -> Any:
            return Counter(spec.name.removesuffix("_total"), spec.help, spec.labels, registry=self.registry)

        def histogram(spec: MetricSpec) -> Any:
            return Histogram(spec.name, spec.help, spec.labels, registry=self.registry, buckets=BUCKETS)

        self._requests = counter(HTTP_REQUESTS)
        self._duration = histogram(HTTP_DURATION)
        self._storage_ops = counter(STORAGE_OPERATIONS)
        self._storage_errors = counter(STORAGE_ERRORS)
        self._storage_duration = histogram(STORAGE_DURATION)
        self._hits = counter(CACHE_HITS)
        self._misses = counter(CACHE_MISSES)
        self._invocations = counter(INVOCATIONS)
        # Each HTTP process of a main worker has its own heartbeat: show the newest view of a
        # live process (a dead process's value is dropped by the endpoint).
        self._workers = Gauge(
            WORKERS_AVAILABLE.name, WORKERS_AVAILABLE.help, registry=self.registry, multiprocess_mode="livemostrecent"
        )

    def http_request(self, route: str | None, method: str, status: int, seconds: float) -> None:
        route, method = route or UNMATCHED_ROUTE, bounded_method(method)
        self._requests.labels(route, method, str(status)).inc()
        self._duration.labels(route, method).observe(seconds)

    def storage_operation(self, backend: str, operation: str, seconds: float, failed: bool) -> None:
        self._storage_ops.labels(backend, operation).inc()
        self._storage_duration.labels(backend, operation).observe(seconds)
        if failed:
            self._storage_errors.labels(backend, operation).inc()

    def cache_lookup(self, cache: str, hit: bool) -> None:
        (self._hits if hit else self._misses).labels(cache).inc()

    def invocation(self, handler: str, action: str, outcome: str) -> None:
        self._invocations.labels(handler, action, outcome).inc()

    def workers_available(self, count: int) -> None:
        self._workers.set(count)

    def flush(self) -> None:
        pass
