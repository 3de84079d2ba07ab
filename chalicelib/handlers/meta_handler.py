"""``meta_worker``: schemas (``templates/``) and API-key records (``_auth/``).

It holds no key material: records store only hashes of secrets.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalicelib import names
from chalicelib.caches import Bounded
from chalicelib.errors import Unavailable
from chalicelib.handlers.dispatch import Handler, implements
from chalicelib.handlers.protocol import (
    META_FUNCTION,
    CheckStorage,
    CreateApiKey,
    DeleteApiKey,
    DeleteSchema,
    Done,
    GetApiKey,
    GetSchema,
    KeyRecordJson,
    KeyRecordList,
    ListApiKeys,
    ListSchemas,
    PutSchema,
    SchemaDocument,
    SchemaIds,
    StorageHealth,
    Stored,
    UpdateApiKey,
)
from chalicelib.storage.base import NotModified, ObjectNotFound, Storage, VersionMismatch

SCHEMA_PREFIX = "templates/"
KEY_PREFIX = "_auth/keys/"
CACHED_RECORDS = 10_000
_UPDATE_ATTEMPTS = 5


def schema_object(schema_id: str) -> str:
    return f"{SCHEMA_PREFIX}{names.encode(schema_id)}.json"


def key_object(key_id: str) -> str:
    return f"{KEY_PREFIX}{names.encode(key_id)}.json"


class MetaHandler(Handler):
    function = META_FUNCTION

    def __init__(self, storage: Storage, on_cache_lookup: Callable[[bool], None] | None = None) -> None:
        self.storage = storage
        # Key records are read on every request made with an API key; revalidating a
        # cached copy by etag costs a stat (FS) or a body-less 304 (S3), never staleness.
        self._records: Bounded[str, tuple[str, dict[str, Any]]] = Bounded.lru(CACHED_RECORDS, on_cache_lookup)

    # -- schemas -----------------------------------------------------------------
    @implements(PutSchema)
    def put_schema(self, c: PutSchema) -> Stored:
        sid = names.validate(c.schema_id, "schema id")
        return Stored(self.storage.put(schema_object(sid), c.schema.encode()))

    @implements(GetSchema)
    def get_schema(self, c: GetSchema) -> SchemaDocument:
        sid = names.validate(c.schema_id, "schema id")
        try:
            obj = self.storage.get(schema_object(sid), if_none_match=c.if_none_match)
        except NotModified:
            assert c.if_none_match is not None
            return SchemaDocument(etag=c.if_none_match, not_modified=True)
        return SchemaDocument(etag=obj.etag, schema=obj.data.decode())

    @implements(DeleteSchema)
    def delete_schema(self, c: DeleteSchema) -> Done:
        self.storage.delete(schema_object(names.validate(c.schema_id, "schema id")))
        return Done()

    @implements(ListSchemas)
    def list_schemas(self, _c: ListSchemas) -> SchemaIds:
        ids = []
        for obj in self.storage.list(SCHEMA_PREFIX):
            leaf = obj[len(SCHEMA_PREFIX) :]
            if "/" not in leaf and leaf.endswith(".json"):
                ids.append(names.decode(leaf[: -len(".json")]))
        return SchemaIds(sorted(ids))

    @implements(CheckStorage)
    def check_storage(self, _c: CheckStorage) -> StorageHealth:
        problem = self.storage.check()
        inner = getattr(self.storage, "inner", self.storage)  # the adapter behind a metrics wrapper
        return StorageHealth(backend=type(inner).__name__, ok=problem is None, detail=problem)

    # -- API keys ----------------------------------------------------------------
    @implements(CreateApiKey)
    def create_key(self, c: CreateApiKey) -> Done:
        # Ids are random 64-bit values; create-only guards the (theoretical) collision.
        self.storage.put(key_object(c.record["id"]), json.dumps(c.record).encode(), if_none_match=True)
        return Done()

    @implements(GetApiKey)
    def get_key(self, c: GetApiKey) -> KeyRecordJson:
        name = key_object(names.validate(c.key_id, "key id"))
        cached = self._records.get(name)
        try:
            obj = self.storage.get(name, if_none_match=cached[0] if cached else None)
        except NotModified:
            assert cached is not None
            return KeyRecordJson(cached[1])
        except ObjectNotFound:
            self._records.discard(name)
            raise
        record = json.loads(obj.data)
        self._records.put(name, (obj.etag, record))
        return KeyRecordJson(record)

    @implements(ListApiKeys)
    def list_keys(self, _c: ListApiKeys) -> KeyRecordList:
        records = []
        for obj in self.storage.list(KEY_PREFIX):
            try:
                records.append(json.loads(self.storage.get(obj).data))
            except (ObjectNotFound, ValueError):  # deleted between list and get, or unreadable
                continue
        records.sort(key=lambda r: (r.get("created_at", ""), r.get("id", "")))
        return KeyRecordList(records)

    @implements(UpdateApiKey)
    def update_key(self, c: UpdateApiKey) -> KeyRecordJson:
        name = key_object(names.validate(c.key_id, "key id"))
        for _attempt in range(_UPDATE_ATTEMPTS):  # compare-and-swap: a concurrent update is never lost
            obj = self.storage.get(name)
            record = json.loads(obj.data)
            if c.enabled is not None:
                record["enabled"] = c.enabled
            if c.permissions is not None:
                record["permissions"] = c.permissions
            try:
                etag = self.storage.put(name, json.dumps(record).encode(), if_match=obj.etag)
            except VersionMismatch:
                continue
            self._records.put(name, (etag, record))
            return KeyRecordJson(record)
        raise Unavailable("the key record kept changing; try again")

    @implements(DeleteApiKey)
    def delete_key(self, c: DeleteApiKey) -> Done:
        self.storage.delete(key_object(names.validate(c.key_id, "key id")))
        return Done()
