"""JSON Schema checking (draft-07 and later, chosen by ``$schema``) with a validator cache.

The route side keeps compiled validators keyed by schema id and revalidates each use
with the schema's etag (a conditional read that transfers nothing when unchanged), so
a schema changed through any instance takes effect on the next request everywhere.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError
from jsonschema.protocols import Validator

from chalicelib import jsonbody
from chalicelib.errors import BadRequest, NotFound
from chalicelib.remote import Workers

_DEFAULT = jsonschema.Draft202012Validator


def compile_schema(schema: Any) -> Validator:
    """A validator for ``schema``; BadRequest when it is not a valid JSON Schema."""
    if not isinstance(schema, (dict, bool)):
        raise BadRequest("a JSON Schema must be an object or a boolean")
    if isinstance(schema, dict) and "$schema" in schema and not isinstance(schema["$schema"], str):
        raise BadRequest("'$schema' must be a string")
    cls = jsonschema.validators.validator_for(schema, default=_DEFAULT)
    try:
        cls.check_schema(schema)  # type: ignore[arg-type]  # booleans are valid schemas
    except SchemaError as exc:
        where = "/" + "/".join(str(p) for p in exc.path) if exc.path else "the root"
        raise BadRequest(f"invalid JSON Schema at {where}: {exc.message}") from None
    except RecursionError:
        raise BadRequest("JSON Schema nested too deeply") from None
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def check(validator: Validator, key: str, value: Any) -> None:
    try:
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    except RecursionError:
        raise BadRequest(f"value for '{key}' is nested too deeply to validate") from None
    except Exception as exc:  # e.g. a $ref that cannot be resolved
        raise BadRequest(f"value for '{key}' could not be validated: {type(exc).__name__}") from None
    if error is not None:
        raise BadRequest(f"schema violation in '{key}' at {error.json_path}: {error.message}")


class SchemaCache:
    def __init__(self, workers: Workers) -> None:
        self._workers = workers
        self._cache: dict[str, tuple[str, Validator]] = {}
        self._lock = threading.Lock()

    def validator(self, schema_id: str) -> Validator | None:
        cached = self._cache.get(schema_id)
        try:
            result = self._workers.get_schema(schema_id, if_none_match=cached[0] if cached else None)
        except NotFound:
            self._cache.pop(schema_id, None)
            return None
        if result.get("not_modified") and cached:
            return cached[1]
        validator = compile_schema(jsonbody.parse(result["schema"]))
        with self._lock:
            self._cache[schema_id] = (result["etag"], validator)
        return validator

    def validate(self, schema_id: str, items: Iterable[tuple[str, Any]]) -> None:
        validator = self.validator(schema_id)
        if validator is None:
            return
        for key, value in items:
            check(validator, key, value)
