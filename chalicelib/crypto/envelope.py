"""The encrypted entity format (see docs/format.md).

::

    magic   4 bytes   b"DDBE"
    version 1 byte    0x01
    hlen    2 bytes   big-endian length of the header
    header  hlen      UTF-8 JSON: {"alg": "A256GCM", "kid": ..., "wk": b64, "n": b64}
    body    rest      AES-256-GCM ciphertext || 16-byte tag

The AAD is ``magic || version || hlen || header || len(db) || db || len(key) || key``
(lengths 4-byte big-endian, names UTF-8), so the format version, the key id, the
wrapped key and the entity's place are all authenticated: a blob copied onto
another entity, or any changed byte, fails to open.
"""

from __future__ import annotations

import base64
import json
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chalicelib.crypto.keyring import KeyRing, KeyUnavailable

MAGIC = b"DDBE"
VERSION = 1
ALG = "A256GCM"
_PREFIX = struct.Struct(">4sBH")


class EnvelopeError(Exception):
    """The blob is malformed or fails authentication."""


def _location(db: str, key: str) -> bytes:
    d, k = db.encode(), key.encode()
    return struct.pack(">I", len(d)) + d + struct.pack(">I", len(k)) + k


def _wrap_context(db: str) -> dict[str, str]:
    # Only the database goes into the KEK context: with KMS it is logged in clear
    # (CloudTrail), and entity keys may be personal data. The entity key is bound
    # by the body AAD instead.
    return {"purpose": "deltadb-entity", "db": db}


def seal(keyring: KeyRing, db: str, key: str, plaintext: bytes) -> bytes:
    data_key = keyring.generate_data_key(_wrap_context(db))
    nonce = os.urandom(12)
    header = json.dumps(
        {
            "alg": ALG,
            "kid": data_key.key_id,
            "wk": base64.b64encode(data_key.wrapped).decode(),
            "n": base64.b64encode(nonce).decode(),
        },
        separators=(",", ":"),
    ).encode()
    prefix = _PREFIX.pack(MAGIC, VERSION, len(header)) + header
    body = AESGCM(data_key.plaintext).encrypt(nonce, plaintext, prefix + _location(db, key))
    return prefix + body


def open_(keyring: KeyRing, db: str, key: str, blob: bytes) -> bytes:
    if len(blob) < _PREFIX.size:
        raise EnvelopeError("blob too short")
    magic, version, hlen = _PREFIX.unpack_from(blob)
    if magic != MAGIC:
        raise EnvelopeError("not a DeltaDatabase entity")
    if version != VERSION:
        raise EnvelopeError(f"unsupported format version {version}")
    end = _PREFIX.size + hlen
    try:
        header = json.loads(blob[_PREFIX.size : end])
        if header["alg"] != ALG:
            raise EnvelopeError(f"unsupported algorithm {header['alg']!r}")
        wrapped = base64.b64decode(header["wk"], validate=True)
        nonce = base64.b64decode(header["n"], validate=True)
        kid = str(header["kid"])
    except (ValueError, KeyError, TypeError):
        raise EnvelopeError("malformed header") from None
    if len(nonce) != 12:
        raise EnvelopeError("malformed nonce")
    try:
        data_key = keyring.decrypt_data_key(kid, wrapped, _wrap_context(db))
        return AESGCM(data_key).decrypt(nonce, blob[end:], blob[:end] + _location(db, key))
    except (InvalidTag, KeyUnavailable):
        raise EnvelopeError("entity failed authentication") from None


def _header_kid(blob: bytes) -> str:
    if len(blob) < _PREFIX.size:
        raise EnvelopeError("blob too short")
    magic, version, hlen = _PREFIX.unpack_from(blob)
    if magic != MAGIC or version != VERSION:
        raise EnvelopeError("not a DeltaDatabase entity of a known format version")
    try:
        return str(json.loads(blob[_PREFIX.size : _PREFIX.size + hlen])["kid"])
    except (ValueError, KeyError, TypeError):
        raise EnvelopeError("malformed header") from None


def master_key_id(keyring: KeyRing, db: str, blob: bytes) -> str:
    """The master key version the blob depends on (v1: the header's key id)."""
    return _header_kid(blob)


def rewrap(keyring: KeyRing, db: str, key: str, blob: bytes) -> bytes | None:
    """The blob under the current key chain, or None when it already is (v1: open and seal again)."""
    if _header_kid(blob) == keyring.active_key_id:
        return None
    return seal(keyring, db, key, open_(keyring, db, key, blob))
