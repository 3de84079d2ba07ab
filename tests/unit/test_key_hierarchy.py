"""Format 2 and the key hierarchy: database keys, their cache bounds, v1 blobs, rewrap, shred, the key file."""

from __future__ import annotations

import base64
import json
import os
import stat
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from chalicelib.crypto import envelope, key_file, local_keyring
from chalicelib.crypto.database_keys import CacheLimits, DatabaseKeys, tombstone_object
from chalicelib.crypto.keyring import DataKey
from chalicelib.crypto.local_keyring import LocalKeyRing, key_id_for
from chalicelib.storage.memory import MemoryStorage
from tests.keyhelpers import header_of, hierarchy, seal_v1


def two_version_ring(old: bytes, new: bytes, active: bytes) -> LocalKeyRing:
    return LocalKeyRing({key_id_for(old): old, key_id_for(new): new}, key_id_for(active))


def test_v1_blobs_stay_readable_and_rewrap_migrates_them_to_v2() -> None:
    master = LocalKeyRing.from_master_key(os.urandom(32))
    keys = hierarchy(master)
    old = seal_v1(master, "db", "k", b'{"v":1}')
    assert envelope.format_version(old) == 1
    assert envelope.open_(keys, "db", "k", old) == b'{"v":1}'
    assert envelope.master_key_id(keys, "db", old) == master.active_key_id
    with pytest.raises(envelope.EnvelopeError):
        envelope.open_(keys, "db", "other", old)  # v1 still binds the entity's place
    new = envelope.rewrap(keys, "db", "k", old)
    assert new is not None and envelope.format_version(new) == 2
    assert envelope.open_(keys, "db", "k", new) == b'{"v":1}'
    assert envelope.rewrap(keys, "db", "k", new) is None  # already under the current chain


def test_rotation_moves_the_database_key_and_leaves_v2_bodies_as_they_are() -> None:
    a, b = os.urandom(32), os.urandom(32)
    store = MemoryStorage()
    before = hierarchy(LocalKeyRing.from_master_key(a), store)
    blob = envelope.seal(before, "db", "k", b"value")
    assert envelope.master_key_id(before, "db", blob) == key_id_for(a)

    after = hierarchy(two_version_ring(a, b, active=b), store)
    assert envelope.rewrap(after, "db", "k", blob) is None  # the blob is not rewritten...
    record = after.databases.read("db")
    assert record is not None and record.master == key_id_for(b)  # ...its database key moved
    assert envelope.master_key_id(after, "db", blob) == key_id_for(b)
    # The old version is no longer needed: a master holding only the new one reads the same bytes.
    assert envelope.open_(hierarchy(LocalKeyRing.from_master_key(b), store), "db", "k", blob) == b"value"


def test_a_substituted_wrapped_key_or_database_key_id_fails() -> None:
    keys = hierarchy(LocalKeyRing.from_master_key(os.urandom(32)))
    one, two = envelope.seal(keys, "db", "one", b"1"), envelope.seal(keys, "db", "two", b"2")
    h1, h2 = header_of(one), header_of(two)
    assert h1["dbk"] == h2["dbk"]
    swapped = one.replace(h1["wk"].encode(), h2["wk"].encode())
    with pytest.raises(envelope.EnvelopeError):
        envelope.open_(keys, "db", "one", swapped)
    with pytest.raises(envelope.EnvelopeError):
        envelope.open_(keys, "db", "one", one.replace(h1["dbk"].encode(), b"dbk-0000000000000000"))


def test_an_entity_whose_database_key_was_replaced_is_unreadable() -> None:
    store = MemoryStorage()
    keys = hierarchy(LocalKeyRing.from_master_key(os.urandom(32)), store)
    blob = envelope.seal(keys, "db", "k", b"v")
    store.delete("_keys/databases/db.json")
    fresh = hierarchy(keys.master, store)
    envelope.seal(fresh, "db", "other", b"w")  # a new key for the name
    for fn in (envelope.open_, envelope.rewrap):
        with pytest.raises(envelope.EnvelopeError):
            fn(fresh, "db", "k", blob)
    with pytest.raises(envelope.EnvelopeError):
        envelope.master_key_id(fresh, "db", blob)


def test_processes_racing_to_create_a_database_key_agree_on_one(monkeypatch: pytest.MonkeyPatch) -> None:
    store, master = MemoryStorage(), LocalKeyRing.from_master_key(os.urandom(32))
    rival, loser = DatabaseKeys(store, master), DatabaseKeys(store, master)
    real_put, raced = store.put, []

    def put(key: str, data: bytes, **kw: object) -> str:
        if kw.get("if_none_match") and key == "_keys/databases/db.json" and not raced:
            raced.append(key)
            rival.for_sealing("db", 1)  # another process creates it just before this one
        return real_put(key, data, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "put", put)
    loser_id, loser_key = loser.for_sealing("db", 1)
    assert raced  # the race happened
    rival_id, rival_key = rival.for_sealing("db", 1)
    assert (loser_id, loser_key) == (rival_id, rival_key)  # the loser re-read and uses the winner's key
    assert len([k for k in store.raw() if k.startswith("_keys/databases/")]) == 1


def test_requests_racing_on_a_cold_database_key_in_one_process_load_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    store, master = MemoryStorage(), LocalKeyRing.from_master_key(os.urandom(32))
    keys = DatabaseKeys(store, master)
    generated: list[Mapping[str, str]] = []
    puts: list[str] = []
    real_generate, real_put = master.generate_data_key, store.put

    def generate(context: Mapping[str, str]) -> DataKey:
        generated.append(context)
        time.sleep(0.05)  # a KMS GenerateDataKey: long enough for every other request to arrive
        return real_generate(context)

    def put(key: str, data: bytes, **kw: object) -> str:
        puts.append(key)
        return real_put(key, data, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(master, "generate_data_key", generate)
    monkeypatch.setattr(store, "put", put)
    with ThreadPoolExecutor(8) as pool:
        got = set(pool.map(lambda _i: keys.for_sealing("db", 1), range(8)))
    assert len(got) == 1  # every request seals under the one key
    assert len(generated) == 1 and puts == ["_keys/databases/db.json"]  # one creation, not one per request
    assert keys.unwraps == 0


def test_readers_racing_on_a_cold_database_key_unwrap_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    store, master = MemoryStorage(), LocalKeyRing.from_master_key(os.urandom(32))
    key_id, material = DatabaseKeys(store, master).for_sealing("db", 1)  # the record exists
    keys = DatabaseKeys(store, master)  # another process: nothing cached
    real_decrypt = master.decrypt_data_key

    def decrypt(*args: object) -> bytes:
        time.sleep(0.05)  # a KMS Decrypt: long enough for every other reader to arrive
        return real_decrypt(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(master, "decrypt_data_key", decrypt)
    with ThreadPoolExecutor(8) as pool:
        got = set(pool.map(lambda _i: keys.for_opening("db", key_id), range(8)))
    assert got == {material}
    assert keys.unwraps == 1  # one Decrypt, not one per reader


def _sealer(limits: CacheLimits, clock: list[float]) -> tuple[DatabaseKeys, DatabaseKeys]:
    store, master = MemoryStorage(), LocalKeyRing.from_master_key(os.urandom(32))
    DatabaseKeys(store, master).for_sealing("db", 1)  # the record exists; the next instance unwraps it
    return DatabaseKeys(store, master, limits, clock=lambda: clock[0]), DatabaseKeys(store, master)


@pytest.mark.parametrize(
    ("limits", "size", "unwraps"),
    [
        (CacheLimits(), 4, 1),  # defaults: one unwrap (one KMS Decrypt) for all ten
        (CacheLimits(max_messages=3), 4, 4),  # 3 + 3 + 3 + 1
        (CacheLimits(max_bytes=10), 4, 5),  # two 4-byte entities per cached entry
        (CacheLimits(max_age=0), 4, 10),  # cache off: every entity unwraps
    ],
)
def test_the_database_key_cache_is_bounded_by_messages_and_bytes(limits: CacheLimits, size: int, unwraps: int) -> None:
    keys, _ = _sealer(limits, [0.0])
    for _ in range(10):
        keys.for_sealing("db", size)
    assert keys.unwraps == unwraps


def test_the_database_key_cache_is_bounded_by_age() -> None:
    clock = [100.0]
    keys, _ = _sealer(CacheLimits(max_age=5), clock)
    keys.for_sealing("db", 1)
    clock[0] += 4.9
    keys.for_sealing("db", 1)
    assert keys.unwraps == 1
    clock[0] += 0.2
    keys.for_sealing("db", 1)
    assert keys.unwraps == 2


def test_a_tombstone_refuses_the_database_within_the_check_interval() -> None:
    clock = [0.0]
    store, master = MemoryStorage(), LocalKeyRing.from_master_key(os.urandom(32))
    keys = hierarchy(master, store)
    keys.databases._clock = lambda: clock[0]
    blob = envelope.seal(keys, "db", "k", b"v")
    store.put(tombstone_object("db"), b"{}")
    clock[0] += 2.1
    with pytest.raises(envelope.DatabaseGone):
        envelope.open_(keys, "db", "k", blob)
    with pytest.raises(envelope.DatabaseGone):
        envelope.seal(keys, "db", "k2", b"v")
    assert envelope.seal(keys, "other", "k", b"v")  # other databases unaffected


def test_key_file_v1_is_read_and_upgraded_by_rotate_and_destroy_keeps_a_tombstone(tmp_path: Path) -> None:
    material = os.urandom(32)
    path = tmp_path / "keyring.json"
    entry = {"id": key_id_for(material), "material": base64.b64encode(material).decode(), "created_at": "x"}
    v1 = {"version": 1, "active": key_id_for(material), "keys": [entry]}
    path.write_text(json.dumps(v1))
    ring = LocalKeyRing.from_file(path)
    keys = hierarchy(ring)
    blob = envelope.seal(keys, "db", "k", b"v")
    new = key_file.rotate(path)
    doc = json.loads(path.read_text())
    assert doc["version"] == 2 and doc["active"] == new
    assert [k["state"] for k in doc["keys"]] == ["enabled", "active"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(key_file.KeyFileError, match="current"):
        key_file.destroy(path, new)
    with pytest.raises(key_file.KeyFileError, match="no key version"):
        key_file.destroy(path, "local-nope")
    ring.reload()
    assert ring.active_key_id == new
    keys.databases.ensure_current_master("db")
    key_file.destroy(path, key_id_for(material))
    doc = json.loads(path.read_text())
    assert doc["keys"][0] == {"id": key_id_for(material), "created_at": "x", "state": "destroyed",
                              "destroyed_at": doc["keys"][0]["destroyed_at"]}  # fmt: skip
    assert base64.b64encode(material).decode() not in path.read_text()
    assert envelope.open_(hierarchy(LocalKeyRing.from_file(path), keys.databases.storage), "db", "k", blob) == b"v"
    assert list(tmp_path.glob(".*.tmp")) == []


def test_the_top_level_active_decides_when_a_hand_edit_marks_two_keys_active(tmp_path: Path) -> None:
    old, new = os.urandom(32), os.urandom(32)
    entries = [
        {"id": key_id_for(m), "material": base64.b64encode(m).decode(), "created_at": "x", "state": "active"}
        for m in (old, new)
    ]
    path = tmp_path / "keyring.json"
    path.write_text(json.dumps({"version": 2, "active": key_id_for(new), "keys": entries}))
    active, keys = key_file.read(path)
    assert active == key_id_for(new)
    assert {k.id: k.state for k in keys} == {key_id_for(old): "enabled", key_id_for(new): "active"}
    key_file.destroy(path, key_id_for(old))  # the old one is retired, not mistaken for the current one
    with pytest.raises(key_file.KeyFileError, match="current"):
        key_file.destroy(path, key_id_for(new))


def test_a_running_keyring_picks_up_a_rotation_by_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keyring.json"
    LocalKeyRing.create_file(path)
    ring = LocalKeyRing.from_file(path)
    first = ring.active_key_id
    new = key_file.rotate(path)
    assert ring.active_key_id == first  # checked at most once a second...
    monkeypatch.setattr(local_keyring, "RELOAD_INTERVAL", 0.0)
    ring._next_check = 0.0
    assert ring.active_key_id == new  # ...then seen without a restart
    assert ring.generate_data_key({"db": "x"}).key_id == new
    assert first in ring.key_ids()
