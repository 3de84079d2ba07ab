"""The KeyRing port: wraps and unwraps data keys with a key-encryption key (KEK).

Shaped after AWS KMS ``GenerateDataKey`` / ``Decrypt`` so that a KMS adapter is a
drop-in: the context is bound to the wrapped key (KMS "encryption context"; AAD
for the local keyring) and the key id is recorded so old entities stay readable
after rotation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DataKey:
    plaintext: bytes = field(repr=False)
    wrapped: bytes
    key_id: str


class KeyUnavailable(Exception):
    """The wrapped key names a KEK this keyring does not hold, or unwrapping failed."""


class KeyServiceUnavailable(Exception):
    """The key service (KMS) could not be reached, throttled past the retries, or refused access."""


class KeyRing(Protocol):
    @property
    def active_key_id(self) -> str: ...

    def generate_data_key(self, context: Mapping[str, str]) -> DataKey:
        """A fresh random 256-bit data key, in clear and wrapped by the active KEK."""

    def wrap_data_key(self, plaintext: bytes, context: Mapping[str, str]) -> DataKey:
        """``plaintext`` (32 bytes) wrapped by the active KEK (to move a key under a new master version)."""

    def decrypt_data_key(self, key_id: str, wrapped: bytes, context: Mapping[str, str]) -> bytes:
        """Unwrap; raise KeyUnavailable when the key id is unknown or the context differs."""
