"""KMS master key versions, recorded in the storage: ``_keys/master.json``.

A Lambda function has no secrets folder, so the list of KMS keys that are (or were)
the master lives beside the data::

    {"version": 1, "current": "<key ARN>",
     "versions": [{"id": "<key ARN>", "created_at", "state": "active" | "enabled" | "destroyed",
                   "destroyed_at"?}]}

Absent, the configured ``DELTADB_KMS_KEY_ID`` alone is the master. The record holds no
key material (the keys never leave KMS); it is changed only by compare-and-swap, and
read by every process at most once per ``ttl`` seconds.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from chalicelib.storage.base import ObjectNotFound, Storage

MASTER_OBJECT = "_keys/master.json"


class KmsVersionStore:
    def __init__(self, storage: Storage, ttl: float = 1.0) -> None:
        self.storage = storage
        self.ttl = ttl
        self._cached: tuple[float, str | None] | None = None  # (read at, current)
        self._lock = threading.Lock()

    def read(self) -> tuple[dict[str, Any] | None, str | None]:
        """(the record, its etag), or (None, None) when there is none yet."""
        try:
            stored = self.storage.get(MASTER_OBJECT)
        except ObjectNotFound:
            return None, None
        doc: dict[str, Any] = json.loads(stored.data)
        return doc, stored.etag

    def write(self, doc: dict[str, Any], etag: str | None) -> None:
        """Compare-and-swap (VersionMismatch when someone else changed it meanwhile)."""
        data = json.dumps(doc, indent=2).encode()
        if etag is None:
            self.storage.put(MASTER_OBJECT, data, if_none_match=True)
        else:
            self.storage.put(MASTER_OBJECT, data, if_match=etag)
        with self._lock:
            self._cached = (time.monotonic(), str(doc["current"]))

    def current(self) -> str | None:
        """The current version's ARN (None: no record, the configured key is the master)."""
        now = time.monotonic()
        cached = self._cached
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        doc, _etag = self.read()
        value = str(doc["current"]) if doc else None
        with self._lock:
            self._cached = (now, value)
        return value
