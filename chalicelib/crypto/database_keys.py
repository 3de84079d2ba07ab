"""Database keys: one random 256-bit key per database, wrapped by a master key version.

Records live in the storage, ``_keys/databases/<db>.json``::

    {"version": 1, "db", "id": "<random id>", "master": "<master version id>", "wk": b64, "created_at"}

``wk`` is the database key wrapped by the master (local AES-GCM KEK, or KMS) with the
context ``{"purpose": "deltadb-database", "db": db}``. A record is created on the first
write to its database by a conditional create (racing processes agree on one: the loser
re-reads; within a process, requests racing on a cold key wait for one loader), moved
under a new master version by compare-and-swap (same id, same key), and deleted by a
shred, which first writes the tombstone ``_keys/shredded/<db>.json``.

Unwrapped keys are cached per process. This is the KMS data-key cache: while a key is
cached, sealing an entity costs no KMS call. Like the AWS Encryption SDK's caching CMM
the cache is bounded by age, by messages (entities sealed) and by bytes sealed under
one cached entry; past any bound the record is read and unwrapped again. Tombstones are
checked through a short-lived cache too, so a shred is seen by every process within
``SHRED_CHECK_SECONDS``.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib import names
from chalicelib.caches import Bounded
from chalicelib.crypto.keyring import KeyRing, KeyUnavailable
from chalicelib.storage.base import ObjectNotFound, Storage, StorageUnavailable, VersionMismatch
from chalicelib.timestamps import rfc3339

RECORDS = "_keys/databases/"
SHREDDED = "_keys/shredded/"
RECORD_VERSION = 1
SHRED_CHECK_SECONDS = 2.0  # at most this long before a process refuses a shredded database
PURPOSE = "deltadb-database"
LOAD_STRIPES = 64  # locks that serialise loading a database's key (per process), by hash of its name


class DatabaseShredded(KeyUnavailable):
    """The database has been shredded (its tombstone exists): every access is refused."""


def record_object(db: str) -> str:
    return f"{RECORDS}{names.encode(db)}.json"


def tombstone_object(db: str) -> str:
    return f"{SHREDDED}{names.encode(db)}.json"


def context(db: str) -> dict[str, str]:
    return {"purpose": PURPOSE, "db": db}


@dataclass(frozen=True, slots=True)
class DbKeyRecord:
    db: str
    id: str
    master: str
    wrapped: bytes
    created_at: str
    etag: str = ""

    def to_bytes(self) -> bytes:
        doc = {
            "version": RECORD_VERSION,
            "db": self.db,
            "id": self.id,
            "master": self.master,
            "wk": base64.b64encode(self.wrapped).decode(),
            "created_at": self.created_at,
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes, etag: str) -> DbKeyRecord:
        try:
            doc: dict[str, Any] = json.loads(data)
            if doc["version"] != RECORD_VERSION:
                raise KeyUnavailable(f"unsupported database key record version {doc['version']}")
            wrapped = base64.b64decode(doc["wk"], validate=True)
            return cls(str(doc["db"]), str(doc["id"]), str(doc["master"]), wrapped, str(doc["created_at"]), etag)
        except (ValueError, KeyError, TypeError):
            raise KeyUnavailable("malformed database key record") from None


@dataclass(frozen=True, slots=True)
class CacheLimits:
    """Bounds of one cached database key (the AWS Encryption SDK caching CMM's three)."""

    max_age: float = 5.0  # seconds; 0 turns the cache off
    max_messages: int = 100_000  # entities sealed under one cached entry
    max_bytes: int = 1 << 30  # plaintext bytes sealed under one cached entry


class _Entry:
    __slots__ = ("bytes", "loaded_at", "material", "messages", "record")

    def __init__(self, record: DbKeyRecord, material: bytes, loaded_at: float) -> None:
        self.record, self.material, self.loaded_at = record, material, loaded_at
        self.messages = 0
        self.bytes = 0


class DatabaseKeys:
    def __init__(
        self,
        storage: Storage,
        master: KeyRing,
        limits: CacheLimits | None = None,
        *,
        max_databases: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.storage, self.master = storage, master
        self.limits = limits or CacheLimits()
        self._clock = clock
        self._keys: Bounded[str, _Entry] = Bounded.lru(max_databases if self.limits.max_age > 0 else 0)
        self._shredded: Bounded[str, tuple[float, bool]] = Bounded.lru(max_databases)
        self._records: Bounded[str, tuple[float, DbKeyRecord | None]] = Bounded.lru(max_databases)
        self._lock = threading.Lock()
        self._loading = tuple(threading.Lock() for _ in range(LOAD_STRIPES))
        self.unwraps = 0  # master unwraps (KMS Decrypt calls with KMS), for tests and the benchmark

    # -- reading and creating records ------------------------------------------------
    def read(self, db: str) -> DbKeyRecord | None:
        """The stored record (uncached), or None."""
        try:
            stored = self.storage.get(record_object(db))
        except ObjectNotFound:
            return None
        return DbKeyRecord.from_bytes(stored.data, stored.etag)

    def records(self) -> Iterator[DbKeyRecord]:
        for obj in self.storage.list(RECORDS):
            try:
                stored = self.storage.get(obj)
            except ObjectNotFound:
                continue  # shredded meanwhile
            yield DbKeyRecord.from_bytes(stored.data, stored.etag)

    def _create(self, db: str) -> tuple[DbKeyRecord, bytes]:
        dk = self.master.generate_data_key(context(db))
        now = rfc3339(datetime.now(UTC))
        record = DbKeyRecord(db, "dbk-" + secrets.token_hex(8), dk.key_id, dk.wrapped, now)
        try:
            etag = self.storage.put(record_object(db), record.to_bytes(), if_none_match=True)
        except VersionMismatch:  # another process created it first: use theirs
            theirs = self.read(db)
            if theirs is None:
                raise StorageUnavailable("the database key record vanished while being created") from None
            return theirs, self._unwrap(theirs)
        return DbKeyRecord(db, record.id, record.master, record.wrapped, now, etag), dk.plaintext

    def _unwrap(self, record: DbKeyRecord) -> bytes:
        self.unwraps += 1
        return self.master.decrypt_data_key(record.master, record.wrapped, context(record.db))

    def _fresh(self, entry: _Entry | None, now: float) -> bool:
        return entry is not None and now - entry.loaded_at < self.limits.max_age

    def _take(self, entry: _Entry | None, now: float, size: int) -> tuple[str, bytes] | None:
        """(id, key) of ``entry``, counting one message of ``size`` bytes, if it is fresh and within its bounds."""
        lim = self.limits
        with self._lock:
            if (
                entry is None
                or not self._fresh(entry, now)
                or entry.messages >= lim.max_messages
                or entry.bytes + size > lim.max_bytes
            ):
                return None
            entry.messages += 1
            entry.bytes += size
            return entry.record.id, entry.material

    # -- the envelope's two questions ------------------------------------------------
    def for_sealing(self, db: str, size: int) -> tuple[str, bytes]:
        """(id, key) of the database's current key, created on first use; counts one message of ``size`` bytes."""
        self.check_not_shredded(db)
        now = self._clock()
        entry = self._keys.get(db)
        if (taken := self._take(entry, now, size)) is not None:
            return taken
        # One loader per database in this process: requests racing on a cold (or expired)
        # key wait for the first one instead of each reading, unwrapping (a KMS Decrypt) or
        # creating (a GenerateDataKey and a conditional put). Striped locks, so a slow load
        # of one database holds back only the few that share its stripe.
        with self._loading[hash(db) % len(self._loading)]:
            if (taken := self._take(self._keys.get(db), now, size)) is not None:
                return taken  # loaded by the request this one waited for
            record = self.read(db)
            record, material = self._create(db) if record is None else (record, self._unwrap(record))
            entry = _Entry(record, material, now)
            entry.messages, entry.bytes = 1, size
            self._keys.put(db, entry)
        return record.id, material

    def for_opening(self, db: str, key_id: str) -> bytes:
        """The key named ``key_id`` if it still is the database's key; else KeyUnavailable."""
        self.check_not_shredded(db)
        now = self._clock()
        entry = self._keys.get(db)
        if entry is not None and self._fresh(entry, now) and entry.record.id == key_id:
            return entry.material
        # Readers racing on a cold (or expired) key wait for the first one: one read and one
        # unwrap (a KMS Decrypt), not one per request (as for_sealing).
        with self._loading[hash(db) % len(self._loading)]:
            entry = self._keys.get(db)
            if entry is not None and self._fresh(entry, now) and entry.record.id == key_id:
                return entry.material  # loaded by the request this one waited for
            record = self.read(db)
            if record is None or record.id != key_id:
                raise KeyUnavailable(f"the database key {key_id} of {db!r} no longer exists")
            material = self._unwrap(record)
            self._keys.put(db, _Entry(record, material, now))
        return material

    def current_record(self, db: str) -> DbKeyRecord | None:
        """The record, read at most every couple of seconds (for ``master_key_id`` over a walk)."""
        now = self._clock()
        cached = self._records.get(db)
        if cached is not None and now - cached[0] < min(SHRED_CHECK_SECONDS, self.limits.max_age):
            return cached[1]
        record = self.read(db)
        self._records.put(db, (now, record))
        return record

    # -- rotation ----------------------------------------------------------------------
    def rewrap_record(self, record: DbKeyRecord) -> bool:
        """Move ``record`` under the current master version (compare-and-swap); False when it already is.

        Raises VersionMismatch when the record changed meanwhile (read it again and retry).
        """
        current = self.master.active_key_id
        if record.master == current:
            return False
        moved = self.master.wrap_data_key(self._unwrap(record), context(record.db))
        if moved.key_id == record.master:
            return False
        new = DbKeyRecord(record.db, record.id, moved.key_id, moved.wrapped, record.created_at)
        self.storage.put(record_object(record.db), new.to_bytes(), if_match=record.etag)
        self.forget(record.db)
        return True

    def ensure_current_master(self, db: str) -> bool:
        """Move the database's record under the current master version (retrying on a race)."""
        for _attempt in range(5):
            record = self.read(db)
            if record is None:
                return False
            try:
                return self.rewrap_record(record)
            except VersionMismatch:
                continue
        raise StorageUnavailable(f"the key record of {db!r} kept changing")

    # -- shredding -------------------------------------------------------------------
    def is_shredded(self, db: str) -> bool:
        now = self._clock()
        cached = self._shredded.get(db)
        if cached is not None and now - cached[0] < min(SHRED_CHECK_SECONDS, self.limits.max_age):
            return cached[1]
        try:
            self.storage.get(tombstone_object(db))
            gone = True
        except ObjectNotFound:
            gone = False
        self._shredded.put(db, (now, gone))
        if gone:
            self._keys.discard(db)
        return gone

    def check_not_shredded(self, db: str) -> None:
        if self.is_shredded(db):
            raise DatabaseShredded(f"database {db!r} has been shredded")

    def shredded(self) -> set[str]:
        """Names of every database with a tombstone."""
        return {names.decode(obj[len(SHREDDED) : -len(".json")]) for obj in self.storage.list(SHREDDED)}

    def forget(self, db: str) -> None:
        """Drop what this process cached about ``db`` (after changing its record)."""
        self._keys.discard(db)
        self._shredded.discard(db)
        self._records.discard(db)
