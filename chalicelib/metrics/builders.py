"""The composition root's builders of the metrics: which adapter, and the storage wrapper.

Called by chalicelib/bootstrap.py only. Each adapter's library is imported here, only
when that adapter is chosen: metrics off imports none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.config import Settings
from chalicelib.metrics.base import NO_METRICS, Metrics

if TYPE_CHECKING:
    from chalicelib.storage.base import Storage


def build_metrics(settings: Settings) -> Metrics:
    """EMF lines in Lambda; Prometheus where a metrics folder is set (``--metrics-port``); else nothing.

    Each adapter's library is imported only here, only when chosen: off costs no import.
    """
    if settings.in_lambda:
        if settings.metrics_disabled:
            return NO_METRICS
        from chalicelib.metrics.emf import EmfMetrics

        return EmfMetrics(settings.metrics_namespace)
    if settings.metrics_dir is not None:
        from chalicelib.metrics.prometheus import PrometheusMetrics

        return PrometheusMetrics()
    return NO_METRICS


_BACKENDS = {"FileStorage": "fs", "S3Storage": "s3", "MemoryStorage": "memory"}  # the metrics' backend label


def instrument_storage(storage: Storage, settings: Settings, metrics: Metrics) -> Storage:
    if not metrics.enabled:
        return storage
    from chalicelib.metrics.instrumented import InstrumentedStorage

    backend = _BACKENDS.get(type(storage).__name__, settings.backend)
    return InstrumentedStorage(storage, metrics, backend)
