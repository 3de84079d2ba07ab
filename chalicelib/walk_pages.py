"""The processing side of the walks: one page of a database rewrapped, verified or exported.

Each page lists at most ``limit`` entity objects of one database after a cursor (a
storage name, as ``entity.list`` pages) and handles each entity on its own: one
entity that fails is reported with its database, key and a short reason — never its
content — and the walk goes on. The rewrap checkpoint lives here too, under ``_keys/``.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib import names
from chalicelib.crypto import envelope
from chalicelib.crypto.keyring import KeyUnavailable
from chalicelib.entities import REWRAPPED, EntityStore, entity_folder, entity_object
from chalicelib.errors import BadRequest, Conflict, Unavailable
from chalicelib.handlers.walk_protocol import (
    MAX_WALK_PAGE,
    ExportRows,
    KeyRecordsMoved,
    RewrapCheckpoint,
    RewrapCounts,
    VerifyReport,
)
from chalicelib.storage.base import ObjectNotFound, Page, Storage, VersionMismatch

CHECKPOINT_OBJECT = "_keys/rewrap-checkpoint.json"
REWRAP_PARALLEL = 8  # entities of one page rewrapped at once


def _page(entities: EntityStore, db: str, after: str, limit: int) -> tuple[list[str], str | None]:
    """(entity keys of the page, where the next page starts or None)."""
    folder = entity_folder(names.validate(db, "database name"))
    if after and (after != names.encode(names.decode(after)) or "/" in after):
        raise BadRequest("invalid cursor")
    if not 1 <= limit <= MAX_WALK_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_WALK_PAGE}")
    page: Page = entities.storage.list_page(folder, after=after, limit=limit)
    return [names.decode(n) for n in page.names], (page.names[-1] if page.more and page.names else None)


def _failure(db: str, key: str, error: str) -> dict[str, Any]:
    return {"db": db, "key": key, "error": error}


def _rewrap_one(entities: EntityStore, db: str, key: str) -> str | dict[str, Any]:
    """REWRAPPED / SKIPPED, or the failure."""
    try:
        return entities.rewrap(db, key)
    except envelope.EnvelopeError as exc:
        return _failure(db, key, str(exc))
    except VersionMismatch:
        return _failure(db, key, "rewritten by clients on every attempt; run rewrap again")


def rewrap_page(entities: EntityStore, db: str, after: str, limit: int) -> RewrapCounts:
    keys, next_after = _page(entities, db, after, limit)
    # Entities are independent: several at once let the store overlap its round trips
    # (S3) and share its folder fsyncs (filesystem). Storage errors still end the page.
    with ThreadPoolExecutor(max_workers=max(1, min(REWRAP_PARALLEL, len(keys)))) as pool:
        outcomes = list(pool.map(lambda key: _rewrap_one(entities, db, key), keys))
    failed = [o for o in outcomes if isinstance(o, dict)]
    rewrapped = sum(1 for o in outcomes if o == REWRAPPED)
    return RewrapCounts(rewrapped, len(outcomes) - rewrapped - len(failed), failed, next_after)


def move_database_keys(entities: EntityStore, db: str | None) -> KeyRecordsMoved:
    """Database key records still under an older master version moved under the current one.

    This is what makes format-2 entities current after a rotation: ``deltadb key rotate``
    moves every record, but a record created meanwhile by a process that had not yet seen
    the rotation is still under the old version; a rewrap moves it (before walking its
    database, and every record at the end of a walk over every database).
    """
    keys = entities.keyring.databases
    try:
        if db is not None:
            return KeyRecordsMoved(int(keys.ensure_current_master(names.validate(db, "database name"))))
        current = entities.keyring.active_key_id
        return KeyRecordsMoved(sum(keys.ensure_current_master(r.db) for r in keys.records() if r.master != current))
    except KeyUnavailable as exc:
        raise Unavailable(f"a database key record cannot be moved: {exc}") from None


def verify_page(entities: EntityStore, db: str, after: str, limit: int) -> VerifyReport:
    keys, next_after = _page(entities, db, after, limit)
    checked = ok = 0
    failed = []
    key_ids: dict[str, int] = {}
    for key in keys:
        try:
            blob = entities.storage.get(entity_object(db, key)).data
        except ObjectNotFound:
            continue  # deleted since the listing: nothing to check
        checked += 1
        try:
            kid = envelope.master_key_id(entities.keyring, db, blob)
            json.loads(envelope.open_(entities.keyring, db, key, blob))
        except envelope.EnvelopeError as exc:
            failed.append(_failure(db, key, str(exc)))
            continue
        except ValueError:  # opens, but is not JSON text (UnicodeDecodeError is a ValueError)
            failed.append(_failure(db, key, "decrypted value is not JSON"))
            continue
        ok += 1
        key_ids[kid] = key_ids.get(kid, 0) + 1
    return VerifyReport(checked, ok, failed, dict(key_ids), next_after)


def export_page(entities: EntityStore, db: str, after: str, limit: int) -> ExportRows:
    keys, next_after = _page(entities, db, after, limit)
    rows, failed = [], []
    for key in keys:
        try:  # straight from the store: an export does not evict the API's cached values
            blob = entities.storage.get(entity_object(db, key)).data
        except ObjectNotFound:
            continue
        try:
            value = envelope.open_(entities.keyring, db, key, blob).decode("utf-8")
        except envelope.EnvelopeError as exc:
            failed.append(_failure(db, key, str(exc)))
            continue
        except UnicodeDecodeError:
            failed.append(_failure(db, key, "decrypted value is not UTF-8 text"))
            continue
        rows.append({"key": key, "value": value})
    return ExportRows(rows, failed, next_after)


# -- the rewrap checkpoint ------------------------------------------------------------
def get_checkpoint(storage: Storage, target: str) -> RewrapCheckpoint:
    try:
        stored = storage.get(CHECKPOINT_OBJECT)
    except ObjectNotFound:
        return RewrapCheckpoint(target)
    try:
        state = json.loads(stored.data)
    except ValueError:
        state = None  # unreadable: a new rewrap replaces it (its etag still guards the swap)
    return RewrapCheckpoint(target, state if isinstance(state, dict) else None, stored.etag)


def save_checkpoint(storage: Storage, state: dict[str, Any], if_match: str | None) -> str:
    data = json.dumps(state, separators=(",", ":")).encode()
    try:
        return storage.put(CHECKPOINT_OBJECT, data, if_match=if_match, if_none_match=if_match is None)
    except (VersionMismatch, ObjectNotFound):
        raise Conflict("another rewrap is running: its checkpoint changed under this one") from None


def delete_checkpoint(storage: Storage, if_match: str) -> None:
    try:
        storage.delete(CHECKPOINT_OBJECT, if_match=if_match)
    except ObjectNotFound:
        pass
    except VersionMismatch:
        raise Conflict("another rewrap is running: its checkpoint changed under this one") from None
