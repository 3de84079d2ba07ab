"""The S3 backend against real S3 servers over HTTP (moto server mode, LocalStack).

Semantics, racing conditional writes, S3 requests per API operation, and faults
injected on the wire by a TCP proxy (503 SlowDown, 500, dropped connections, 409).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from chalicelib.storage.base import NotModified, ObjectNotFound, StorageUnavailable, StoredObject, VersionMismatch
from chalicelib.storage.s3 import S3Options, S3Storage
from chalicelib.storage.s3_client import make_boto3_client
from chalicelib.storage.s3_lean import LeanS3
from tests import s3_wire
from tests.conftest import ADMIN_KEY, s3_endpoint, s3_storage
from tests.integration.faultproxy import FaultProxy
from tests.storage_helpers import cas_race, run_together

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture(params=["moto", "localstack"])
def endpoint(request: pytest.FixtureRequest, s3_server_pool: Any) -> str:
    return s3_endpoint(s3_server_pool, str(request.param))


@pytest.fixture
def store(endpoint: str) -> S3Storage:
    return s3_storage(endpoint)  # the client make_client picks: the lean one here (keys and endpoint given)


@pytest.fixture(params=["lean", "boto3"])
def either_store(store: S3Storage, request: pytest.FixtureRequest) -> S3Storage:
    """The same bucket through the lean client and through boto3's (profiles, instance roles, proxies)."""
    if request.param == "lean":
        assert isinstance(store.client, LeanS3)
        return store
    options = S3Options(bucket=store.bucket, endpoint=store.client.meta.endpoint_url, access_key="test",
                        secret_key="test")  # fmt: skip
    return S3Storage(make_boto3_client(options), options)


# -- storage semantics -------------------------------------------------------------
def test_semantics(either_store: S3Storage) -> None:
    store = either_store
    e1 = store.put("files/db/a", b"one", if_none_match=True)
    assert store.get("files/db/a").data == b"one"
    with pytest.raises(NotModified):
        store.get("files/db/a", if_none_match=e1)
    with pytest.raises(VersionMismatch):
        store.put("files/db/a", b"two", if_none_match=True)
    with pytest.raises(VersionMismatch):
        store.put("files/db/a", b"two", if_match='"0000"')
    e2 = store.put("files/db/a", b"two", if_match=e1)
    assert store.get("files/db/a", if_none_match=e1).data == b"two"
    store.put("files/db/b", b"x")
    store.put("templates/s.json", b"{}")
    assert sorted(store.list("files/")) == ["files/db/a", "files/db/b"]
    with pytest.raises(VersionMismatch):
        store.delete("files/db/a", if_match=e1)
    store.delete("files/db/a", if_match=e2)
    with pytest.raises(ObjectNotFound):
        store.get("files/db/a")
    with pytest.raises(ObjectNotFound):
        store.delete("files/db/a")


def test_a_non_ascii_etag_from_a_client_cannot_match(either_store: S3Storage) -> None:
    """S3 ETags are ASCII: a condition on another value is decided here, never sent (http.client cannot)."""
    store = either_store
    etag = store.put("files/db/u", b"one")
    with pytest.raises(VersionMismatch):
        store.put("files/db/u", b"two", if_match='"€"')
    assert store.get("files/db/u", if_none_match='"€"') == StoredObject(b"one", etag)


def test_names_needing_encoding_roundtrip(store: S3Storage) -> None:
    from chalicelib import names

    for name in ["alice@example.com", "with space", "日本", "100%", ".hidden", "a+b", "#frag", "?q"]:
        key = f"files/db/{names.encode(name)}"
        store.put(key, name.encode())
        assert store.get(key).data == name.encode()
    listed = {names.decode(k.rsplit("/", 1)[1]) for k in store.list("files/db/")}
    assert "日本" in listed and "100%" in listed and ".hidden" in listed


def test_create_only_race_has_exactly_one_winner(store: S3Storage) -> None:
    wins: list[int] = []
    losses: list[int] = []

    def racer(i: int) -> None:
        try:
            store.put("files/db/race", str(i).encode(), if_none_match=True)
            wins.append(i)
        except VersionMismatch:
            losses.append(i)

    run_together(racer, [(i,) for i in range(16)])
    assert len(wins) == 1 and len(losses) == 15
    assert store.get("files/db/race").data == str(wins[0]).encode()


def test_compare_and_swap_loses_no_update(store: S3Storage) -> None:
    assert cas_race(store, "c/n", threads=6, times=8) == b"48"


# -- S3 requests per API operation ---------------------------------------------------
class Recorder:
    """Counts S3 requests by operation and the HTTP status of each, as the store's client sends them."""

    def __init__(self, store: S3Storage) -> None:
        self.ops: Counter[str] = Counter()
        self.statuses: list[tuple[str, int]] = []
        s3_wire.watch(store.client, lambda op, _headers: self.ops.update([op]),
                      lambda op, status: self.statuses.append((op, status)))  # fmt: skip

    def reset(self) -> None:
        self.ops.clear()
        self.statuses.clear()


@pytest.fixture
def app_on(app_client: Any) -> Any:
    return lambda store, **overrides: app_client(store=store, storage="s3", **overrides)


def test_requests_per_api_operation(either_store: S3Storage, app_on: Any) -> None:
    store = either_store
    client = app_on(store)
    rec = Recorder(store)
    doc = json.dumps({"k0": {"doc": "x" * 1000}})
    assert client.http.put("/entity/db", body=doc, headers=AUTH).status_code == 200  # warms the schema cache
    rec.reset()

    assert client.http.put("/entity/db", body=json.dumps({"k1": {"v": 1}}), headers=AUTH).status_code == 200
    assert rec.ops == Counter({"PutObject": 1}), rec.ops  # exactly one request per entity PUT
    rec.reset()

    five = {f"m{i}": i for i in range(5)}
    assert client.http.put("/entity/db", body=json.dumps(five), headers=AUTH).status_code == 200
    assert rec.ops == Counter({"PutObject": 5}), rec.ops
    rec.reset()

    client.runtime.processing.entity_handler.entities.cache.clear()  # a cold reader
    assert json.loads(client.http.get("/entity/db?key=k1", headers=AUTH).body) == {"v": 1}
    assert rec.ops == Counter({"GetObject": 1}) and rec.statuses == [("GetObject", 200)]
    rec.reset()

    assert json.loads(client.http.get("/entity/db?key=k1", headers=AUTH).body) == {"v": 1}
    assert rec.ops == Counter({"GetObject": 1})
    assert rec.statuses == [("GetObject", 304)], "a warm GET must not transfer the body"
    rec.reset()

    # (the first delete of a client learns whether the server has conditional deletes)
    assert client.http.delete("/entity/db?key=m0", headers=AUTH).status_code == 200
    rec.reset()
    assert client.http.delete("/entity/db?key=k1", headers=AUTH).status_code == 200
    assert rec.ops == Counter({"HeadObject": 1, "DeleteObject": 1}), rec.ops


def test_a_write_is_one_round_trip(either_store: S3Storage) -> None:
    """No "Expect: 100-continue": the body goes with the headers, not after a 100 reply."""
    store = either_store
    sent: list[tuple[str, dict[str, str]]] = []
    s3_wire.watch(store.client, lambda op, headers: sent.append((op, headers)))
    store.put("expect/a", b"x" * 4096, if_none_match=True)
    assert len(sent) == 1 and sent[0][0] == "PutObject" and "expect" not in sent[0][1], sent
    assert store.get("expect/a").data == b"x" * 4096


def test_no_flexible_checksums_on_the_wire(either_store: S3Storage) -> None:
    """No CRC32 per write nor checksum mode per read: the envelope's AES-GCM tag checks every byte.

    botocore's defaults add both (``request_checksum_calculation`` and
    ``response_checksum_validation`` = when_supported); a write that is still
    conditional keeps its precondition header.
    """
    store = either_store
    sent: list[tuple[str, dict[str, str]]] = []
    s3_wire.watch(store.client, lambda op, headers: sent.append((op, headers)))
    etag = store.put("checksum/a", b"y" * 1024, if_none_match=True)
    store.put("checksum/a", b"z" * 1024, if_match=etag)
    assert store.get("checksum/a").data == b"z" * 1024
    assert [op for op, _ in sent] == ["PutObject", "PutObject", "GetObject"]
    for op, headers in sent:
        assert not [h for h in headers if h.startswith(("x-amz-checksum", "x-amz-sdk-checksum"))], (op, headers)
    assert sent[0][1]["if-none-match"] == "*" and "if-match" in sent[1][1]


def test_warm_read_sees_a_write_from_another_process(store: S3Storage, app_on: Any) -> None:
    client = app_on(store)
    assert client.http.put("/entity/db", body='{"k": 1}', headers=AUTH).status_code == 200
    assert client.http.get("/entity/db?key=k", headers=AUTH).body == b"1"  # cached now
    # Another instance (its own storage client and cache) writes a new version.
    other = S3Storage.from_options(
        S3Options(bucket=store.bucket, endpoint=store.client.meta.endpoint_url, access_key="test", secret_key="test")
    )
    from chalicelib.entities import EntityStore

    EntityStore(other, client.runtime.processing.keyring).put("db", "k", "2")
    assert client.http.get("/entity/db?key=k", headers=AUTH).body == b"2"


# -- faults on the wire ----------------------------------------------------------------
@pytest.fixture
def proxy(endpoint: str) -> Iterator[FaultProxy]:
    p = FaultProxy(urlsplit(endpoint).port or 80)
    yield p
    p.close()


def via(proxy: FaultProxy, bucket: str, attempts: int = 5) -> S3Storage:
    """A fresh client (no pooled connections) talking to the bucket through the proxy."""
    options = S3Options(bucket=bucket, endpoint=proxy.endpoint, access_key="test", secret_key="test",
                        max_attempts=attempts)  # fmt: skip
    return S3Storage.from_options(options)


@pytest.mark.parametrize("mode", ["slowdown", "error500", "drop"])
def test_transient_faults_are_retried_by_botocore(store: S3Storage, proxy: FaultProxy, mode: str) -> None:
    s = via(proxy, store.bucket)
    proxy.fail_next(2, mode)
    s.put("files/db/k", b"v")
    assert proxy.faults_served == 2
    proxy.fail_next(2, mode)
    s2 = via(proxy, store.bucket)
    assert s2.get("files/db/k").data == b"v"
    assert proxy.faults_served == 4


def test_persistent_faults_become_503_and_write_nothing(store: S3Storage, proxy: FaultProxy, app_on: Any) -> None:
    s = via(proxy, store.bucket, attempts=3)
    client = app_on(s)
    proxy.fail_next(1000, "slowdown")
    r = client.http.put("/entity/db", body='{"k": {"v": 1}}', headers=AUTH)
    assert r.status_code == 503
    assert json.loads(r.body) == {"error": "storage unavailable"}
    health = json.loads(client.http.get("/health", headers=AUTH).body)
    assert health["status"] == "degraded" and health["storage"]["ok"] is False
    assert json.loads(client.http.get("/health").body) == {"status": "ok"}  # nothing for anonymous callers
    proxy.fail_next(0, "slowdown")
    with pytest.raises(ObjectNotFound):
        store.get("files/db/k")
    assert client.http.get("/entity/db?key=k", headers=AUTH).status_code == 404
    assert json.loads(client.http.get("/health", headers=AUTH).body)["status"] == "ok"


def test_conditional_conflict_409_is_reported_not_overwritten(store: S3Storage, proxy: FaultProxy) -> None:
    etag = store.put("files/db/k", b"v1")
    s = via(proxy, store.bucket)
    proxy.fail_next(1, "conflict")
    with pytest.raises(VersionMismatch):
        s.put("files/db/k", b"v2", if_match=etag)
    assert store.get("files/db/k").data == b"v1"


def test_unreachable_endpoint_is_unavailable_not_a_crash() -> None:
    from tests.s3servers import free_port

    s = S3Storage.from_options(
        S3Options(bucket="b", endpoint=f"127.0.0.1:{free_port()}", access_key="a", secret_key="b", max_attempts=2)
    )
    with pytest.raises(StorageUnavailable):
        s.put("files/db/k", b"v")
    problem = s.check()
    assert problem is not None and "unreachable" in problem


def test_missing_bucket_is_reported(endpoint: str) -> None:
    s = S3Storage.from_options(
        S3Options(bucket=f"missing-{uuid.uuid4().hex[:12]}", endpoint=endpoint, access_key="test", secret_key="test")
    )
    problem = s.check()
    assert problem is not None and "does not exist" in problem
    assert s.check(create=True) is None and s.check() is None
