"""``entity_worker``: envelope-encrypts and stores entity values (needs the KEK)."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, datetime
from typing import Any

from chalicelib import names, rewrap_operation, walk_pages
from chalicelib.entities import ENTITY_PREFIX, EntityStore, entity_folder
from chalicelib.errors import BadRequest, DeltaError
from chalicelib.handlers.dispatch import Handler, implements
from chalicelib.handlers.protocol import (
    ENTITY_FUNCTION,
    MAX_KEYS_PAGE,
    CreateOperation,
    DeleteEntity,
    DescribeWorker,
    Done,
    EntityValue,
    GetEntity,
    GetOperation,
    KeyPage,
    ListDatabases,
    ListKeys,
    Names,
    OperationStatus,
    PutEntity,
    Stored,
    WorkerStatus,
)
from chalicelib.handlers.walk_protocol import (
    CreateRewrapOperation,
    DeleteRewrapCheckpoint,
    ExportPage,
    ExportRows,
    GetRewrapCheckpoint,
    KeyRecordsMoved,
    MoveDatabaseKeys,
    RewrapCheckpoint,
    RewrapCounts,
    RewrapPage,
    RunRewrap,
    SaveRewrapCheckpoint,
    VerifyPage,
    VerifyReport,
)
from chalicelib.handlers.wire import Call
from chalicelib.operations import DEFAULT_RETENTION, Operations
from chalicelib.storage.base import NotModified
from chalicelib.timestamps import rfc3339

log = logging.getLogger(__name__)


class EntityHandler(Handler):
    function = ENTITY_FUNCTION

    def __init__(
        self,
        entities: EntityStore,
        worker_id: str | None = None,
        tags: dict[str, str] | None = None,
        *,
        operation_retention: float = DEFAULT_RETENTION,
        sweep_operations: bool = False,
    ) -> None:
        self.entities = entities
        self.operations = Operations(entities.storage, entities, retention=operation_retention, sweep=sweep_operations)
        # One entry per instance, the same from every server process (each runs its own handlers).
        self.worker_id = worker_id or f"inprocess-{socket.gethostname()}"
        self.tags = tags or {"mode": "in-process"}

    def after(self, call: Call[Any], error: DeltaError | None) -> None:
        if isinstance(call, PutEntity) and call.operation_id:
            try:  # the outcome of one entity of an asynchronous operation
                self.operations.record(call.operation_id, call.key, error)
            except Exception:  # the reader of the operation completes it later
                log.exception("could not record the outcome of operation %s", call.operation_id)

    @implements(PutEntity)
    def put(self, c: PutEntity) -> Stored:
        return Stored(self.entities.put(c.db, c.key, c.value, if_match=c.if_match, if_none_match=c.create_only))

    @implements(GetEntity)
    def get(self, c: GetEntity) -> EntityValue:
        try:
            value, etag = self.entities.get(c.db, c.key, if_none_match=c.if_none_match)
        except NotModified:
            assert c.if_none_match is not None
            return EntityValue(etag=c.if_none_match, not_modified=True)
        return EntityValue(etag=etag, value=value)

    @implements(DeleteEntity)
    def delete(self, c: DeleteEntity) -> Done:
        self.entities.delete(c.db, c.key, if_match=c.if_match)
        return Done()

    @implements(ListKeys)
    def list_keys(self, c: ListKeys) -> KeyPage:
        folder = entity_folder(names.validate(c.db, "database name"))
        self.entities.check_not_shredded(c.db)
        if c.after and (c.after != names.encode(names.decode(c.after)) or "/" in c.after):
            raise BadRequest("invalid cursor")
        if not 1 <= c.limit <= MAX_KEYS_PAGE:
            raise BadRequest(f"limit must be between 1 and {MAX_KEYS_PAGE}")
        try:
            starts_with = names.encode(c.prefix) if c.prefix else ""
        except UnicodeEncodeError:
            raise BadRequest("invalid prefix: not valid unicode") from None
        page = self.entities.storage.list_page(folder, after=c.after, starts_with=starts_with, limit=c.limit)
        last = page.names[-1] if page.more and page.names else None
        return KeyPage([names.decode(n) for n in page.names], last)

    @implements(ListDatabases)
    def list_databases(self, _c: ListDatabases) -> Names:
        found = [names.decode(n) for n in self.entities.storage.list_folders(ENTITY_PREFIX)]
        shredded = self.entities.keyring.databases.shredded() if found else set()
        return Names([db for db in found if db not in shredded])  # (their objects are being removed)

    @implements(CreateOperation)
    def create_operation(self, c: CreateOperation) -> Done:
        self.operations.create(names.validate(c.operation_id, "operation id"), c.db, c.values)
        return Done()

    @implements(GetOperation)
    def get_operation(self, c: GetOperation) -> OperationStatus:
        return OperationStatus.from_json(self.operations.status(c.operation_id))

    @implements(DescribeWorker)
    def describe(self, _c: DescribeWorker) -> WorkerStatus:
        return WorkerStatus(
            worker_id=self.worker_id,
            status="Available",
            key_id=self.entities.keyring.active_key_id,
            last_seen=rfc3339(datetime.now(UTC)),
            tags=dict(self.tags),
        )

    # -- walks (chalicelib/walks.py drives them) -----------------------------------------
    @implements(RewrapPage)
    def rewrap_page(self, c: RewrapPage) -> RewrapCounts:
        return walk_pages.rewrap_page(self.entities, c.db, c.after, c.limit)

    @implements(MoveDatabaseKeys)
    def move_database_keys(self, c: MoveDatabaseKeys) -> KeyRecordsMoved:
        return walk_pages.move_database_keys(self.entities, c.db)

    @implements(VerifyPage)
    def verify_page(self, c: VerifyPage) -> VerifyReport:
        return walk_pages.verify_page(self.entities, c.db, c.after, c.limit)

    @implements(ExportPage)
    def export_page(self, c: ExportPage) -> ExportRows:
        return walk_pages.export_page(self.entities, c.db, c.after, c.limit)

    @implements(GetRewrapCheckpoint)
    def get_checkpoint(self, _c: GetRewrapCheckpoint) -> RewrapCheckpoint:
        return walk_pages.get_checkpoint(self.entities.storage, self.entities.keyring.active_key_id)

    @implements(SaveRewrapCheckpoint)
    def save_checkpoint(self, c: SaveRewrapCheckpoint) -> Stored:
        return Stored(walk_pages.save_checkpoint(self.entities.storage, c.state, c.if_match))

    @implements(DeleteRewrapCheckpoint)
    def delete_checkpoint(self, c: DeleteRewrapCheckpoint) -> Done:
        walk_pages.delete_checkpoint(self.entities.storage, c.if_match)
        return Done()

    @implements(CreateRewrapOperation)
    def create_rewrap(self, c: CreateRewrapOperation) -> Done:
        db = names.validate(c.db, "database name") if c.db is not None else None
        self.operations.create(names.validate(c.operation_id, "operation id"), db, [], kind=rewrap_operation.KIND)
        return Done()

    @implements(RunRewrap)
    def run_rewrap(self, c: RunRewrap) -> Done:
        op_id = names.validate(c.operation_id, "operation id")
        rewrap_operation.run(self, self.entities.storage, self.operations.clock, op_id, c.db, c.actor, c.request_id)
        return Done()
