"""The handler protocol's walks over a store: rewrap, verify, export, a page at a time.

Declared like chalicelib/handlers/protocol.py (and served by ``entity_worker``): the
``deltadb`` CLI and the asynchronous ``POST /admin/rewrap`` drive the same pages
(chalicelib/walks.py), so every store and every deployment has one code path. A page
is at most ``MAX_WALK_PAGE`` entities of one database, in storage order; ``next_after``
(a storage name) is where the next page starts, None after the last.
"""

from __future__ import annotations

from typing import Any

from chalicelib.handlers.message import Message, message
from chalicelib.handlers.protocol import ENTITY_FUNCTION, Done, Stored
from chalicelib.handlers.wire import Call, Reply

MAX_WALK_PAGE = 1000


# -- replies -----------------------------------------------------------------------
@message
class RewrapCounts(Reply):
    rewrapped: int  # format 1 migrated to format 2 (re-encrypted, compare-and-swap)
    skipped: int  # format 2 (current once its database key record is), or deleted meanwhile
    failed: list[dict[str, Any]]  # [{"db", "key", "error"}]
    next_after: str | None


@message
class KeyRecordsMoved(Reply):
    moved: int  # database key records moved under the current master version (0: all were)


@message
class VerifyReport(Reply):
    checked: int
    ok: int
    failed: list[dict[str, Any]]  # [{"db", "key", "error"}]
    key_ids: dict[str, Any]  # master key version id -> entities that depend on it
    next_after: str | None


@message
class ExportRows(Reply):
    rows: list[dict[str, Any]]  # [{"key", "value": JSON text}]
    failed: list[dict[str, Any]]  # [{"db", "key", "error"}]
    next_after: str | None


@message
class RewrapCheckpoint(Reply):
    """The stored checkpoint (None when no rewrap is under way) and the key version rewraps target now."""

    target: str
    state: dict[str, Any] | None = None
    etag: str | None = None


# -- calls -------------------------------------------------------------------------
@message
class EntityRange(Message):
    """The fields of every page call: a database's entities after ``after``, at most ``limit``."""

    db: str
    after: str = ""
    limit: int = 100


@message
class RewrapPage(EntityRange, Call[RewrapCounts], action="entity.rewrap_page", function=ENTITY_FUNCTION):
    pass


@message
class MoveDatabaseKeys(Call[KeyRecordsMoved], action="rewrap.database_keys", function=ENTITY_FUNCTION):
    """Move database key records still under an older master version under the current one.

    Compare-and-swap per record (same key, new wrapping: no entity changes). ``db``: its
    record only; None: every record, databases without entities included.
    """

    db: str | None = None


@message
class VerifyPage(EntityRange, Call[VerifyReport], action="entity.verify_page", function=ENTITY_FUNCTION):
    pass


@message
class ExportPage(EntityRange, Call[ExportRows], action="entity.export_page", function=ENTITY_FUNCTION):
    """Decrypted values: only the admin's tools call it (``deltadb export``)."""


@message
class GetRewrapCheckpoint(Call[RewrapCheckpoint], action="rewrap.checkpoint_get", function=ENTITY_FUNCTION):
    pass


@message
class SaveRewrapCheckpoint(Call[Stored], action="rewrap.checkpoint_save", function=ENTITY_FUNCTION):
    """Compare-and-swap: ``if_match`` the etag read (None: create only), so two rewraps cannot interleave."""

    state: dict[str, Any]
    if_match: str | None = None


@message
class DeleteRewrapCheckpoint(Call[Done], action="rewrap.checkpoint_delete", function=ENTITY_FUNCTION):
    if_match: str


@message
class CreateRewrapOperation(Call[Done], action="rewrap.create", function=ENTITY_FUNCTION):
    """Persist a ``POST /admin/rewrap`` operation before it is started, so it can be polled at once."""

    operation_id: str
    db: str | None = None


@message
class RunRewrap(Call[Done], action="rewrap.run", function=ENTITY_FUNCTION):
    """Run a rewrap operation to its end (an ``Event`` invocation); progress goes to the operation."""

    operation_id: str
    db: str | None = None
    actor: str = "admin"  # for the audit line of its end
    request_id: str | None = None
