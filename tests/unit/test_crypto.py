"""Envelope format and the local keyring."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from chalicelib.crypto import envelope
from chalicelib.crypto.hierarchy import KeyHierarchy
from chalicelib.crypto.keyring import KeyUnavailable
from chalicelib.crypto.local_keyring import LocalKeyRing, key_id_for
from chalicelib.storage.memory import MemoryStorage
from tests.keyhelpers import header_of, hierarchy


@pytest.fixture
def master() -> LocalKeyRing:
    return LocalKeyRing.from_master_key(os.urandom(32))


@pytest.fixture
def ring(master: LocalKeyRing) -> KeyHierarchy:
    return hierarchy(master)


def test_roundtrip_and_fresh_keys(ring: KeyHierarchy) -> None:
    a = envelope.seal(ring, "db", "k", b'{"x":1}')
    b = envelope.seal(ring, "db", "k", b'{"x":1}')
    assert a != b  # fresh data key and nonce each time
    assert envelope.open_(ring, "db", "k", a) == b'{"x":1}'
    assert b'{"x":1}' not in a


def test_header_records_version_and_database_key_id(ring: KeyHierarchy) -> None:
    blob = envelope.seal(ring, "db", "k", b"v")
    assert blob[:4] == b"DDBE" and blob[4] == 2
    header = header_of(blob)
    assert set(header) == {"alg", "dbk", "wk", "n"} and header["alg"] == "A256GCM"
    record = ring.databases.read("db")
    assert record is not None and header["dbk"] == record.id and record.master == ring.active_key_id
    # The header's bytes are compact JSON as json.dumps writes it (docs/format.md), in this key order.
    length = int.from_bytes(blob[5:7], "big")
    assert blob[7 : 7 + length].decode() == json.dumps(header, separators=(",", ":"))


@pytest.mark.parametrize(("db", "key"), [("db", "other"), ("other", "k"), ("dbk", ""), ("d", "bk")])
def test_blob_bound_to_its_place(ring: KeyHierarchy, db: str, key: str) -> None:
    blob = envelope.seal(ring, "db", "k", b"v")
    with pytest.raises(envelope.EnvelopeError):
        envelope.open_(ring, db, key, blob)


def test_every_byte_is_authenticated(ring: KeyHierarchy) -> None:
    blob = envelope.seal(ring, "db", "k", b"some value")
    for i in range(len(blob)):
        tampered = bytearray(blob)
        tampered[i] ^= 0x01
        with pytest.raises(envelope.EnvelopeError):
            envelope.open_(ring, "db", "k", bytes(tampered))


def test_wrong_keyring_fails(ring: KeyHierarchy) -> None:
    blob = envelope.seal(ring, "db", "k", b"v")
    other = LocalKeyRing.from_master_key(os.urandom(32))
    with pytest.raises(envelope.EnvelopeError):  # same stored records, another master
        envelope.open_(hierarchy(other, ring.databases.storage), "db", "k", blob)


def test_rotation_keeps_old_entities_readable() -> None:
    old, new = os.urandom(32), os.urandom(32)
    store = MemoryStorage()
    ring1 = hierarchy(LocalKeyRing.from_master_key(old), store)
    blob = envelope.seal(ring1, "db", "k", b"v")
    ring2 = hierarchy(LocalKeyRing({key_id_for(old): old, key_id_for(new): new}, key_id_for(new)), store)
    assert envelope.open_(ring2, "db", "k", blob) == b"v"
    assert envelope.seal(ring2, "db", "k", b"v") != blob


def test_unwrap_checks_context(master: LocalKeyRing) -> None:
    ring = master
    dk = ring.generate_data_key({"db": "a"})
    assert ring.decrypt_data_key(dk.key_id, dk.wrapped, {"db": "a"}) == dk.plaintext
    with pytest.raises(KeyUnavailable):
        ring.decrypt_data_key(dk.key_id, dk.wrapped, {"db": "b"})
    with pytest.raises(KeyUnavailable):
        ring.decrypt_data_key("local-unknown", dk.wrapped, {"db": "a"})
    assert len(dk.plaintext) == 32


def test_key_file_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "s" / "keyring.json"
    assert LocalKeyRing.create_file(path) is True
    first = path.read_bytes()
    assert LocalKeyRing.create_file(path) is False
    assert path.read_bytes() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    store = MemoryStorage()
    blob = envelope.seal(hierarchy(LocalKeyRing.from_file(path), store), "db", "k", b"v")
    assert envelope.open_(hierarchy(LocalKeyRing.from_file(path), store), "db", "k", blob) == b"v"
    assert list(path.parent.glob("*.tmp")) == []


@pytest.mark.parametrize(("db", "key"), [("db", "k"), ("", ""), ("dé", "ключ/1"), ("d", "k" * 300)])
def test_the_body_aad_is_the_documented_layout(db: str, key: str) -> None:
    """docs/format.md: MAGIC, version, then ALG, dbk, nonce, db, key, each after its length (4 bytes, big-endian)."""
    nonce = os.urandom(12)
    parts = [b"A256GCM", b"dbk-0123456789abcdef", nonce, db.encode(), key.encode()]
    layout = b"DDBE\x02" + b"".join(len(p).to_bytes(4, "big") + p for p in parts)
    assert envelope._aad_v2("dbk-0123456789abcdef", nonce, db, key) == layout
