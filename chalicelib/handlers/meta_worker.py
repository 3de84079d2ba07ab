"""The metadata handler: schemas (``templates/``) and API-key records (``_auth/``).

It holds no key material: records store only hashes of secrets.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from chalicelib import names
from chalicelib.handlers import Op, dispatch
from chalicelib.storage.base import NotModified, ObjectNotFound, Storage

SCHEMA_PREFIX = "templates/"
KEY_PREFIX = "_auth/keys/"


def schema_object(schema_id: str) -> str:
    return f"{SCHEMA_PREFIX}{names.encode(schema_id)}.json"


def key_object(key_id: str) -> str:
    return f"{KEY_PREFIX}{names.encode(key_id)}.json"


class MetaWorker:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        # Key records are read on every request made with an API key; revalidating a
        # cached copy by etag costs a stat (FS) or a body-less 304 (S3), never staleness.
        self._records: dict[str, tuple[str, dict[str, Any]]] = {}
        self._records_lock = threading.Lock()
        self._ops: dict[str, Op] = {
            "schema.put": self._schema_put,
            "schema.get": self._schema_get,
            "schema.delete": self._schema_delete,
            "schema.list": self._schema_list,
            "apikey.create": self._key_create,
            "apikey.get": self._key_get,
            "apikey.list": self._key_list,
            "apikey.delete": self._key_delete,
            "storage.check": self._storage_check,
        }

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        return dispatch(self._ops, event)

    # -- schemas -----------------------------------------------------------------
    def _schema_put(self, e: dict[str, Any]) -> dict[str, Any]:
        sid = names.validate(e["id"], "schema id")
        etag = self.storage.put(schema_object(sid), e["schema"].encode())
        return {"etag": etag}

    def _schema_get(self, e: dict[str, Any]) -> dict[str, Any]:
        sid = names.validate(e["id"], "schema id")
        try:
            obj = self.storage.get(schema_object(sid), if_none_match=e.get("if_none_match"))
        except NotModified:
            return {"not_modified": True, "etag": e["if_none_match"]}
        return {"schema": obj.data.decode(), "etag": obj.etag}

    def _schema_delete(self, e: dict[str, Any]) -> dict[str, Any]:
        self.storage.delete(schema_object(names.validate(e["id"], "schema id")))
        return {}

    def _schema_list(self, _e: dict[str, Any]) -> dict[str, Any]:
        ids = []
        for obj in self.storage.list(SCHEMA_PREFIX):
            leaf = obj[len(SCHEMA_PREFIX) :]
            if "/" not in leaf and leaf.endswith(".json"):
                ids.append(names.decode(leaf[: -len(".json")]))
        return {"ids": sorted(ids)}

    def _storage_check(self, _e: dict[str, Any]) -> dict[str, Any]:
        problem = self.storage.check()
        return {"backend": type(self.storage).__name__, "ok": problem is None, "detail": problem}

    # -- API keys ----------------------------------------------------------------
    def _key_create(self, e: dict[str, Any]) -> dict[str, Any]:
        record = e["record"]
        # Ids are random 64-bit values; create-only guards the (theoretical) collision.
        self.storage.put(key_object(record["id"]), json.dumps(record).encode(), if_none_match=True)
        return {}

    def _key_get(self, e: dict[str, Any]) -> dict[str, Any]:
        name = key_object(names.validate(e["id"], "key id"))
        cached = self._records.get(name)
        try:
            obj = self.storage.get(name, if_none_match=cached[0] if cached else None)
        except NotModified:
            assert cached is not None
            return {"record": cached[1]}
        except ObjectNotFound:
            with self._records_lock:
                self._records.pop(name, None)
            raise
        record = json.loads(obj.data)
        with self._records_lock:
            if len(self._records) >= 10_000:
                self._records.clear()
            self._records[name] = (obj.etag, record)
        return {"record": record}

    def _key_list(self, _e: dict[str, Any]) -> dict[str, Any]:
        records = []
        for obj in self.storage.list(KEY_PREFIX):
            try:
                records.append(json.loads(self.storage.get(obj).data))
            except (ObjectNotFound, ValueError):  # deleted between list and get, or unreadable
                continue
        records.sort(key=lambda r: (r.get("created_at", ""), r.get("id", "")))
        return {"records": records}

    def _key_delete(self, e: dict[str, Any]) -> dict[str, Any]:
        self.storage.delete(key_object(names.validate(e["id"], "key id")))
        return {}
