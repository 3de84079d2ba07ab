"""Entity use cases on the processing side: seal/open values and store them.

A bounded cache keeps recently read or written values with their storage etag. It is
never trusted blindly: every read asks the store with ``if_none_match=<etag>`` and only
a "not modified" answer (a stat on the filesystem, a 304 without body on S3) serves
the cached value, so a write through any other process is seen at once.
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib import names
from chalicelib.caches import Bounded
from chalicelib.crypto import envelope
from chalicelib.crypto.database_keys import CacheLimits, DatabaseKeys
from chalicelib.crypto.hierarchy import KeyHierarchy
from chalicelib.crypto.keyring import KeyRing
from chalicelib.errors import Gone
from chalicelib.storage.base import NotModified, ObjectNotFound, Storage, VersionMismatch

ENTITY_PREFIX = "files/"
MAX_CACHED_VALUE = 64 * 1024  # characters of JSON text; larger values are not cached
REWRAP_ATTEMPTS = 5  # compare-and-swap rounds lost to concurrent writers before a rewrap gives up
REWRAPPED, SKIPPED = "rewrapped", "skipped"


def entity_folder(db: str) -> str:
    return f"{ENTITY_PREFIX}{names.encode(db)}/"


def entity_object(db: str, key: str) -> str:
    return f"{entity_folder(db)}{names.encode(key)}"


class EntityStore:
    def __init__(
        self,
        storage: Storage,
        master: KeyRing,
        cache_entries: int = 10_000,
        key_cache: CacheLimits | None = None,
        on_cache_lookup: Callable[[bool], None] | None = None,
    ) -> None:
        self.storage = storage
        # The whole key hierarchy (what the envelope takes): master versions -> database keys.
        self.keyring = KeyHierarchy(master, DatabaseKeys(storage, master, key_cache))
        # object -> (etag, value)
        self.cache: Bounded[str, tuple[str, str]] = Bounded.lru(cache_entries, on_cache_lookup)

    def _remember(self, obj: str, etag: str, value: str) -> None:
        if len(value) > MAX_CACHED_VALUE:
            self._forget(obj)
            return
        self.cache.put(obj, (etag, value))

    def _forget(self, obj: str) -> None:
        self.cache.discard(obj)

    def check_not_shredded(self, db: str) -> None:
        """410 for a shredded database (its tombstone seen within a couple of seconds by every process)."""
        if self.keyring.databases.is_shredded(db):
            raise Gone(f"database {db!r} has been shredded")

    def put(
        self, db: str, key: str, value_json: str, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        names.validate(db, "database name")
        names.validate(key, "entity key")
        obj = entity_object(db, key)
        try:  # (no check_not_shredded first: sealing asks for the database's key, which refuses a shredded one)
            blob = envelope.seal(self.keyring, db, key, value_json.encode("utf-8"))
        except envelope.DatabaseGone as exc:  # the same 410 as check_not_shredded, to every caller
            raise Gone(str(exc)) from None
        try:
            etag = self.storage.put(obj, blob, if_match=if_match, if_none_match=if_none_match)
        except Exception:
            self._forget(obj)  # outcome unknown: the next read does a full read
            raise
        self._remember(obj, etag, value_json)
        return etag

    def get(self, db: str, key: str, *, if_none_match: str | None = None) -> tuple[str, str]:
        """Return (value as JSON text, etag).

        Raises ObjectNotFound, or NotModified when the caller's ``if_none_match`` is current.
        """
        names.validate(db, "database name")
        names.validate(key, "entity key")
        self.check_not_shredded(db)
        obj = entity_object(db, key)
        cached = self.cache.get(obj)
        # Revalidate with the caller's etag if it has one, else with the cached one.
        probe = if_none_match if if_none_match is not None else (cached[0] if cached else None)
        try:
            stored = self.storage.get(obj, if_none_match=probe)
        except NotModified:
            if if_none_match is not None or cached is None:
                raise
            return cached[1], cached[0]
        except ObjectNotFound:
            self._forget(obj)
            raise
        value = envelope.open_(self.keyring, db, key, stored.data).decode("utf-8")
        self._remember(obj, stored.etag, value)
        return value, stored.etag

    def delete(self, db: str, key: str, *, if_match: str | None = None) -> None:
        names.validate(db, "database name")
        names.validate(key, "entity key")
        self.check_not_shredded(db)
        obj = entity_object(db, key)
        self._forget(obj)
        self.storage.delete(obj, if_match=if_match)

    def rewrap(self, db: str, key: str) -> str:
        """Re-wrap one entity under the current key chain: REWRAPPED, or SKIPPED (already current, or gone).

        Compare-and-swap on the stored version: the new blob replaces only the version it
        was made from, so a client's concurrent write is never overwritten with older data;
        on a lost race the entity is read again (a client's new write is already current).
        Raises EnvelopeError when the stored blob does not open, VersionMismatch when every
        round was lost.
        """
        obj = entity_object(db, key)
        for _ in range(REWRAP_ATTEMPTS):
            try:
                stored = self.storage.get(obj)
            except ObjectNotFound:
                return SKIPPED  # deleted meanwhile: nothing to rewrap
            blob = envelope.rewrap(self.keyring, db, key, stored.data)
            if blob is None:
                return SKIPPED
            try:
                etag = self.storage.put(obj, blob, if_match=stored.etag)
            except (VersionMismatch, ObjectNotFound):
                continue
            cached = self.cache.get(obj)
            if cached is not None and cached[0] == stored.etag:  # same plaintext, new version tag
                self.cache.put(obj, (etag, cached[1]))
            return REWRAPPED
        raise VersionMismatch(obj)
