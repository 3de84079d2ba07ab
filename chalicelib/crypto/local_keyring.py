"""Local KeyRing: 256-bit KEKs from an env var or a key file (mode 0600).

Key file format (JSON, ``version`` 1)::

    {"version": 1, "active": "<key id>",
     "keys": [{"id": "<key id>", "material": "<base64 32 bytes>", "created_at": "<RFC 3339>"}]}

A data key is wrapped with AES-256-GCM under the KEK: ``nonce(12) || ciphertext(32) || tag(16)``,
the AAD being the canonical JSON of the context, so a wrapped key moved to another
context does not unwrap.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chalicelib.crypto.keyring import DataKey, KeyUnavailable
from chalicelib.files import create_exclusive
from chalicelib.timestamps import rfc3339

KEY_FILE_VERSION = 1


def key_id_for(material: bytes) -> str:
    """A stable, non-secret id for a KEK (a truncated hash under a fixed label)."""
    return "local-" + hashlib.sha256(b"deltadb key id\x00" + material).hexdigest()[:16]


def _context_aad(context: Mapping[str, str]) -> bytes:
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":")).encode()


class LocalKeyRing:
    def __init__(self, keys: Mapping[str, bytes], active: str) -> None:
        if active not in keys:
            raise ValueError("the active key id is not among the keys")
        for kid, material in keys.items():
            if len(material) != 32:
                raise ValueError(f"key {kid} is not 32 bytes")
        self._aead = {kid: AESGCM(material) for kid, material in keys.items()}
        self._active = active

    @classmethod
    def from_master_key(cls, material: bytes) -> LocalKeyRing:
        kid = key_id_for(material)
        return cls({kid: material}, kid)

    @classmethod
    def from_file(cls, path: Path) -> LocalKeyRing:
        doc = json.loads(Path(path).read_text())
        if doc.get("version") != KEY_FILE_VERSION:
            raise ValueError(f"unsupported key file version in {path}")
        keys = {k["id"]: base64.b64decode(k["material"]) for k in doc["keys"]}
        return cls(keys, doc["active"])

    @staticmethod
    def create_file(path: Path) -> bool:
        """Create a key file with one fresh KEK, mode 0600, unless one exists.

        Returns True when created; concurrent first starts agree on one file.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        material = os.urandom(32)
        kid = key_id_for(material)
        doc = {
            "version": KEY_FILE_VERSION,
            "active": kid,
            "keys": [
                {
                    "id": kid,
                    "material": base64.b64encode(material).decode(),
                    "created_at": rfc3339(datetime.now(UTC)),
                }
            ],
        }
        return create_exclusive(path, json.dumps(doc, indent=2).encode())

    @property
    def active_key_id(self) -> str:
        return self._active

    def generate_data_key(self, context: Mapping[str, str]) -> DataKey:
        plaintext = os.urandom(32)
        nonce = os.urandom(12)
        wrapped = nonce + self._aead[self._active].encrypt(nonce, plaintext, _context_aad(context))
        return DataKey(plaintext=plaintext, wrapped=wrapped, key_id=self._active)

    def decrypt_data_key(self, key_id: str, wrapped: bytes, context: Mapping[str, str]) -> bytes:
        aead = self._aead.get(key_id)
        if aead is None or len(wrapped) != 60:
            raise KeyUnavailable(f"unknown key id {key_id!r}")
        try:
            return aead.decrypt(wrapped[:12], wrapped[12:], _context_aad(context))
        except InvalidTag:
            raise KeyUnavailable("wrapped data key failed authentication") from None
