"""Helpers for key-hierarchy tests: a hierarchy over a store, and format-1 blobs as the old code wrote them."""

from __future__ import annotations

import base64
import json
import os
import struct

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chalicelib.crypto.database_keys import CacheLimits, DatabaseKeys
from chalicelib.crypto.hierarchy import KeyHierarchy
from chalicelib.crypto.keyring import KeyRing
from chalicelib.storage.base import Storage
from chalicelib.storage.memory import MemoryStorage


def hierarchy(master: KeyRing, storage: Storage | None = None, limits: CacheLimits | None = None) -> KeyHierarchy:
    return KeyHierarchy(master, DatabaseKeys(storage or MemoryStorage(), master, limits))


def seal_v1(master: KeyRing, db: str, key: str, plaintext: bytes) -> bytes:
    """A format-1 blob exactly as the code before format 2 wrote it (the data key wrapped by the master)."""
    data_key = master.generate_data_key({"purpose": "deltadb-entity", "db": db})
    nonce = os.urandom(12)
    header = json.dumps(
        {
            "alg": "A256GCM",
            "kid": data_key.key_id,
            "wk": base64.b64encode(data_key.wrapped).decode(),
            "n": base64.b64encode(nonce).decode(),
        },
        separators=(",", ":"),
    ).encode()
    prefix = struct.pack(">4sBH", b"DDBE", 1, len(header)) + header
    d, k = db.encode(), key.encode()
    location = struct.pack(">I", len(d)) + d + struct.pack(">I", len(k)) + k
    return prefix + AESGCM(data_key.plaintext).encrypt(nonce, plaintext, prefix + location)


def header_of(blob: bytes) -> dict[str, str]:
    hlen = int.from_bytes(blob[5:7], "big")
    doc: dict[str, str] = json.loads(blob[7 : 7 + hlen])
    return doc
