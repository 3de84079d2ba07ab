"""Walks over every entity of a store (or of one database), driven a page at a time.

The caller side of chalicelib/handlers/walk_protocol.py: ``deltadb rewrap|verify|export``
drive these with the in-process handlers, and ``POST /admin/rewrap`` runs ``RewrapWalk``
on the processing side (chalicelib/rewrap_operation.py) — one code path for every
store and deployment.

What a rewrap does under format 2 (docs/format.md): a rotation already moved every
database key record under the new master version (``deltadb key rotate``, one
compare-and-swap per database), so format-2 entities need nothing and are counted as
skipped. The rewrap (a) moves any database key record still under an older master
version — before walking each database, and every record after a walk over all of them
(a record created meanwhile by a process that had not seen the rotation) — and (b)
migrates format-1 entities to format 2 (re-encrypted, compare-and-swap per entity). After
a complete rewrap nothing needs the older master versions: ``deltadb key retire`` them.

A rewrap is resumable: after each page its position (database and cursor), the master
key version it targets and its counts are saved in a checkpoint object, compare-and-swap
on the checkpoint's etag, so two rewraps cannot interleave. Run again after an
interruption (Ctrl-C, kill -9, a Lambda timeout), it continues from the checkpoint; a
checkpoint for another scope or an older target key version is replaced (its work
is not lost: what it migrated is simply skipped as current).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib import names
from chalicelib.errors import NotFound
from chalicelib.handlers.protocol import MAX_KEYS_PAGE, ListDatabases, ListKeys
from chalicelib.handlers.walk_protocol import (
    DeleteRewrapCheckpoint,
    ExportPage,
    GetRewrapCheckpoint,
    MoveDatabaseKeys,
    RewrapCounts,
    RewrapPage,
    SaveRewrapCheckpoint,
    VerifyPage,
)
from chalicelib.handlers.wire import Call, R

PAGE = 100


class Caller(Protocol):
    """What drives the pages: chalicelib.handler_client.HandlerClient, or a handler calling itself."""

    def call(self, c: Call[R]) -> R: ...


def databases(caller: Caller, db: str | None) -> list[str]:
    """The databases to walk, sorted; NotFound for a named database without entities."""
    found = caller.call(ListDatabases()).names
    if db is None:
        return found
    names.validate(db, "database name")
    if db not in found:
        raise NotFound(f"no database named {db!r} (it holds no entities)")
    return [db]


def count_entities(caller: Caller, dbs: list[str]) -> int:
    """How many entities the databases hold (listing only, nothing is read): a progress bar's total."""
    total = 0
    for db in dbs:
        after = ""
        while True:
            page = caller.call(ListKeys(db, after=after, limit=MAX_KEYS_PAGE))
            total += len(page.keys)
            if page.next_after is None:
                break
            after = page.next_after
    return total


@dataclass
class RewrapTotals:
    rewrapped: int = 0  # format-1 entities migrated to format 2
    skipped: int = 0  # already format 2 (or deleted meanwhile)
    failed: int = 0
    keys_moved: int = 0  # database key records this run moved (not in to_json: not a per-entity count)

    @property
    def done(self) -> int:
        return self.rewrapped + self.skipped + self.failed

    def to_json(self) -> dict[str, int]:
        return {"rewrapped": self.rewrapped, "skipped": self.skipped, "failed": self.failed}


@dataclass(frozen=True)
class RewrapStart:
    """How a rewrap began: the key version it targets, and whether it resumed a checkpoint."""

    target: str  # the current master key version
    resumed: bool
    replaced: bool  # a checkpoint of another scope or an older target was set aside
    totals: RewrapTotals


class RewrapWalk:
    """``run()`` puts ``db`` (or every database) under the current master: records moved, format 1 migrated."""

    def __init__(self, caller: Caller, db: str | None, page_size: int = PAGE) -> None:
        self.caller, self.db, self.page_size = caller, db, page_size
        self.dbs = databases(caller, db)  # an unknown database is refused before anything is written

    def run(
        self,
        on_start: Callable[[RewrapStart], None] = lambda _s: None,
        on_page: Callable[[RewrapCounts, RewrapTotals], None] = lambda _p, _t: None,
    ) -> RewrapTotals:
        cp = self.caller.call(GetRewrapCheckpoint())
        state = cp.state or {}
        resumed = state.get("scope", "*") == (self.db or "*") and state.get("target") == cp.target and "db" in state
        counts = [int(state.get(k, 0)) if resumed else 0 for k in ("rewrapped", "skipped", "failed")]
        totals = RewrapTotals(*counts)
        at_db, at_after = (str(state["db"]), state.get("after")) if resumed else ("", "")
        on_start(RewrapStart(cp.target, resumed, bool(cp.state) and not resumed, RewrapTotals(*counts)))
        position: dict[str, Any] = {"db": at_db, "after": at_after}
        etag = self._save(cp.target, position, totals, cp.etag)  # claims the checkpoint
        for db in self._remaining(at_db, at_after) if resumed else self.dbs:
            after = str(at_after) if resumed and db == at_db else ""
            totals.keys_moved += self.caller.call(MoveDatabaseKeys(db)).moved  # even when its entities are all v2
            while True:
                page = self.caller.call(RewrapPage(db, after, self.page_size))
                totals.rewrapped += page.rewrapped
                totals.skipped += page.skipped
                totals.failed += len(page.failed)
                etag = self._save(cp.target, {"db": db, "after": page.next_after}, totals, etag)
                on_page(page, totals)
                if page.next_after is None:
                    break
                after = page.next_after
        if self.db is None:  # records of databases without entities, or created while the walk ran
            totals.keys_moved += self.caller.call(MoveDatabaseKeys(None)).moved
        self.caller.call(DeleteRewrapCheckpoint(etag))
        return totals

    def _remaining(self, at_db: str, at_after: Any) -> list[str]:
        """The databases not finished before the interruption (listings are sorted, so: from ``at_db`` on)."""
        if at_db in self.dbs:
            start = self.dbs.index(at_db) + (1 if at_after is None else 0)
            return self.dbs[start:]
        return [db for db in self.dbs if db > at_db]  # its database is gone meanwhile

    def _save(self, target: str, position: dict[str, Any], totals: RewrapTotals, etag: str | None) -> str:
        state = {"scope": self.db or "*", "target": target, **position, **totals.to_json()}
        return self.caller.call(SaveRewrapCheckpoint(state, etag)).etag


@dataclass
class VerifyTotals:
    checked: int = 0
    ok: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    key_ids: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"checked": self.checked, "ok": self.ok, "failed": self.failed, "key_ids": self.key_ids}


def verify(caller: Caller, db: str | None, on_page: Callable[[int], None] = lambda _n: None) -> VerifyTotals:
    """Decrypt and check every entity; counts per master key version. ``on_page(checked)`` after each page."""
    totals = VerifyTotals()
    for name in databases(caller, db):
        after = ""
        while True:
            page = caller.call(VerifyPage(name, after, PAGE))
            totals.checked += page.checked
            totals.ok += page.ok
            totals.failed.extend(page.failed)
            for kid, n in page.key_ids.items():
                totals.key_ids[kid] = totals.key_ids.get(kid, 0) + int(n)
            on_page(page.checked)
            if page.next_after is None:
                break
            after = page.next_after
    return totals


@dataclass(frozen=True)
class Exported:
    db: str
    key: str
    value: str | None  # JSON text; None when the entity failed (then ``error`` says why)
    error: str | None = None


def export(caller: Caller, db: str | None) -> Iterator[Exported]:
    """Every entity's value in clear, database by database, in storage order."""
    for name in databases(caller, db):
        after = ""
        while True:
            page = caller.call(ExportPage(name, after, PAGE))
            for row in page.rows:
                yield Exported(name, str(row["key"]), str(row["value"]))
            for bad in page.failed:
                yield Exported(name, str(bad["key"]), None, str(bad["error"]))
            if page.next_after is None:
                break
            after = page.next_after
