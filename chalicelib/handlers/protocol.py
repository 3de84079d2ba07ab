"""The handler protocol: every call the route side makes to a processing function, declared once.

Two processing functions (Lambda functions in app.py, the Invoke API's function names
for local workers) serve the calls:

- ``entity_worker``: envelope crypto and entity objects; it needs the KEK.
- ``meta_worker``: schemas and API-key records (hashes only); no key material.

Each call is a ``@message`` class (a frozen dataclass, chalicelib/handlers/message.py)
naming its action, its function and its reply type (chalicelib/handlers/wire.py turns
both into plain JSON). Adding an action means one class here and one ``@implements``
method in the function's handler.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from chalicelib.handlers.message import message
from chalicelib.handlers.wire import Call, Reply

ENTITY_FUNCTION = "entity_worker"
META_FUNCTION = "meta_worker"
FUNCTIONS = (ENTITY_FUNCTION, META_FUNCTION)


# -- replies -----------------------------------------------------------------------
@message
class Done(Reply):
    """Nothing to report beyond success."""


@message
class Stored(Reply):
    etag: str


@message
class EntityValue(Reply):
    etag: str
    value: str | None = None  # JSON text; None when not_modified
    not_modified: bool = False


@message
class SchemaDocument(Reply):
    etag: str
    schema: str | None = None  # JSON text; None when not_modified
    not_modified: bool = False


@message
class SchemaIds(Reply):
    ids: list[str]


@message
class KeyRecordJson(Reply):
    record: dict[str, Any]  # chalicelib.auth.apikeys.KeyRecord.to_json()


@message
class KeyRecordList(Reply):
    records: list[dict[str, Any]]


@message
class StorageHealth(Reply):
    backend: str
    ok: bool
    detail: str | None = None


@message
class WorkerStatus(Reply):
    """One processing worker as ``GET /admin/workers`` lists it."""

    worker_id: str
    status: str  # Available | Unavailable
    key_id: str | None
    last_seen: str | None  # RFC 3339
    tags: dict[str, str] = field(default_factory=dict)


@message
class OperationStatus(Reply):
    operation_id: str
    status: str  # pending | done | failed
    entities: list[dict[str, Any]]
    result: dict[str, Any] | None = None  # a rewrap's counts (POST /admin/rewrap); None for a PUT


@message
class KeyPage(Reply):
    keys: list[str]
    next_after: str | None  # where the next page starts (a storage name), None on the last page


@message
class Names(Reply):
    names: list[str]


# -- entity_worker -----------------------------------------------------------------
@message
class PutEntity(Call[Stored], action="entity.put", function=ENTITY_FUNCTION):
    db: str
    key: str
    value: str  # JSON text
    if_match: str | None = None
    create_only: bool = False  # If-None-Match: *
    operation_id: str | None = None  # one entity of an asynchronous operation: record the outcome


@message
class GetEntity(Call[EntityValue], action="entity.get", function=ENTITY_FUNCTION):
    db: str
    key: str
    if_none_match: str | None = None


@message
class DeleteEntity(Call[Done], action="entity.delete", function=ENTITY_FUNCTION):
    db: str
    key: str
    if_match: str | None = None


MAX_KEYS_PAGE = 1000  # the most keys one ListKeys answers


@message
class ListKeys(Call[KeyPage], action="entity.list", function=ENTITY_FUNCTION):
    """A page of a database's entity keys, in a stable order; decrypts nothing."""

    db: str
    prefix: str = ""
    after: str = ""  # a KeyPage.next_after
    limit: int = 100


@message
class ListDatabases(Call[Names], action="database.list", function=ENTITY_FUNCTION):
    """The databases that hold at least one entity, sorted."""


@message
class CreateOperation(Call[Done], action="operation.create", function=ENTITY_FUNCTION):
    """Persist an asynchronous PUT (sealed) before its entities are handed out."""

    operation_id: str
    db: str
    values: list[list[str]]  # [key, value JSON text] pairs


@message
class GetOperation(Call[OperationStatus], action="operation.get", function=ENTITY_FUNCTION):
    operation_id: str


@message
class DescribeWorker(Call[WorkerStatus], action="worker.describe", function=ENTITY_FUNCTION):
    """The heartbeat: who answers, and with which key."""


# -- meta_worker -------------------------------------------------------------------
@message
class PutSchema(Call[Stored], action="schema.put", function=META_FUNCTION):
    schema_id: str
    schema: str  # JSON text


@message
class GetSchema(Call[SchemaDocument], action="schema.get", function=META_FUNCTION):
    schema_id: str
    if_none_match: str | None = None


@message
class DeleteSchema(Call[Done], action="schema.delete", function=META_FUNCTION):
    schema_id: str


@message
class ListSchemas(Call[SchemaIds], action="schema.list", function=META_FUNCTION):
    pass


@message
class CreateApiKey(Call[Done], action="apikey.create", function=META_FUNCTION):
    record: dict[str, Any]


@message
class GetApiKey(Call[KeyRecordJson], action="apikey.get", function=META_FUNCTION):
    key_id: str


@message
class ListApiKeys(Call[KeyRecordList], action="apikey.list", function=META_FUNCTION):
    pass


@message
class UpdateApiKey(Call[KeyRecordJson], action="apikey.update", function=META_FUNCTION):
    """Enable or disable a key, or change its permissions; its secret stays the same."""

    key_id: str
    enabled: bool | None = None
    permissions: list[str] | None = None  # validated, in canonical order


@message
class DeleteApiKey(Call[Done], action="apikey.delete", function=META_FUNCTION):
    key_id: str


@message
class CheckStorage(Call[StorageHealth], action="storage.check", function=META_FUNCTION):
    pass
