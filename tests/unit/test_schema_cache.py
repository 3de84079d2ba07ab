"""SchemaCache: revalidation by ETag, one request to the storage at a time per schema."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from chalicelib import jsonbody
from chalicelib.errors import BadRequest, NotFound, Unavailable
from chalicelib.handlers.protocol import SchemaDocument
from chalicelib.schemas import SchemaCache
from tests.storage_helpers import run_together


def all_at_once(n: int, schemas: SchemaCache) -> list[Any]:
    results: list[Any] = [None] * n

    def one(i: int) -> None:
        results[i] = schemas.validator("people")

    run_together(one, [(i,) for i in range(n)])
    return results


class SlowSchemas:
    """Stands in for the meta worker: answers after ``delay`` seconds, like S3 would."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.calls = 0
        self.schema: dict[str, Any] | None = {"type": "object", "required": ["name"]}
        self.etag = '"v1"'
        self.fail = False
        self._lock = threading.Lock()

    def get_schema(self, schema_id: str, if_none_match: str | None = None) -> SchemaDocument:
        """The storage reads the version current when the request arrives; the answer comes later."""
        with self._lock:
            self.calls += 1
            fail, schema, etag = self.fail, self.schema, self.etag
        time.sleep(self.delay)
        if fail:
            raise Unavailable("storage unavailable")
        if schema is None:
            raise NotFound("no such schema")
        if if_none_match == etag:
            return SchemaDocument(etag=etag, not_modified=True)
        return SchemaDocument(etag=etag, schema=jsonbody.dumps(schema))


def cache(source: SlowSchemas, revalidate_after: float) -> SchemaCache:
    return SchemaCache(source, revalidate_after)


def test_concurrent_cold_requests_fetch_once() -> None:
    source = SlowSchemas(delay=0.1)
    schemas = cache(source, revalidate_after=60)
    results = all_at_once(16, schemas)
    assert source.calls == 1
    assert all(v is not None and v is results[0] for v in results)


def test_expiry_is_revalidated_by_one_request_while_the_others_use_the_cached_version() -> None:
    source = SlowSchemas(delay=0.1)
    schemas = cache(source, revalidate_after=0.05)
    first = schemas.validator("people")
    time.sleep(0.06)
    results = all_at_once(16, schemas)
    assert source.calls == 2  # the first load, then one conditional revalidation
    assert all(v is first for v in results)  # 304: the compiled validator is kept


def test_a_changed_schema_applies_after_the_interval() -> None:
    source = SlowSchemas(delay=0)
    schemas = cache(source, revalidate_after=0.05)
    schemas.validate("people", [("k", {"name": "x"})])
    source.schema, source.etag = {"type": "object", "required": ["age"]}, '"v2"'
    schemas.validate("people", [("k", {"name": "x"})])  # still within the interval
    time.sleep(0.06)
    with pytest.raises(BadRequest):
        schemas.validate("people", [("k", {"name": "x"})])
    source.schema = None  # deleted: no schema, no validation
    time.sleep(0.06)
    schemas.validate("people", [("k", 5)])


def test_without_an_interval_every_request_revalidates() -> None:
    source = SlowSchemas(delay=0)
    schemas = cache(source, revalidate_after=0)
    for _ in range(3):
        schemas.validator("people")
    assert source.calls == 3


def test_a_write_here_is_seen_at_once_even_during_a_revalidation() -> None:
    source = SlowSchemas(delay=0.2)
    schemas = cache(source, revalidate_after=60)
    old_fetch = threading.Thread(target=schemas.validator, args=("people",))
    old_fetch.start()  # reads v1 slowly
    time.sleep(0.05)
    source.schema, source.etag = {"type": "object", "required": ["age"]}, '"v2"'
    schemas.invalidate("people")  # this instance just wrote v2
    with pytest.raises(BadRequest):
        schemas.validate("people", [("k", {"name": "x"})])
    old_fetch.join()
    with pytest.raises(BadRequest):  # the older fetch, finished last, did not bring v1 back
        schemas.validate("people", [("k", {"name": "x"})])


def test_waiters_share_the_one_failure() -> None:
    source = SlowSchemas(delay=0.2)
    source.fail = True
    schemas = cache(source, revalidate_after=60)
    outcomes: list[Any] = [None] * 6

    def one(i: int) -> None:
        try:
            schemas.validator("people")
        except Unavailable as exc:
            outcomes[i] = exc

    start = time.monotonic()
    run_together(one, [(i,) for i in range(6)])
    assert all(isinstance(o, Unavailable) for o in outcomes)
    assert source.calls == 1 and time.monotonic() - start < 0.6  # one fetch, not six in a row
    source.fail = False
    assert schemas.validator("people") is not None  # a failure is not cached
