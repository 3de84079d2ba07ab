"""The key hierarchy handed to the envelope: master key versions -> database keys -> data keys."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.crypto.database_keys import DatabaseKeys
from chalicelib.crypto.keyring import KeyRing


@dataclass(frozen=True)
class KeyHierarchy:
    master: KeyRing  # the KEK versions (local keyring or KMS); v1 entities are wrapped by it directly
    databases: DatabaseKeys  # one key per database, wrapped by the master

    @property
    def active_key_id(self) -> str:
        """The current master version (what new database keys are wrapped under)."""
        return self.master.active_key_id
