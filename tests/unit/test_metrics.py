"""Metrics adapters on the real app: what is counted, with which labels, and that labels stay bounded.

The Prometheus adapter (single-process mode here: its own registry per test; the
multiprocess sum is tests/e2e/test_metrics.py's business) and the EMF adapter (the
app's Lambda entry points, through chalice.test.Client with a Lambda context) run under
the whole app on a real data folder: routes, services, in-process handlers, FS storage.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.bootstrap import Runtime
from chalicelib.config import Settings
from chalicelib.metrics.base import CATALOG, NO_METRICS
from chalicelib.metrics.builders import build_metrics
from chalicelib.metrics.emf import EmfMetrics
from chalicelib.metrics.instrumented import InstrumentedStorage
from chalicelib.metrics.prometheus import PrometheusMetrics
from chalicelib.storage.base import ObjectNotFound, StorageUnavailable, VersionMismatch
from chalicelib.storage.memory import MemoryStorage
from tests.conftest import ADMIN_KEY, AppClient, make_settings

ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
Sample = tuple[str, tuple[tuple[str, str], ...], float]
Served = tuple[AppClient, PrometheusMetrics]


def samples(metrics: PrometheusMetrics) -> list[Sample]:
    return [
        (s.name, tuple(sorted(s.labels.items())), s.value) for fam in metrics.registry.collect() for s in fam.samples
    ]


def total(metrics: PrometheusMetrics, name: str, **labels: str) -> float:
    return sum(v for n, ls, v in samples(metrics) if n == name and labels.items() <= dict(ls).items())


def series(metrics: PrometheusMetrics) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {(n, ls) for n, ls, _v in samples(metrics) if not n.endswith("_created")}


class Traffic:
    """Requests against an app, counted as sent."""

    def __init__(self, client: AppClient) -> None:
        self.client = client
        self.sent = 0

    def __call__(self, method: str, path: str, body: Any = None, auth: bool = True) -> int:
        payload = json.dumps(body) if body is not None else None
        r = self.client.http.request(method, path, headers=AUTH if auth else {}, body=payload)
        self.sent += 1
        return int(r.status_code)

    def round(self, dbs: list[str], keys: list[str]) -> None:
        """Every kind of request, on each database and key given."""
        for db in dbs:
            assert self("PUT", f"/entity/{db}", {k: {"v": k} for k in keys}) == 200
            for k in keys:
                assert self("GET", f"/entity/{db}?key={k}") == 200
                assert self("GET", f"/entity/{db}?key={k}") == 200  # a cache hit
            assert self("GET", f"/entity/{db}?key=absent-{db}") == 404
            assert self("GET", f"/entity/{db}/keys?limit=2") == 200
            assert self("DELETE", f"/entity/{db}?key={keys[0]}") in (200, 204)
            assert self("GET", f"/entity/{db}?key={keys[0]}", auth=False) == 401
            assert self("GET", f"/entity/{db}%2Fx?key=k") == 400


@pytest.fixture
def prometheus_app(tmp_path: Path) -> Iterator[Served]:
    metrics = PrometheusMetrics()
    client = AppClient(Runtime(make_settings(tmp_path), metrics=metrics))
    yield client, metrics
    client.__exit__(None, None, None)


def test_http_requests_count_every_request_by_route_template(
    prometheus_app: Served,
) -> None:
    client, metrics = prometheus_app
    send = Traffic(client)
    send.round(["chat", "orders"], ["a", "b"])
    assert total(metrics, "deltadb_http_requests_total") == send.sent
    assert total(metrics, "deltadb_http_request_duration_seconds_count") == send.sent
    assert total(metrics, "deltadb_http_requests_total", route="/entity/{db}", method="PUT", status="200") == 2
    assert total(metrics, "deltadb_http_requests_total", route="/entity/{db}", method="GET", status="404") == 2
    assert total(metrics, "deltadb_http_requests_total", route="/entity/{db}", method="GET", status="401") == 2
    assert total(metrics, "deltadb_http_requests_total", route="/entity/{db}/keys", method="GET", status="200") == 2
    routes = {dict(ls)["route"] for n, ls, _ in samples(metrics) if n == "deltadb_http_requests_total"}
    assert routes == {"/entity/{db}", "/entity/{db}/keys"}


def test_storage_cache_and_invocations_are_counted(prometheus_app: Served) -> None:
    client, metrics = prometheus_app
    Traffic(client).round(["chat"], ["a", "b", "c"])
    # one PUT of three entities: three entity.put calls; three entity objects written, plus the
    # database's key record (_keys/databases/chat.json), created once by the first write to the
    # database however many of its entities race to be first (nothing else written)
    assert total(metrics, "deltadb_handler_invocations_total", action="entity.put", outcome="ok") == 3
    assert total(metrics, "deltadb_handler_invocations_total", handler="entity_worker", outcome="not_found") >= 1
    assert total(metrics, "deltadb_storage_operations_total", backend="fs", operation="put") == 3 + 1
    # a second PUT to the same database writes its entity objects only: the key record exists
    assert Traffic(client)("PUT", "/entity/chat", {k: {"v": 2} for k in ("a", "b", "c")}) == 200
    assert total(metrics, "deltadb_storage_operations_total", backend="fs", operation="put") == 4 + 3
    assert total(metrics, "deltadb_storage_operations_total", backend="fs", operation="delete") == 1
    assert total(metrics, "deltadb_storage_errors_total") == 0  # not found is an answer, not an error
    # each key read twice after its write: the value cache answers (revalidated by etag)
    assert total(metrics, "deltadb_cache_hits_total", cache="entities") >= 3
    assert total(metrics, "deltadb_cache_misses_total", cache="schemas") >= 1


def test_label_sets_stay_bounded_however_many_databases_and_keys(
    prometheus_app: Served,
) -> None:
    client, metrics = prometheus_app
    send = Traffic(client)
    send.round(["db-0", "db-1"], ["key-0", "key-1"])
    before = series(metrics)
    many_dbs, many_keys = [f"db-{i}" for i in range(2, 42)], [f"key-{i}" for i in range(2, 7)]
    send.round(many_dbs, many_keys)
    assert series(metrics) == before  # 40 more databases and 5 more keys each: not one more series
    assert total(metrics, "deltadb_http_requests_total") == send.sent
    values = {v for _n, ls, _ in samples(metrics) for _k, v in ls}
    assert not {v for v in values if "db-" in v or "key-" in v}, values


def test_instrumented_storage_counts_errors_but_not_answers() -> None:
    metrics = PrometheusMetrics()
    store = InstrumentedStorage(MemoryStorage(), metrics, "memory")
    etag = store.put("files/d/k", b"x")
    with pytest.raises(ObjectNotFound):
        store.get("files/d/other")
    with pytest.raises(VersionMismatch):
        store.put("files/d/k", b"y", if_match=etag + "-stale")
    assert list(store.list("files/")) == ["files/d/k"]

    class Broken(MemoryStorage):
        def get(self, key: str, *, if_none_match: str | None = None) -> Any:
            raise StorageUnavailable("down")

    broken = InstrumentedStorage(Broken(), metrics, "memory")
    with pytest.raises(StorageUnavailable):
        broken.get("files/d/k")
    assert total(metrics, "deltadb_storage_operations_total", operation="put") == 2
    assert total(metrics, "deltadb_storage_operations_total", operation="get") == 2
    assert total(metrics, "deltadb_storage_operations_total", operation="list") == 1
    assert total(metrics, "deltadb_storage_errors_total") == 1
    assert total(metrics, "deltadb_storage_errors_total", backend="memory", operation="get") == 1


def test_workers_available_gauge_and_unknown_methods() -> None:
    metrics = PrometheusMetrics()
    metrics.workers_available(3)
    metrics.http_request(None, "BREW", 405, 0.001)
    assert total(metrics, "deltadb_workers_available") == 3
    assert total(metrics, "deltadb_http_requests_total", route="unmatched", method="other", status="405") == 1


# -- EMF (Lambda) ---------------------------------------------------------------------
def emf_lines(out: str) -> list[dict[str, Any]]:
    docs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [d for d in docs if "_aws" in d]


def emf_values(lines: list[dict[str, Any]], metric: str, **dims: str) -> list[float]:
    found: list[float] = []
    for doc in lines:
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        names = {m["Name"] for m in directive["Metrics"]}
        if metric in names and all(doc.get(k) == v for k, v in dims.items()):
            value = doc[metric]
            found.extend(value if isinstance(value, list) else [value])
    return found


def test_emf_lines_per_invocation_in_lambda(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings(
        tmp_path, in_lambda=True, storage="fs", master_key=os.urandom(32), session_secret=os.urandom(32)
    )
    runtime = Runtime(settings)
    assert isinstance(runtime.metrics, EmfMetrics)
    client = AppClient(runtime)
    try:
        send = Traffic(client)
        send.round(["chat", "orders"], ["a", "b"])
        capsys.readouterr()
        assert send("GET", "/entity/chat?key=b") == 200
        one = emf_lines(capsys.readouterr().out)  # exactly this request's figures: flushed per request
        # a processing function invoked as Lambda invokes it: its own flush
        put = {"action": "entity.put", "db": "chat", "key": "z", "value": "1", "if_match": None, "if_none_match": False}
        assert "error" not in client.lambda_.invoke("entity_worker", put).payload
        worker = emf_lines(capsys.readouterr().out)
    finally:
        client.__exit__(None, None, None)
    for doc in one + worker:
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "DeltaDatabase"
        for dims in directive["Dimensions"]:
            assert set(dims) <= {"route", "method", "status", "backend", "operation", "cache", "handler", "action",
                                 "outcome"}  # fmt: skip
        assert "chat" not in json.dumps({k: v for k, v in doc.items() if k != "_aws"})  # no database name
    assert emf_values(one, "http_requests", route="/entity/{db}", method="GET", status="200") == [1.0]
    assert len(emf_values(one, "http_request_duration_seconds", route="/entity/{db}", method="GET")) == 1
    assert emf_values(one, "handler_invocations", handler="entity_worker", action="entity.get", outcome="ok") == [1.0]
    assert emf_values(one, "storage_operations", backend="fs", operation="get")  # in-process handler, same flush
    assert emf_values(worker, "storage_operations", backend="fs", operation="put") == [1.0]
    assert not emf_values(worker, "http_requests")


def test_emf_groups_counts_and_can_be_disabled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    emf = EmfMetrics("NS")
    for _ in range(3):
        emf.cache_lookup("entities", True)
    emf.cache_lookup("entities", False)
    emf.flush()
    lines = emf_lines(capsys.readouterr().out)
    assert emf_values(lines, "cache_hits", cache="entities") == [3.0]
    assert emf_values(lines, "cache_misses", cache="entities") == [1.0]
    emf.flush()
    assert capsys.readouterr().out == ""  # nothing recorded since: nothing written
    off = Settings(in_lambda=True, master_key=os.urandom(32), metrics_disabled=True)
    assert build_metrics(off) is NO_METRICS


def test_metrics_off_by_default_imports_neither_library(tmp_path: Path) -> None:
    """Off (no PROMETHEUS_MULTIPROC_DIR, not in Lambda): a request loads no metrics library at all."""
    code = (
        "import sys, json; from tests.conftest import AppClient, make_settings, ADMIN_KEY;"
        "from chalicelib.bootstrap import Runtime; from pathlib import Path;"
        f"c = AppClient(Runtime(make_settings(Path({str(tmp_path)!r}))));"
        "r = c.http.request('PUT', '/entity/d', headers={'Authorization': 'Bearer ' + ADMIN_KEY}, body='{\"k\": 1}');"
        "assert r.status_code == 200, r.body;"
        "print(json.dumps([m for m in ('prometheus_client', 'aws_lambda_powertools.metrics') if m in sys.modules]))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR", "AWS_LAMBDA_FUNCTION_NAME")}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_catalog_names_are_unique_and_prometheus_shaped() -> None:
    names = Counter(spec.name for spec in CATALOG)
    assert max(names.values()) == 1
    for spec in CATALOG:
        assert spec.name.startswith("deltadb_")
        assert (spec.kind == "counter") == spec.name.endswith("_total")
        assert spec.kind != "histogram" or spec.name.endswith("_seconds")
