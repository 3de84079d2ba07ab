"""Key lifecycle use cases (the ``deltadb key`` and ``deltadb shred`` commands).

Built on the processing side's own parts (chalicelib/bootstrap.py ``Processing``): the
storage, the key hierarchy the entity handler seals with, and the master versions.

- ``usage``: which master version each database key record and each entity ultimately
  depends on (a full walk through ``envelope.master_key_id``).
- ``rotate``: a new master version, then every database key record moved under it
  (compare-and-swap per record). Format-2 entities then depend on the new version at
  once; format-1 entities need ``deltadb rewrap``.
- ``retire``: refused while a record or an entity still needs the version (full walk),
  or when it is the current one; then its material is destroyed.
- ``shred``: tombstone, delete the database key, rotate and destroy the old versions so
  that a backup's copy of the record can no longer be unwrapped, remove the objects,
  remove the tombstone.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chalicelib import names
from chalicelib.crypto import envelope
from chalicelib.crypto.database_keys import SHRED_CHECK_SECONDS, record_object, tombstone_object
from chalicelib.crypto.hierarchy import KeyHierarchy
from chalicelib.crypto.master_versions import MasterVersions, StaticVersions, VersionsRefused
from chalicelib.entities import ENTITY_PREFIX, entity_folder
from chalicelib.storage.base import ObjectNotFound, Storage, VersionMismatch
from chalicelib.timestamps import rfc3339

OPS_PREFIX, OPS_DB = "_ops/", "_ops"  # sealed requests of asynchronous operations (chalicelib/operations.py)

Progress = Callable[[int, int | None], None]  # (done, total or None)


class Refused(Exception):
    """The command cannot do what was asked; one plain sentence, nothing changed."""


@dataclass
class Usage:
    records: Counter[str] = field(default_factory=Counter)  # master version -> database key records
    entities: Counter[str] = field(default_factory=Counter)  # master version -> entities (and sealed requests)
    unreadable: int = 0

    def needs(self, version: str) -> int:
        return self.records[version] + self.entities[version]


@dataclass
class RotateResult:
    current: str
    previous: str
    records_rewrapped: int


@dataclass
class ShredResult:
    db: str
    objects_removed: int
    new_master: str | None
    destroyed: list[str]
    warnings: list[str]


class KeyLifecycle:
    def __init__(self, storage: Storage, keys: KeyHierarchy, versions: MasterVersions, settle: float) -> None:
        self.storage, self.keys, self.versions = storage, keys, versions
        self.settle = settle  # how long every process may keep using a cached database key

    # -- walking -----------------------------------------------------------------------
    def blobs(self, skip_db: str | None = None) -> Iterator[tuple[str, str, bytes]]:
        """(db, key, blob) of every entity and every sealed operation request."""
        for obj in self.storage.list(ENTITY_PREFIX) if skip_db != "*" else ():
            db_enc, _, key_enc = obj[len(ENTITY_PREFIX) :].partition("/")
            db = names.decode(db_enc)
            if db == skip_db or not key_enc or "/" in key_enc:
                continue
            yield from self._get(db, names.decode(key_enc), obj)
        for obj in self.storage.list(OPS_PREFIX):
            op_enc, _, rest = obj[len(OPS_PREFIX) :].partition("/")
            if rest == "request":
                yield from self._get(OPS_DB, names.decode(op_enc), obj)

    def _get(self, db: str, key: str, obj: str) -> Iterator[tuple[str, str, bytes]]:
        try:
            yield db, key, self.storage.get(obj).data
        except ObjectNotFound:  # deleted meanwhile
            return

    def usage(self, *, entities: bool = True, skip_db: str | None = None) -> Usage:
        usage = Usage()
        for record in self.keys.databases.records():
            if record.db != skip_db:
                usage.records[record.master] += 1
        if entities:
            for db, _key, blob in self.blobs(skip_db):
                try:
                    usage.entities[envelope.master_key_id(self.keys, db, blob)] += 1
                except envelope.EnvelopeError:
                    usage.unreadable += 1
        return usage

    def _version_ids(self) -> set[str]:
        return {v.id for v in self.versions.list()}

    # -- rotate / retire -----------------------------------------------------------
    def rewrap_records(self) -> int:
        moved = 0
        for record in self.keys.databases.records():
            try:
                moved += self.keys.databases.rewrap_record(record)
            except VersionMismatch:  # changed meanwhile (a racing rotate): read it again
                moved += self.keys.databases.ensure_current_master(record.db)
        return moved

    def rotate(self, new_key_id: str | None = None) -> RotateResult:
        previous = self.keys.active_key_id
        try:
            current = self.versions.rotate(new_key_id)
        except VersionsRefused as exc:
            raise Refused(str(exc)) from None
        self._wait_for(current)
        return RotateResult(current, previous, self.rewrap_records())

    def _wait_for(self, current: str) -> None:
        """Until this process's master names ``current`` (KMS: the record's cache; file: the reload)."""
        deadline = time.monotonic() + 5
        while self.keys.active_key_id != current and time.monotonic() < deadline:
            time.sleep(0.1)

    def retire(self, key_id: str) -> str:
        versions = {v.id: v for v in self.versions.list()}
        if key_id not in versions:
            raise Refused(f"there is no master key version {key_id!r} (see `deltadb key list`)")
        if versions[key_id].current:
            raise Refused(f"{key_id} is the current master key version; rotate first (`deltadb key rotate`)")
        usage = self.usage()
        if usage.records[key_id]:
            raise Refused(
                f"{key_id} still wraps {usage.records[key_id]} database keys: run `deltadb key rotate` "
                "(it moves them to the new version) and retire it then"
            )
        if usage.entities[key_id]:
            raise Refused(
                f"{key_id} is still needed by {usage.entities[key_id]} entities of format 1: run `deltadb rewrap` first"
            )
        try:
            return self.versions.destroy(key_id)
        except VersionsRefused as exc:
            raise Refused(str(exc)) from None

    # -- shred -------------------------------------------------------------------------
    def exists(self, db: str) -> bool:
        if self.keys.databases.read(db) is not None:
            return True
        if self.storage.list_page(entity_folder(db), limit=1).names:
            return True
        try:
            self.storage.get(tombstone_object(db))  # an interrupted shred: run it again to finish
            return True
        except ObjectNotFound:
            return False

    def shred(self, db: str, progress: Progress | None = None) -> ShredResult:
        names.validate(db, "database name")
        if db == OPS_DB:
            raise Refused(f"{OPS_DB} holds the asynchronous operations, not a database")
        if not self.exists(db):
            raise Refused(f"there is no database {db!r}")
        started = time.monotonic()
        stone = json.dumps({"db": db, "shredded_at": rfc3339(datetime.now(UTC))}).encode()
        try:
            self.storage.put(tombstone_object(db), stone, if_none_match=True)
        except VersionMismatch:
            pass  # a shred interrupted earlier: finish it
        try:
            self.storage.delete(record_object(db))
        except ObjectNotFound:
            pass
        self.keys.databases.forget(db)
        result = ShredResult(db, 0, None, [], [])
        self._retire_old_masters(db, result)
        # Every process must have seen the tombstone, and dropped a cached key, before the
        # objects go and the name becomes free again.
        wait = max(self.settle, SHRED_CHECK_SECONDS) + 1 - (time.monotonic() - started)
        if wait > 0:
            time.sleep(wait)
        result.objects_removed = self._remove_objects(db, progress)
        self.storage.delete(tombstone_object(db))
        self.keys.databases.forget(db)
        return result

    def _retire_old_masters(self, db: str, result: ShredResult) -> None:
        """Rotate, move the other records, destroy every old version nothing else needs."""
        if isinstance(self.versions, StaticVersions):
            result.warnings.append(
                "the master key comes from DELTADB_MASTER_KEY and cannot be rotated: a backup of the storage "
                "together with that key still opens the shredded database; move to a key file or KMS"
            )
            return
        old = [v.id for v in self.versions.list() if v.state != "destroyed"]
        result.new_master = self.rotate().current
        usage = self.usage(skip_db=db)
        for version in old:
            if version == result.new_master:
                continue
            if needed := usage.needs(version):
                result.warnings.append(
                    f"{version} is still needed by {needed} entities of format 1 in other databases, so a backup "
                    f"of {db!r} can still be opened with it: run `deltadb rewrap`, then `deltadb key retire {version}`"
                )
                continue
            self.versions.destroy(version)
            result.destroyed.append(version)

    def _operations_of(self, db: str) -> list[str]:
        """Objects of the asynchronous operations into ``db`` (their sealed requests hold its values)."""
        found = []
        for _ops, op_id, blob in self.blobs(skip_db="*"):  # "*": the operations only
            try:
                if json.loads(envelope.open_(self.keys, OPS_DB, op_id, blob)).get("db") == db:
                    found += list(self.storage.list(f"{OPS_PREFIX}{names.encode(op_id)}/"))
            except (envelope.EnvelopeError, ValueError, AttributeError):
                continue
        return found

    def _remove_objects(self, db: str, progress: Progress | None) -> int:
        folder = entity_folder(db)
        objects = list(self.storage.list(folder)) + self._operations_of(db)
        for done, obj in enumerate(objects, 1):
            try:
                self.storage.delete(obj)
            except ObjectNotFound:
                pass
            if progress is not None:
                progress(done, len(objects))
        return len(objects)
