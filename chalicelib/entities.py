"""Entity use cases on the processing side: seal/open values and store them."""

from __future__ import annotations

from chalicelib import names
from chalicelib.crypto import envelope
from chalicelib.crypto.keyring import KeyRing
from chalicelib.storage.base import Storage

ENTITY_PREFIX = "files/"


def entity_object(db: str, key: str) -> str:
    return f"{ENTITY_PREFIX}{names.encode(db)}/{names.encode(key)}"


class EntityStore:
    def __init__(self, storage: Storage, keyring: KeyRing) -> None:
        self.storage = storage
        self.keyring = keyring

    def put(
        self, db: str, key: str, value_json: str, *, if_match: str | None = None, if_none_match: bool = False
    ) -> str:
        names.validate(db, "database name")
        names.validate(key, "entity key")
        blob = envelope.seal(self.keyring, db, key, value_json.encode("utf-8"))
        return self.storage.put(entity_object(db, key), blob, if_match=if_match, if_none_match=if_none_match)

    def get(self, db: str, key: str, *, if_none_match: str | None = None) -> tuple[str, str]:
        """Return (value as JSON text, etag); raises ObjectNotFound / NotModified."""
        names.validate(db, "database name")
        names.validate(key, "entity key")
        obj = self.storage.get(entity_object(db, key), if_none_match=if_none_match)
        return envelope.open_(self.keyring, db, key, obj.data).decode("utf-8"), obj.etag

    def delete(self, db: str, key: str, *, if_match: str | None = None) -> None:
        names.validate(db, "database name")
        names.validate(key, "entity key")
        self.storage.delete(entity_object(db, key), if_match=if_match)
