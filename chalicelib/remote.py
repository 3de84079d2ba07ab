"""The route side's view of the processing handlers: typed calls over the Invoker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chalicelib.auth.apikeys import KeyRecord
from chalicelib.errors import NotFound, from_result
from chalicelib.invoke.base import ENTITY_WORKER, META_WORKER, Invoker, Result


def _ok(result: Result) -> Result:
    err = from_result(result)
    if err is not None:
        raise err
    return result


class Workers:
    def __init__(self, invoker: Invoker) -> None:
        self.invoker = invoker

    # -- entities ----------------------------------------------------------------
    def put_entities(self, db: str, values: Sequence[tuple[str, str]], **conditions: Any) -> list[str]:
        """Store (key, value JSON) pairs concurrently; return their etags.

        Every entity is attempted; the first error (in request order) is raised after
        all have finished, so no write is left running behind the response.
        """
        cond = {k: v for k, v in conditions.items() if v}
        events = [{"op": "entity.put", "db": db, "key": k, "value": v, **cond} for k, v in values]
        results = self.invoker.invoke_many(ENTITY_WORKER, events)
        return [_ok(r)["etag"] for r in results]

    def start_operation(self, op_id: str, db: str, values: Sequence[tuple[str, str]]) -> None:
        """Persist an asynchronous PUT (sealed), then hand each entity to an Event invocation."""
        event = {"op": "operation.create", "id": op_id, "db": db, "values": [list(v) for v in values]}
        _ok(self.invoker.invoke(ENTITY_WORKER, event))
        for key, value in values:
            self.invoker.invoke_async(
                ENTITY_WORKER, {"op": "entity.put", "db": db, "key": key, "value": value, "operation": op_id}
            )

    def operation(self, op_id: str) -> Result:
        return _ok(self.invoker.invoke(ENTITY_WORKER, {"op": "operation.get", "id": op_id}))

    def get_entity(self, db: str, key: str, if_none_match: str | None = None) -> Result:
        event: dict[str, Any] = {"op": "entity.get", "db": db, "key": key}
        if if_none_match:
            event["if_none_match"] = if_none_match
        return _ok(self.invoker.invoke(ENTITY_WORKER, event))

    def delete_entity(self, db: str, key: str, if_match: str | None = None) -> None:
        event: dict[str, Any] = {"op": "entity.delete", "db": db, "key": key}
        if if_match:
            event["if_match"] = if_match
        _ok(self.invoker.invoke(ENTITY_WORKER, event))

    def workers(self) -> list[dict[str, Any]]:
        return self.invoker.workers()

    def storage_health(self) -> Result:
        return _ok(self.invoker.invoke(META_WORKER, {"op": "storage.check"}))

    # -- schemas -----------------------------------------------------------------
    def put_schema(self, schema_id: str, schema_json: str) -> None:
        _ok(self.invoker.invoke(META_WORKER, {"op": "schema.put", "id": schema_id, "schema": schema_json}))

    def get_schema(self, schema_id: str, if_none_match: str | None = None) -> Result:
        event: dict[str, Any] = {"op": "schema.get", "id": schema_id}
        if if_none_match:
            event["if_none_match"] = if_none_match
        return _ok(self.invoker.invoke(META_WORKER, event))

    def delete_schema(self, schema_id: str) -> None:
        _ok(self.invoker.invoke(META_WORKER, {"op": "schema.delete", "id": schema_id}))

    def list_schemas(self) -> list[str]:
        return list(_ok(self.invoker.invoke(META_WORKER, {"op": "schema.list"}))["ids"])

    # -- API keys ----------------------------------------------------------------
    def create_key(self, record: KeyRecord) -> None:
        _ok(self.invoker.invoke(META_WORKER, {"op": "apikey.create", "record": record.to_json()}))

    def get_key(self, key_id: str) -> KeyRecord | None:
        try:
            result = _ok(self.invoker.invoke(META_WORKER, {"op": "apikey.get", "id": key_id}))
        except NotFound:
            return None
        return KeyRecord.from_json(result["record"])

    def list_keys(self) -> list[KeyRecord]:
        result = _ok(self.invoker.invoke(META_WORKER, {"op": "apikey.list"}))
        return [KeyRecord.from_json(r) for r in result["records"]]

    def delete_key(self, key_id: str) -> None:
        _ok(self.invoker.invoke(META_WORKER, {"op": "apikey.delete", "id": key_id}))
