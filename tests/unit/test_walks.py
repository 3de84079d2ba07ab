"""Rewrap / verify / export pages and their driver, through the entity handler's full dispatch."""

from __future__ import annotations

import json
import os
import random
import threading
from pathlib import Path
from typing import Any

import pytest

from chalicelib.crypto import envelope, key_file
from chalicelib.crypto.local_keyring import LocalKeyRing, key_id_for
from chalicelib.crypto.master_versions import FileVersions
from chalicelib.entities import ENTITY_PREFIX, EntityStore, entity_object
from chalicelib.errors import Conflict, NotFound
from chalicelib.handlers.entity_handler import EntityHandler
from chalicelib.handlers.walk_protocol import RewrapPage
from chalicelib.handlers.wire import Call, R
from chalicelib.key_lifecycle import KeyLifecycle, Refused
from chalicelib.rewrap_operation import SelfCaller
from chalicelib.storage.base import ObjectNotFound, Storage
from chalicelib.storage.fs import FileStorage
from chalicelib.storage.memory import MemoryStorage
from chalicelib.walk_pages import CHECKPOINT_OBJECT
from chalicelib.walks import RewrapStart, RewrapWalk, export, verify
from tests.keyhelpers import hierarchy, seal_v1

OLD, NEW = os.urandom(32), os.urandom(32)
OLD_ID, NEW_ID = key_id_for(OLD), key_id_for(NEW)


def rotated() -> LocalKeyRing:
    """The keyring after a rotation: the old version still reads, the new one wraps."""
    return LocalKeyRing({OLD_ID: OLD, NEW_ID: NEW}, NEW_ID)


def filled(storage: Storage, counts: dict[str, int]) -> None:
    """Format-1 entities (written before format 2) under the old master, straight into the store."""
    old = LocalKeyRing.from_master_key(OLD)
    for db, n in counts.items():
        for i in range(n):
            key = f"k{i:04d}"
            storage.put(entity_object(db, key), seal_v1(old, db, key, json.dumps({"db": db, "i": i}).encode()))


def kids(storage: Storage, db: str, n: int) -> set[str]:
    """The master versions the entities depend on (format 2: through their database key record)."""
    keys = hierarchy(rotated(), storage)
    return {envelope.master_key_id(keys, db, storage.get(entity_object(db, f"k{i:04d}")).data) for i in range(n)}


def formats(storage: Storage, db: str) -> set[int]:
    return {envelope.format_version(storage.get(obj).data) for obj in storage.list(entity_object(db, ""))}


def caller(storage: Storage) -> tuple[SelfCaller, EntityStore]:
    entities = EntityStore(storage, rotated())
    return SelfCaller(EntityHandler(entities)), entities


def test_rewrap_migrates_every_format_1_entity_to_the_new_master_then_skips_them() -> None:
    storage = MemoryStorage()
    filled(storage, {"a": 150, "b": 30})
    calls, entities = caller(storage)
    starts: list[RewrapStart] = []
    totals = RewrapWalk(calls, None, page_size=40).run(on_start=starts.append)
    assert totals.to_json() == {"rewrapped": 180, "skipped": 0, "failed": 0}
    assert starts[0].target == NEW_ID and not starts[0].resumed  # the master version, not a database key id
    assert kids(storage, "a", 150) == {NEW_ID} and kids(storage, "b", 30) == {NEW_ID}
    assert formats(storage, "a") == formats(storage, "b") == {2}
    assert json.loads(entities.get("a", "k0149")[0]) == {"db": "a", "i": 149}
    with pytest.raises(ObjectNotFound):  # the checkpoint is gone at the end
        storage.get(CHECKPOINT_OBJECT)
    again = RewrapWalk(calls, "b").run()
    assert again.to_json() == {"rewrapped": 0, "skipped": 30, "failed": 0}


class Interrupted(Exception):
    pass


class DiesAfter:
    """A caller that dies (like kill -9: no cleanup) before its n-th rewrap page."""

    def __init__(self, inner: SelfCaller, pages: int) -> None:
        self.inner, self.pages = inner, pages

    def call(self, c: Call[R]) -> R:
        if isinstance(c, RewrapPage):
            self.pages -= 1
            if self.pages < 0:
                raise Interrupted
        return self.inner.call(c)


def test_an_interrupted_rewrap_resumes_from_its_checkpoint_and_the_counts_add_up() -> None:
    storage = MemoryStorage()
    filled(storage, {"a": 95, "b": 60, "c": 10})
    calls, _ = caller(storage)
    with pytest.raises(Interrupted):
        RewrapWalk(DiesAfter(calls, 4), None, page_size=30).run()  # a: 30+30+30+5, then dies on b
    checkpoint = json.loads(storage.get(CHECKPOINT_OBJECT).data)
    assert checkpoint["db"] == "a" and checkpoint["after"] is None and checkpoint["rewrapped"] == 95
    pages: list[str] = []
    starts: list[RewrapStart] = []
    totals = RewrapWalk(calls, None, page_size=30).run(starts.append, lambda p, _t: pages.append(str(p.next_after)))
    assert starts[0].resumed and starts[0].totals.rewrapped == 95
    assert pages == ["k0029", "None", "None"]  # b in two pages, c in one: a is not walked again
    assert totals.to_json() == {"rewrapped": 165, "skipped": 0, "failed": 0}
    assert kids(storage, "b", 60) == {NEW_ID}


def test_a_checkpoint_of_another_target_is_replaced_not_resumed() -> None:
    storage = MemoryStorage()
    filled(storage, {"a": 20})
    calls, _ = caller(storage)
    storage.put(CHECKPOINT_OBJECT, json.dumps({"scope": "*", "target": OLD_ID, "db": "a", "after": None}).encode())
    starts: list[RewrapStart] = []
    totals = RewrapWalk(calls, None).run(on_start=starts.append)
    assert starts[0].replaced and not starts[0].resumed and totals.rewrapped == 20


def test_two_rewraps_cannot_interleave() -> None:
    storage = MemoryStorage()
    filled(storage, {"a": 50})
    calls, _ = caller(storage)

    def second_starts(_page: Any, _totals: Any) -> None:
        RewrapWalk(calls, None, page_size=10).run()  # replaces the first's checkpoint

    with pytest.raises(Conflict, match="another rewrap is running"):
        RewrapWalk(calls, None, page_size=10).run(on_page=second_starts)


def test_an_unknown_database_is_refused_before_anything_is_written() -> None:
    storage = MemoryStorage()
    filled(storage, {"a": 3})
    calls, _ = caller(storage)
    with pytest.raises(NotFound, match="no database named 'nope'"):
        RewrapWalk(calls, "nope")
    assert kids(storage, "a", 3) == {OLD_ID} and formats(storage, "a") == {1}
    assert list(storage.list("_keys/")) == []  # no checkpoint, no database key record


def test_verify_counts_per_key_version_and_reports_a_corrupted_blob() -> None:
    storage = MemoryStorage()
    filled(storage, {"a": 10, "b": 5})
    calls, _ = caller(storage)
    RewrapWalk(calls, "b").run()
    obj = entity_object("a", "k0003")
    blob = bytearray(storage.get(obj).data)
    blob[-5] ^= 0x01
    storage.put(obj, bytes(blob))
    report = verify(calls, None).to_json()
    assert report["checked"] == 15 and report["ok"] == 14
    assert report["failed"] == [{"db": "a", "key": "k0003", "error": "entity failed authentication"}]
    assert report["key_ids"] == {OLD_ID: 9, NEW_ID: 5}


def test_export_gives_every_value_and_names_the_failures() -> None:
    storage = MemoryStorage()
    filled(storage, {"a": 3, "b": 2})
    calls, _ = caller(storage)
    storage.put(entity_object("b", "k0001"), b"DDBE garbage")
    rows = list(export(calls, None))
    good = {(r.db, r.key): json.loads(r.value) for r in rows if r.value is not None}
    assert good == {("a", f"k{i:04d}"): {"db": "a", "i": i} for i in range(3)} | {("b", "k0000"): {"db": "b", "i": 0}}
    assert [(r.db, r.key) for r in rows if r.error] == [("b", "k0001")]


def test_rewrap_keeps_the_cached_value_correct() -> None:
    storage = MemoryStorage()
    filled(storage, {"a": 1})
    calls, entities = caller(storage)
    value, etag = entities.get("a", "k0000")
    RewrapWalk(calls, "a").run()
    value2, etag2 = entities.get("a", "k0000")
    assert value2 == value and etag2 != etag and etag2 == storage.get(entity_object("a", "k0000")).etag


class Interloper:
    """The rewrap's view of the store. The first read of an odd-numbered key is followed by a client's write
    of it, before the rewrap writes: the race lands every time, not only when the scheduler allows."""

    def __init__(self, inner: FileStorage, write: Any) -> None:
        self.inner, self.write = inner, write
        self.seen: set[str] = set()

    def get(self, key: str, **kw: Any) -> Any:
        got = self.inner.get(key, **kw)
        leaf = key.rsplit("/", 1)[-1]
        if key.startswith(ENTITY_PREFIX) and int(leaf[1:]) % 2 and leaf not in self.seen:
            self.seen.add(leaf)
            self.write(leaf)
        return got

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_rewrap_racing_8_writers_loses_nothing_and_nothing_older_wins(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "data")
    keys = [f"k{i:04d}" for i in range(60)]
    filled(storage, {"race": len(keys)})
    writers = [EntityStore(storage, rotated(), cache_entries=100) for _ in range(9)]  # like 9 server processes
    last: dict[str, tuple[int, int]] = {}  # key -> (writer, sequence) of the last acknowledged write
    locks = {key: threading.Lock() for key in keys}  # one writer per key at a time: "last written" is defined

    def put(w: int, key: str, seq: int) -> None:
        with locks[key]:
            writers[w].put("race", key, json.dumps({"w": w, "seq": seq}))
            last[key] = (w, seq)

    calls = SelfCaller(EntityHandler(EntityStore(Interloper(storage, lambda k: put(8, k, 0)), rotated())))  # type: ignore[arg-type]
    done = threading.Event()

    def write(w: int) -> None:  # 8 writers on the even-numbered keys, for as long as the rewrap runs
        rnd = random.Random(w)
        seq = 0
        while not done.is_set() or seq < 20:
            put(w, keys[rnd.randrange(0, len(keys), 2)], seq)
            seq += 1

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    try:
        totals = RewrapWalk(calls, "race", page_size=5).run()
    finally:
        done.set()
        for t in threads:
            t.join()
    assert totals.failed == 0 and totals.rewrapped + totals.skipped == len(keys)
    assert totals.skipped >= 30  # every odd key: the client's write won the race and is already current
    reader = EntityStore(storage, rotated(), cache_entries=0)
    for key in keys:
        value = json.loads(reader.get("race", key)[0])
        if key in last:
            assert (value["w"], value["seq"]) == last[key], key
        else:
            assert value == {"db": "race", "i": keys.index(key)}
    assert kids(storage, "race", len(keys)) == {NEW_ID} and formats(storage, "race") == {2}


def test_v2_entities_under_an_old_record_are_skipped_the_record_moved_and_the_old_master_retires(
    tmp_path: Path,
) -> None:
    """Format-2 entities whose database key record a server made under the old master before it saw
    the rotation (the key file rotated by hand: no record moved): the rewrap moves the records only."""
    path = tmp_path / "keyring.json"
    LocalKeyRing.create_file(path)
    storage = MemoryStorage()
    before = EntityStore(storage, LocalKeyRing.from_file(path))
    old_id = before.keyring.active_key_id
    for db, n in {"a": 12, "b": 5, "emptied": 1}.items():
        for i in range(n):
            before.put(db, f"k{i:04d}", json.dumps({"db": db, "i": i}))
    before.delete("emptied", "k0000")  # a database key record, no entity left
    new_id = key_file.rotate(path)
    ring = LocalKeyRing.from_file(path)
    entities = EntityStore(storage, ring)
    calls = SelfCaller(EntityHandler(entities))
    lifecycle = KeyLifecycle(storage, entities.keyring, FileVersions(path, ring), settle=0)
    snapshot = {obj: storage.get(obj).data for obj in storage.list(ENTITY_PREFIX)}

    one = RewrapWalk(calls, "a").run()
    assert one.to_json() == {"rewrapped": 0, "skipped": 12, "failed": 0} and one.keys_moved == 1

    def masters(db: str, n: int) -> set[str]:
        blobs = [storage.get(entity_object(db, f"k{i:04d}")).data for i in range(n)]
        return {envelope.master_key_id(entities.keyring, db, blob) for blob in blobs}

    assert masters("a", 12) == {new_id} and masters("b", 5) == {old_id}  # --db: that database only
    with pytest.raises(Refused, match="still wraps 2 database keys"):
        lifecycle.retire(old_id)

    every = RewrapWalk(calls, None).run()
    assert every.to_json() == {"rewrapped": 0, "skipped": 17, "failed": 0} and every.keys_moved == 2
    assert masters("a", 12) == masters("b", 5) == {new_id}
    assert {obj: storage.get(obj).data for obj in storage.list(ENTITY_PREFIX)} == snapshot  # no entity rewritten
    records = {r.db: r.master for r in entities.keyring.databases.records()}
    assert records == dict.fromkeys(("a", "b", "emptied"), new_id)
    lifecycle.retire(old_id)
    assert old_id not in LocalKeyRing.from_file(path).key_ids()  # its material is gone from the file
    reader = EntityStore(storage, LocalKeyRing.from_file(path))
    assert json.loads(reader.get("b", "k0004")[0]) == {"db": "b", "i": 4}
    assert RewrapWalk(calls, None).run().keys_moved == 0
