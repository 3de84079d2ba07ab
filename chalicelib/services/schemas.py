"""Schemas: a schema named like a database validates every PUT into it."""

from __future__ import annotations

from typing import Any

from chalicelib import jsonbody, names
from chalicelib.errors import BadRequest
from chalicelib.handler_client import HandlerClient
from chalicelib.handlers.protocol import DeleteSchema, GetSchema, ListSchemas, PutSchema
from chalicelib.schemas import SchemaCache, compile_schema


class SchemaService:
    def __init__(self, handlers: HandlerClient, cache: SchemaCache) -> None:
        self.handlers = handlers
        self.cache = cache

    def list(self) -> list[str]:
        return self.handlers.call(ListSchemas()).ids

    def get(self, raw_id: str) -> str:
        """The schema's JSON text."""
        return str(self.handlers.call(GetSchema(names.from_path(raw_id, "schema id"))).schema)

    def put(self, raw_id: str, schema: Any) -> None:
        schema_id = names.from_path(raw_id, "schema id")
        if not isinstance(schema, dict):  # true/false are JSON Schemas, but Go-era clients expect objects
            raise BadRequest("a schema must be a JSON object")
        compile_schema(schema)
        try:
            self.handlers.call(PutSchema(schema_id, jsonbody.dumps(schema)))
        finally:
            self.cache.invalidate(schema_id)

    def delete(self, raw_id: str) -> None:
        schema_id = names.from_path(raw_id, "schema id")
        try:
            self.handlers.call(DeleteSchema(schema_id))
        finally:
            self.cache.invalidate(schema_id)
