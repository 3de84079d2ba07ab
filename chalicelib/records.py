"""Ports through which the route side reads records it does not own, and their adapters.

The authenticator needs API-key records and the schema cache needs schema documents;
both live on the processing side. They depend on these small protocols, not on the
handler client, so tests give them plain fakes. ``HandlerRecords`` answers both through
the meta handler; ``RememberedKeys`` puts a bounded reuse of key records in front of it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from chalicelib.auth.apikeys import KeyRecord
from chalicelib.caches import Expiring
from chalicelib.errors import NotFound
from chalicelib.handler_client import HandlerClient
from chalicelib.handlers.protocol import GetApiKey, GetSchema, SchemaDocument


class KeyRecords(Protocol):
    def get_key(self, key_id: str) -> KeyRecord | None:
        """The record of an API key, or None when there is none."""


class SchemaDocuments(Protocol):
    def get_schema(self, schema_id: str, if_none_match: str | None = None) -> SchemaDocument:
        """The schema's JSON text and etag (or not_modified); NotFound when there is none."""


REMEMBERED_KEYS = 10_000


class RememberedKeys:
    """API-key records reused for ``max_age`` seconds before being read again (0: read every time).

    Every request made with a ``dk_`` key or its session needs the key's record: on S3 a
    GetObject, in Lambda also a ``meta_worker`` invocation. Reusing it for a few seconds
    saves both, at the price of a bounded delay: a key deleted, disabled or changed
    through another process is still honoured here until its record is read again.
    Changes made through this process apply at once (``forget``). Absent keys are not
    remembered, so a key created elsewhere works here at once.
    """

    def __init__(
        self,
        records: KeyRecords,
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
        on_cache_lookup: Callable[[bool], None] | None = None,
    ) -> None:
        self._records = records
        self._max_age = max_age
        self._clock = clock
        self._remembered: Expiring[str, KeyRecord] = Expiring(REMEMBERED_KEYS, clock, on_cache_lookup)
        self._lock = threading.Lock()
        self._forgets = 0  # a read that overlapped a forget() must not store what it read

    def get_key(self, key_id: str) -> KeyRecord | None:
        if self._max_age <= 0:
            return self._records.get_key(key_id)
        record = self._remembered.get(key_id)
        if record is not None:
            return record
        forgets = self._forgets
        record = self._records.get_key(key_id)
        if record is not None:
            with self._lock:
                if forgets == self._forgets:
                    self._remembered.put(key_id, record, self._clock() + self._max_age)
        return record

    def forget(self, key_id: str) -> None:
        """The key was changed or deleted through this process: read its record again next time."""
        with self._lock:
            self._forgets += 1
            self._remembered.discard(key_id)


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
