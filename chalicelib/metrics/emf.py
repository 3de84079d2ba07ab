"""CloudWatch embedded metric format (EMF) adapter, for Lambda, through Powertools.

Each invocation records into memory; ``flush()`` (called once per invocation by the
HTTP middleware and the processing functions' wrapper, chalicelib/webapp.py) prints one
EMF JSON line per dimension set to stdout, which Lambda sends to CloudWatch Logs, where
they become metrics. Dimensions are the catalog's labels, bounded the same way as the
Prometheus labels. Counters are summed per invocation (one value per series), durations
are sent as each observation, in seconds.

Powertools' shared ``Metrics`` keeps one dimension set for all its metrics; an EMF
provider per dimension set keeps ours apart.
"""

from __future__ import annotations

import threading
from collections import defaultdict

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

Dimensions = tuple[tuple[str, str], ...]


class EmfMetrics:
    enabled = True

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._lock = threading.Lock()  # a route's parallel handler calls record from several threads
        # dimension set -> metric -> values
        self._pending: dict[Dimensions, dict[MetricSpec, list[float]]] = defaultdict(lambda: defaultdict(list))

    def _add(self, spec: MetricSpec, values: tuple[str, ...], value: float, total: bool = False) -> None:
        dims = tuple(zip(spec.labels, values, strict=True))
        with self._lock:
            series = self._pending[dims][spec]
            if total and series:
                series[0] += value
            else:
                series.append(value)

    def http_request(self, route: str | None, method: str, status: int, seconds: float) -> None:
        route, method = route or UNMATCHED_ROUTE, bounded_method(method)
        self._add(HTTP_REQUESTS, (route, method, str(status)), 1, total=True)
        self._add(HTTP_DURATION, (route, method), seconds)

    def storage_operation(self, backend: str, operation: str, seconds: float, failed: bool) -> None:
        self._add(STORAGE_OPERATIONS, (backend, operation), 1, total=True)
        self._add(STORAGE_DURATION, (backend, operation), seconds)
        if failed:
            self._add(STORAGE_ERRORS, (backend, operation), 1, total=True)

    def cache_lookup(self, cache: str, hit: bool) -> None:
        self._add(CACHE_HITS if hit else CACHE_MISSES, (cache,), 1, total=True)

    def invocation(self, handler: str, action: str, outcome: str) -> None:
        self._add(INVOCATIONS, (handler, action, outcome), 1, total=True)

    def workers_available(self, count: int) -> None:
        with self._lock:
            self._pending[()][WORKERS_AVAILABLE] = [float(count)]

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, defaultdict(lambda: defaultdict(list))
        if not pending:
            return
        from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

        for dims, metrics in pending.items():
            provider = AmazonCloudWatchEMFProvider(namespace=self.namespace)
            provider.add_dimensions(**dict(dims))
            for spec, values in metrics.items():
                for value in values:
                    provider.add_metric(name=spec.emf_name, unit=spec.unit, value=value)
            provider.flush_metrics()  # prints the EMF line (unless POWERTOOLS_METRICS_DISABLED)
