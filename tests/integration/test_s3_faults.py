"""Every S3 storage operation under every wire fault, on moto and LocalStack.

A fault proxy spoils the first connection of a fresh client (tests/integration/faultproxy.py):
the request never arrives (``reset``, ``drop``), or it is applied and its reply is lost
(``applied_drop``), cut mid-body (``truncate``) or late past the read timeout (``slow``).
botocore retries; whatever happened, each operation must answer as if the reply had
arrived: a retried conditional write that finds its own earlier write is a success, not
a 412; a retried delete that finds the object already gone by its own hand is a success,
not a 404; a cut reply is never a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from chalicelib.storage.base import NotModified, ObjectNotFound
from chalicelib.storage.s3 import S3Options, S3Storage
from tests.conftest import s3_endpoint, s3_storage
from tests.integration.faultproxy import FaultProxy

FAULTS = ["reset", "drop", "applied_drop", "truncate", "slow"]
READ_TIMEOUT = 1.0


@pytest.fixture(params=["moto", "localstack"], scope="module")
def endpoint(request: pytest.FixtureRequest, s3_server_pool: Any) -> str:
    return s3_endpoint(s3_server_pool, str(request.param))


@pytest.fixture
def store(endpoint: str) -> S3Storage:
    return s3_storage(endpoint)


@pytest.fixture
def proxy(endpoint: str) -> Iterator[FaultProxy]:
    p = FaultProxy(urlsplit(endpoint).port or 80)
    p.slow_seconds = READ_TIMEOUT + 1.0
    yield p
    p.close()


def faulty(proxy: FaultProxy, store: S3Storage, fault: str, method: bytes | None = None) -> S3Storage:
    """A fresh client (no pooled connection) whose first connection (or first ``method`` request) gets ``fault``."""
    options = S3Options(bucket=store.bucket, endpoint=proxy.endpoint, access_key="test", secret_key="test",
                        read_timeout=READ_TIMEOUT)  # fmt: skip
    client = S3Storage.from_options(options)
    # A long-lived client has learnt once whether the server has conditional deletes (LocalStack has not).
    store.put("probe/x", b"")
    store.delete("probe/x")
    client._conditional_delete = store._conditional_delete
    proxy.fail_next(1, fault, method)
    return client


# Each operation: (set-up on the healthy store, the operation through the faulty client, check afterwards)
def op_get(healthy: S3Storage, s: S3Storage) -> None:
    healthy.put("files/db/k", b"value")
    assert s.get("files/db/k").data == b"value"


def op_get_missing(healthy: S3Storage, s: S3Storage) -> None:
    with pytest.raises(ObjectNotFound):
        s.get("templates/none.json")


def op_get_not_modified(healthy: S3Storage, s: S3Storage) -> None:
    etag = healthy.put("files/db/k", b"value")
    with pytest.raises(NotModified):
        s.get("files/db/k", if_none_match=etag)


def op_put(healthy: S3Storage, s: S3Storage) -> None:
    etag = s.put("files/db/k", b"value")
    assert healthy.get("files/db/k").data == b"value"
    with pytest.raises(NotModified):
        healthy.get("files/db/k", if_none_match=etag)


def op_put_create_only(healthy: S3Storage, s: S3Storage) -> None:
    etag = s.put("files/db/new", b"mine", if_none_match=True)
    assert healthy.get("files/db/new").data == b"mine"
    with pytest.raises(NotModified):
        healthy.get("files/db/new", if_none_match=etag)


def op_put_if_match(healthy: S3Storage, s: S3Storage) -> None:
    old = healthy.put("files/db/k", b"v1")
    etag = s.put("files/db/k", b"v2", if_match=old)
    assert healthy.get("files/db/k").data == b"v2"
    with pytest.raises(NotModified):
        healthy.get("files/db/k", if_none_match=etag)


def op_delete(healthy: S3Storage, s: S3Storage) -> None:
    healthy.put("files/db/k", b"v")
    s.delete("files/db/k")
    with pytest.raises(ObjectNotFound):
        healthy.get("files/db/k")


def op_delete_if_match(healthy: S3Storage, s: S3Storage) -> None:
    etag = healthy.put("files/db/k", b"v")
    s.delete("files/db/k", if_match=etag)
    with pytest.raises(ObjectNotFound):
        healthy.get("files/db/k")


def op_list(healthy: S3Storage, s: S3Storage) -> None:
    for i in range(3):
        healthy.put(f"files/db/k{i}", b"v")
    assert sorted(s.list("files/db/")) == [f"files/db/k{i}" for i in range(3)]


def op_check(healthy: S3Storage, s: S3Storage) -> None:
    assert s.check() is None


# The request each operation's fault must hit (None: its first); a delete is a HEAD, then the DELETE.
FAULTED_METHOD: dict[str, bytes | None] = {"delete": b"DELETE", "delete if-match": b"DELETE"}

OPERATIONS: dict[str, Callable[[S3Storage, S3Storage], None]] = {
    "get": op_get,
    "get missing": op_get_missing,
    "get if-none-match": op_get_not_modified,
    "put": op_put,
    "put create-only": op_put_create_only,
    "put if-match": op_put_if_match,
    "delete": op_delete,
    "delete if-match": op_delete_if_match,
    "list": op_list,
    "check": op_check,
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_operation_under_fault(store: S3Storage, proxy: FaultProxy, operation: str, fault: str) -> None:
    method = FAULTED_METHOD.get(operation)
    s = faulty(proxy, store, fault, method)
    OPERATIONS[operation](store, s)
    assert proxy.faults_served == 1, "the fault was not exercised"
    if method is not None:
        assert proxy.faulted[0].startswith(method), proxy.faulted


# -- through the API: the three cases ----------------------------------------
AUTH = {"Authorization": "Bearer test-admin-key-0123456789"}


@pytest.mark.parametrize("fault", ["applied_drop", "truncate", "slow"])
def test_api_answers_as_if_the_reply_had_arrived(
    store: S3Storage, proxy: FaultProxy, app_client: Any, fault: str
) -> None:
    client = app_client(store=faulty(proxy, store, "reset"), storage="s3")
    assert client.http.put("/entity/db", body='{"warm": 1}', headers=AUTH).status_code == 200  # schema cache warm
    client.runtime.processing.storage.client.close()  # no kept-alive connection: the next request opens one
    proxy.fail_next(1, fault, b"PUT")  # the PutObject itself, not a schema read before it
    r = client.http.put("/entity/db", body='{"k": {"v": 1}}', headers={**AUTH, "If-None-Match": "*"})
    assert r.status_code == 200, r.body
    client.runtime.processing.storage.client.close()
    proxy.fail_next(1, fault, b"DELETE")  # the DeleteObject, not the HEAD before it
    r = client.http.delete("/entity/db?key=k", headers=AUTH)
    assert r.status_code == 200, r.body
    assert client.http.get("/entity/db?key=k", headers=AUTH).status_code == 404
    assert proxy.faults_served == 3, "a fault was not exercised"
    assert [line.split(b" ", 1)[0] for line in proxy.faulted[1:]] == [b"PUT", b"DELETE"], proxy.faulted
