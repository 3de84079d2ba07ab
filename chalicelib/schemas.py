"""JSON Schema checking (draft-07 and later, chosen by ``$schema``) with a validator cache.

The route side keeps compiled validators keyed by schema id and revalidates them with
the schema's etag (a conditional read that transfers nothing when unchanged).
``revalidate_after`` bounds how stale a cached answer (schema or "no schema") may be:
0 revalidates on every request (the filesystem default: a stat), a few seconds on S3
(so an entity PUT costs one S3 request, not two). A schema written or deleted through
this instance is dropped from its cache at once; other instances see it within
``revalidate_after`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from chalicelib import jsonbody
from chalicelib.caches import Bounded
from chalicelib.errors import BadRequest, NotFound
from chalicelib.records import SchemaDocuments

if TYPE_CHECKING:  # jsonschema (~30 ms to import) loads with the first schema, not at cold start
    from jsonschema.protocols import Validator

CACHED_SCHEMAS = 10_000


def compile_schema(schema: Any) -> Validator:
    """A validator for ``schema``; BadRequest when it is not a valid JSON Schema."""
    if not isinstance(schema, (dict, bool)):
        raise BadRequest("a JSON Schema must be an object or a boolean")
    if isinstance(schema, dict) and "$schema" in schema and not isinstance(schema["$schema"], str):
        raise BadRequest("'$schema' must be a string")
    import jsonschema
    from jsonschema.exceptions import SchemaError

    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)  # type: ignore[arg-type]  # booleans are valid schemas
    except SchemaError as exc:
        where = "/" + "/".join(str(p) for p in exc.path) if exc.path else "the root"
        raise BadRequest(f"invalid JSON Schema at {where}: {exc.message}") from None
    except RecursionError:
        raise BadRequest("JSON Schema nested too deeply") from None
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def check(validator: Validator, key: str, value: Any) -> None:
    import jsonschema.exceptions

    try:
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    except RecursionError:
        raise BadRequest(f"value for '{key}' is nested too deeply to validate") from None
    except Exception as exc:  # e.g. a $ref that cannot be resolved
        raise BadRequest(f"value for '{key}' could not be validated: {type(exc).__name__}") from None
    if error is not None:
        raise BadRequest(f"schema violation in '{key}' at {error.json_path}: {error.message}")


class SchemaCache:
    """Compiled validators per schema id, revalidated by ETag every ``revalidate_after`` s.

    One revalidation per schema at a time (single flight): while one request asks the
    storage, the others use the version they already have instead of all asking at once
    (with S3 at tens of milliseconds, every request arriving meanwhile would otherwise
    fetch it too). A request with nothing cached waits for that one answer (or error).
    invalidate() (this instance wrote the schema) drops the cache and any fetch begun
    before it, so the next request reads the new version.
    """

    def __init__(
        self,
        documents: SchemaDocuments,
        revalidate_after: float = 0.0,
        on_cache_lookup: Callable[[bool], None] | None = None,
    ) -> None:
        self._documents = documents
        self._revalidate_after = revalidate_after
        # schema id -> (etag or None for "no schema", validator or None, checked at); bounded,
        # since every database name written to gets an entry (most of them "no schema")
        self._cache: Bounded[str, tuple[str | None, Validator | None, float]] = Bounded.lru(
            CACHED_SCHEMAS, on_cache_lookup
        )
        self._lock = threading.Lock()
        self._inflight: dict[str, Future[Validator | None]] = {}
        self._generation: dict[str, int] = {}  # bumped by invalidate(): older fetches are not cached

    def invalidate(self, schema_id: str) -> None:
        with self._lock:
            self._cache.discard(schema_id)
            self._inflight.pop(schema_id, None)  # later requests must not wait on an older fetch
            self._generation[schema_id] = self._generation.get(schema_id, 0) + 1

    def validator(self, schema_id: str) -> Validator | None:
        cached = self._cache.get(schema_id)
        if self._revalidate_after <= 0:  # every request revalidates for itself: nothing to share
            return self._revalidate(schema_id, cached, self._generation.get(schema_id, 0))
        if cached is not None and time.monotonic() - cached[2] < self._revalidate_after:
            return cached[1]
        with self._lock:
            cached = self._cache.get(schema_id)
            flight = self._inflight.get(schema_id)
            leader = flight is None
            if flight is None:
                flight = self._inflight[schema_id] = Future()
            generation = self._generation.get(schema_id, 0)
        if not leader:
            if cached is not None:
                return cached[1]  # another request is revalidating: the last known version meanwhile
            return flight.result()  # the leader's answer, or its exception: nobody fetches twice
        try:
            validator = self._revalidate(schema_id, cached, generation)
        except BaseException as exc:
            flight.set_exception(exc)
            raise
        else:
            flight.set_result(validator)
            return validator
        finally:
            with self._lock:
                if self._inflight.get(schema_id) is flight:
                    del self._inflight[schema_id]

    def _revalidate(
        self, schema_id: str, cached: tuple[str | None, Validator | None, float] | None, generation: int
    ) -> Validator | None:
        now = time.monotonic()
        etag = cached[0] if cached else None
        try:
            document = self._documents.get_schema(schema_id, if_none_match=etag)
        except NotFound:
            self._store(schema_id, (None, None, now), generation)
            return None
        if document.not_modified and cached is not None:
            validator = cached[1]
        else:
            validator = compile_schema(jsonbody.parse(document.schema))
        self._store(schema_id, (document.etag, validator, now), generation)
        return validator

    def _store(self, schema_id: str, entry: tuple[str | None, Validator | None, float], generation: int) -> None:
        with self._lock:
            if self._generation.get(schema_id, 0) == generation:  # else this instance changed it meanwhile
                self._cache.put(schema_id, entry)

    def validate(self, schema_id: str, items: Iterable[tuple[str, Any]]) -> None:
        validator = self.validator(schema_id)
        if validator is None:
            return
        for key, value in items:
            check(validator, key, value)
