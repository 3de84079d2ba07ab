"""Ports through which the route side reads records it does not own, and their adapter.

The authenticator needs API-key records and the schema cache needs schema documents;
both live on the processing side. They depend on these small protocols, not on the
handler client, so tests give them plain fakes.
"""

from __future__ import annotations

from typing import Protocol

from chalicelib.auth.apikeys import KeyRecord
from chalicelib.errors import NotFound
from chalicelib.handler_client import HandlerClient
from chalicelib.handlers.protocol import GetApiKey, GetSchema, SchemaDocument


class KeyRecords(Protocol):
    def get_key(self, key_id: str) -> KeyRecord | None:
        """The record of an API key, or None when there is none."""


class SchemaDocuments(Protocol):
    def get_schema(self, schema_id: str, if_none_match: str | None = None) -> SchemaDocument:
        """The schema's JSON text and etag (or not_modified); NotFound when there is none."""


class HandlerRecords:
    """Both ports, answered by the meta handler."""

    def __init__(self, handlers: HandlerClient) -> None:
        self._handlers = handlers

    def get_key(self, key_id: str) -> KeyRecord | None:
        try:
            return KeyRecord.from_json(self._handlers.call(GetApiKey(key_id)).record)
        except NotFound:
            return None

    def get_schema(self, schema_id: str, if_none_match: str | None = None) -> SchemaDocument:
        return self._handlers.call(GetSchema(schema_id, if_none_match))
