"""The encrypted entity format (see docs/format.md): version 2 written, versions 1 and 2 read.

::

    magic   4 bytes   b"DDBE"
    version 1 byte    0x02 (0x01: the format before database keys)
    hlen    2 bytes   big-endian length of the header
    header  hlen      UTF-8 JSON. v2: {"alg", "dbk": <database key id>, "wk": b64, "n": b64}
                                  v1: {"alg", "kid": <master key id>, "wk": b64, "n": b64}
    body    rest      AES-256-GCM ciphertext || 16-byte tag

Version 2: the data key (fresh per entity version) is wrapped with AES-256-GCM under the
database key (chalicelib/crypto/database_keys.py), itself wrapped by a master key version.
The body's AAD is ``magic || version || alg || dbk || nonce || db || key`` (each of the
last five with a 4-byte length): it binds the entity's place and its database key but
not the wrapped data key, so moving a data key under another key leaves the body as it
is, while a substituted ``wk`` unwraps to another data key (or not at all) and fails.

Version 1: the data key is wrapped by the master directly and the AAD is the whole
prefix (magic, version, length, header) followed by the entity's place.
"""

from __future__ import annotations

import base64
import json
import os
import struct
from functools import lru_cache
from json.encoder import encode_basestring_ascii as _ascii_string  # json's C escaper
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chalicelib.crypto.database_keys import DatabaseShredded
from chalicelib.crypto.hierarchy import KeyHierarchy
from chalicelib.crypto.keyring import KeyUnavailable

MAGIC = b"DDBE"
VERSION = 2
V1 = 1
ALG = "A256GCM"
_PREFIX = struct.Struct(">4sBH")

KeyRing = KeyHierarchy  # the name the envelope's callers know the key hierarchy by


class EnvelopeError(Exception):
    """The blob is malformed or fails authentication."""


class DatabaseGone(EnvelopeError):
    """The blob's database has been shredded."""


_LENGTH = struct.Struct(">I").pack


def _lv(*parts: bytes) -> bytes:
    return b"".join([_LENGTH(len(p)) + p for p in parts])  # (a list: join of a generator costs more)


def _location(db: str, key: str) -> bytes:
    return _lv(db.encode(), key.encode())


def _wrap_context(db: str) -> dict[str, str]:
    # Only the database goes into the KEK context: with KMS it is logged in clear
    # (CloudTrail), and entity keys may be personal data. The entity key is bound
    # by the body AAD instead.
    return {"purpose": "deltadb-entity", "db": db}


@lru_cache(maxsize=4096)  # the same few databases, on every seal and open
def _context_aad(db: str) -> bytes:
    return json.dumps(_wrap_context(db), sort_keys=True, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _parse(blob: bytes) -> tuple[int, dict[str, Any], int]:
    """(version, header, end of header) of a well-formed blob."""
    if len(blob) < _PREFIX.size:
        raise EnvelopeError("blob too short")
    magic, version, hlen = _PREFIX.unpack_from(blob)
    if magic != MAGIC:
        raise EnvelopeError("not a DeltaDatabase entity")
    if version not in (V1, VERSION):
        raise EnvelopeError(f"unsupported format version {version}")
    end = _PREFIX.size + hlen
    try:
        header = json.loads(blob[_PREFIX.size : end])
        if header["alg"] != ALG:
            raise EnvelopeError(f"unsupported algorithm {header['alg']!r}")
        parsed = {
            "wk": base64.b64decode(header["wk"], validate=True),
            "n": base64.b64decode(header["n"], validate=True),
            "kid" if version == V1 else "dbk": str(header["kid" if version == V1 else "dbk"]),
        }
    except (ValueError, KeyError, TypeError):
        raise EnvelopeError("malformed header") from None
    if len(parsed["n"]) != 12:
        raise EnvelopeError("malformed nonce")
    return version, parsed, end


_AAD_V2_START = MAGIC + bytes([VERSION]) + _LENGTH(len(ALG)) + ALG.encode()


def _aad_v2(dbk: str, nonce: bytes, db: str, key: str) -> bytes:
    # MAGIC, VERSION, then length-prefixed ALG, dbk, nonce, db, key (docs/format.md); written
    # out, not _lv(): on every seal, and a loop over four parts cost twice as much
    d, b, k = dbk.encode(), db.encode(), key.encode()
    return b"".join((_AAD_V2_START, _LENGTH(len(d)), d, _LENGTH(len(nonce)), nonce, _LENGTH(len(b)), b,
                     _LENGTH(len(k)), k))  # fmt: skip


def seal(keys: KeyRing, db: str, key: str, plaintext: bytes) -> bytes:
    try:
        dbk, db_key = keys.databases.for_sealing(db, len(plaintext))
    except DatabaseShredded as exc:
        raise DatabaseGone(str(exc)) from None
    except KeyUnavailable as exc:
        raise EnvelopeError(f"database key unavailable: {exc}") from None
    fresh = os.urandom(56)  # one draw: the data key, the wrapping's nonce, the body's nonce
    data_key, wrap_nonce, nonce = fresh[:32], fresh[32:44], fresh[44:]
    wrapped = wrap_nonce + AESGCM(db_key).encrypt(wrap_nonce, data_key, _context_aad(db))
    # What json.dumps(separators=(",", ":")) writes for {"alg", "dbk", "wk", "n"}, made directly
    # (base64 needs no escaping): the encoder's set-up per call cost more than the header.
    header = f'{{"alg":"{ALG}","dbk":{_ascii_string(dbk)},"wk":"{_b64(wrapped)}","n":"{_b64(nonce)}"}}'
    prefix = _PREFIX.pack(MAGIC, VERSION, len(header)) + header.encode()
    return prefix + AESGCM(data_key).encrypt(nonce, plaintext, _aad_v2(dbk, nonce, db, key))


def _data_key_v2(keys: KeyRing, db: str, header: dict[str, Any]) -> bytes:
    try:
        db_key = keys.databases.for_opening(db, header["dbk"])
    except DatabaseShredded as exc:
        raise DatabaseGone(str(exc)) from None
    except KeyUnavailable:
        raise EnvelopeError("entity failed authentication: its database key is gone") from None
    wrapped = header["wk"]
    if len(wrapped) != 60:
        raise EnvelopeError("malformed wrapped key")
    try:
        return AESGCM(db_key).decrypt(wrapped[:12], wrapped[12:], _context_aad(db))
    except InvalidTag:
        raise EnvelopeError("entity failed authentication") from None


def open_(keys: KeyRing, db: str, key: str, blob: bytes) -> bytes:
    version, header, end = _parse(blob)
    try:
        if version == V1:
            data_key = keys.master.decrypt_data_key(header["kid"], header["wk"], _wrap_context(db))
            return AESGCM(data_key).decrypt(header["n"], blob[end:], blob[:end] + _location(db, key))
        data_key = _data_key_v2(keys, db, header)
        return AESGCM(data_key).decrypt(header["n"], blob[end:], _aad_v2(header["dbk"], header["n"], db, key))
    except (InvalidTag, KeyUnavailable):
        raise EnvelopeError("entity failed authentication") from None


def rewrap(keys: KeyRing, db: str, key: str, blob: bytes) -> bytes | None:
    """A blob under the database's current key chain, or None when ``blob`` already is.

    v1 -> v2 re-encrypts the body (the v1 AAD covers the wrapped key). A v2 blob's data
    key is always under its database's only key; what may be old is that key's wrapping,
    so the database key record is moved under the current master (one compare-and-swap
    per database, not per entity) and the blob itself stays as it is.
    """
    version, header, _end = _parse(blob)
    if version == V1:
        return seal(keys, db, key, open_(keys, db, key, blob))
    _data_key_v2(keys, db, header)  # still readable: its database key is the current one
    try:
        record = keys.databases.current_record(db)  # (cached: a walk reads each record about once)
        if record is not None and record.master != keys.active_key_id:
            keys.databases.ensure_current_master(db)
    except KeyUnavailable as exc:
        raise EnvelopeError(f"database key unavailable: {exc}") from None
    return None


def master_key_id(keys: KeyRing, db: str, blob: bytes) -> str:
    """The master key version the blob ultimately depends on."""
    version, header, _end = _parse(blob)
    if version == V1:
        return str(header["kid"])
    try:
        record = keys.databases.current_record(db)
    except KeyUnavailable as exc:
        raise EnvelopeError(f"database key unavailable: {exc}") from None
    if record is None or record.id != header["dbk"]:
        raise EnvelopeError("entity's database key is gone")
    return record.master


def format_version(blob: bytes) -> int:
    """The blob's format version (1 or 2); EnvelopeError when it is not a readable blob."""
    return _parse(blob)[0]
