"""`deltadb rewrap|verify|export|import` as subprocesses on a real data folder.

The "old key version" is made as an operator would: entities written under the
first key, then a new active key added to keyring.json by hand (so, like a database a
server created before it saw a rotation, the database key records stay under the old
version until a rewrap moves them). Where a test needs per-entity rewrap work, the
entities are format 1 (as written before format 2), sealed straight into the store.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from chalicelib import provisioning
from chalicelib.config import Settings
from chalicelib.crypto.local_keyring import LocalKeyRing, key_id_for
from chalicelib.entities import EntityStore, entity_object
from chalicelib.storage.fs import FileStorage
from tests import s3servers
from tests.keyhelpers import seal_v1

pytestmark = pytest.mark.e2e


def deltadb(*args: str, stdin: bytes | None = None, timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELTADB_")}
    return subprocess.run(
        [sys.executable, "-m", "local.cli", *args], cwd=s3servers.ROOT, capture_output=True, env=env,
        input=stdin, timeout=timeout,
    )  # fmt: skip


class Store:
    """A server's data and secrets folders, filled directly (fast: no HTTP)."""

    def __init__(self, root: Path) -> None:
        self.data, self.secrets = root / "data", root / "secrets"
        settings = Settings(data_dir=self.data, secrets_dir=self.secrets, admin_key="a" * 20)
        self.key_file = provisioning.ensure(settings).key_file
        assert self.key_file is not None
        self.old_id = LocalKeyRing.from_file(self.key_file).active_key_id

    @property
    def flags(self) -> tuple[str, ...]:
        return ("--data-dir", str(self.data), "--secrets-dir", str(self.secrets))

    def entities(self) -> EntityStore:
        return EntityStore(FileStorage(self.data), LocalKeyRing.from_file(self.key_file), cache_entries=0)

    def fill(self, counts: dict[str, int]) -> None:
        store = self.entities()
        for db, n in counts.items():
            for i in range(n):
                store.put(db, f"k{i:05d}", json.dumps({"db": db, "i": i, "note": f"secret-value-{i}"}))

    def fill_v1(self, counts: dict[str, int]) -> None:
        """Format-1 entities (written before format 2) under the current master, straight into the store."""
        master, storage = LocalKeyRing.from_file(self.key_file), FileStorage(self.data)
        for db, n in counts.items():
            for i in range(n):
                value = json.dumps({"db": db, "i": i, "note": f"secret-value-{i}"}).encode()
                storage.put(entity_object(db, f"k{i:05d}"), seal_v1(master, db, f"k{i:05d}", value))

    def rotate(self) -> str:
        """Add a new active key to keyring.json by hand, the old one kept for reading."""
        doc = json.loads(self.key_file.read_text())
        material = os.urandom(32)
        new_id = key_id_for(material)
        for key in doc["keys"]:
            key["state"] = "enabled" if key.get("state", "active") == "active" else key["state"]
        doc["keys"].append({"id": new_id, "material": base64.b64encode(material).decode(), "created_at": "2026-01-01"})
        doc["active"], doc["keys"][-1]["state"] = new_id, "active"
        self.key_file.write_text(json.dumps(doc))
        return new_id

    def snapshot(self) -> dict[str, bytes]:
        return {str(p.relative_to(self.data)): p.read_bytes() for p in sorted(self.data.rglob("*")) if p.is_file()}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path)


def test_rewrap_killed_with_sigkill_resumes_from_its_checkpoint(store: Store) -> None:
    counts = {"alpha": 1500, "beta": 1200, "gamma": 300}
    total = sum(counts.values())
    store.fill_v1(counts)
    new_id = store.rotate()
    checkpoint = store.data / "_keys" / "rewrap-checkpoint.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELTADB_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.cli", "rewrap", "--json", *store.flags],
        cwd=s3servers.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:  # until a few pages are done, then kill -9 (no cleanup of any kind)
            assert proc.poll() is None, "rewrap finished before it could be interrupted"
            assert time.monotonic() < deadline
            try:
                state = json.loads(checkpoint.read_bytes())
            except (FileNotFoundError, ValueError):
                state = {}
            if state.get("rewrapped", 0) >= 500:
                break
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    interrupted = json.loads(checkpoint.read_bytes())
    assert 500 <= interrupted["rewrapped"] < total and interrupted["target"] == new_id

    resumed = deltadb("rewrap", "--json", *store.flags)
    assert resumed.returncode == 0, resumed.stderr
    assert b"resuming from the checkpoint" in resumed.stderr
    final = json.loads(resumed.stdout)
    assert final["failed"] == 0 and final["rewrapped"] + final["skipped"] == total
    assert final["rewrapped"] >= total - 100  # only the page cut short is found current again (skipped)
    assert not checkpoint.exists()

    report = deltadb("verify", "--json", *store.flags)
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout) == {"checked": total, "ok": total, "failed": [], "key_ids": {new_id: total}}
    entities = store.entities()
    for db, n in counts.items():
        assert json.loads(entities.get(db, f"k{n - 1:05d}")[0])["i"] == n - 1

    again = deltadb("rewrap", "--json", "--db", "beta", *store.flags)
    assert json.loads(again.stdout) == {"rewrapped": 0, "skipped": counts["beta"], "failed": 0}
    retired = deltadb("key", "retire", store.old_id, *store.flags)
    assert retired.returncode == 0, retired.stderr


def test_v2_entities_need_only_their_database_key_records_moved_then_the_old_master_retires(store: Store) -> None:
    counts = {"chat": 40, "notes": 7}
    store.fill(counts)  # format 2: the records made under the first master
    new_id = store.rotate()  # by hand: no record moved
    before = {k: v for k, v in store.snapshot().items() if k.startswith("files/")}

    one = deltadb("rewrap", "--db", "chat", *store.flags)
    assert one.returncode == 0, one.stderr
    assert b"rewrapped 0 (format 1 -> 2), skipped 40" in one.stdout and b"records moved: 1" in one.stdout
    refused = deltadb("key", "retire", store.old_id, *store.flags)
    assert refused.returncode == 1 and b"still wraps 1 database keys" in refused.stderr, refused.stderr

    every = deltadb("rewrap", "--json", *store.flags)
    assert json.loads(every.stdout) == {"rewrapped": 0, "skipped": 47, "failed": 0}, every.stderr
    report = json.loads(deltadb("verify", "--json", *store.flags).stdout)
    assert report == {"checked": 47, "ok": 47, "failed": [], "key_ids": {new_id: 47}}
    assert {k: v for k, v in store.snapshot().items() if k.startswith("files/")} == before  # no entity rewritten
    retired = deltadb("key", "retire", store.old_id, *store.flags)
    assert retired.returncode == 0, retired.stderr
    assert json.loads(store.entities().get("notes", "k00006")[0])["i"] == 6


def test_verify_reports_a_flipped_byte_and_exits_1(store: Store) -> None:
    store.fill({"a": 5, "b": 3})
    path = store.data / entity_object("b", "k00001")
    blob = bytearray(path.read_bytes())
    blob[-3] ^= 0x40  # in the ciphertext: the header still parses
    path.write_bytes(bytes(blob))
    result = deltadb("verify", "--json", *store.flags)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["checked"] == 8 and report["ok"] == 7 and report["key_ids"] == {store.old_id: 7}
    assert report["failed"] == [{"db": "b", "key": "k00001", "error": "entity failed authentication"}]
    table = deltadb("verify", *store.flags)
    assert table.returncode == 1 and b"k00001" in table.stdout and store.old_id.encode() in table.stdout


def test_export_then_import_into_another_data_dir_round_trips(store: Store, tmp_path: Path) -> None:
    store.fill({"chat": 40, "odd name %2F é": 3})
    dump = deltadb("export", *store.flags)
    assert dump.returncode == 0, dump.stderr
    assert b"CLEAR TEXT" in dump.stderr
    lines = [json.loads(line) for line in dump.stdout.splitlines()]
    assert len(lines) == 43 and {"db", "key", "value"} == set(lines[0])

    other = Store(tmp_path / "other")
    # the target validates against its schemas like the API: give it the database's schema first
    schema = {"type": "object", "required": ["db", "i"]}
    (other.data / "templates").mkdir(parents=True)
    (other.data / "templates" / "chat.json").write_text(json.dumps(schema))
    loaded = deltadb("import", *other.flags, stdin=dump.stdout)
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout) == {"imported": 43, "refused": 0}
    source, target = store.entities(), other.entities()
    for row in lines:
        assert json.loads(target.get(row["db"], row["key"])[0]) == json.loads(source.get(row["db"], row["key"])[0])

    # again: every key exists now, so every line is refused and nothing changes
    changed = {**lines[0], "value": {"db": "chat", "i": -1}}
    before = other.snapshot()
    refused = deltadb("import", *other.flags, stdin=json.dumps(changed).encode() + b"\n")
    assert refused.returncode == 1 and json.loads(refused.stdout) == {"imported": 0, "refused": 1}
    assert b"exists; not overwritten" in refused.stderr and b"line 1" in refused.stderr
    assert other.snapshot() == before
    overwritten = deltadb("import", "--overwrite", *other.flags, stdin=json.dumps(changed).encode())
    assert overwritten.returncode == 0, overwritten.stderr
    assert json.loads(target.get(changed["db"], changed["key"])[0]) == {"db": "chat", "i": -1}


def _dump(*rows: Any) -> bytes:
    return b"\n".join(r if isinstance(r, bytes) else json.dumps(r).encode() for r in rows) + b"\n"


GOOD = {"db": "chat", "key": "new", "value": {"db": "chat", "i": 1}}


@pytest.mark.parametrize(
    ("args", "stdin", "code", "says"),
    [
        (("rewrap", "--db", "nope"), None, 1, b"no database named 'nope'"),
        (("verify", "--db", "nope", "--json"), None, 1, b"no database named 'nope'"),
        (("export", "--db", "nope"), None, 1, b"no database named 'nope'"),
        (("rewrap", "--db", "a/b"), None, 2, b"invalid database name"),
        (("verify", "--no-such-flag"), None, 2, b"unrecognized arguments"),
        (("import",), _dump(GOOD, b"{not json"), 2, b"line 2: invalid JSON"),
        (("import",), _dump(GOOD, {"db": "chat", "key": "x"}), 2, b"line 2: expected a JSON object"),
        (("import",), _dump(GOOD, {"db": "chat", "key": "..", "value": 1}), 2, b"line 2: invalid entity key"),
        (("import",), _dump(GOOD, {"db": "chat", "key": "y", "value": {"i": 1}}), 2, b"line 2: schema violation"),
        (("import",), _dump(GOOD, b'{"db": "chat", "key": "z", "value": NaN}'), 2, b"line 2: invalid JSON"),
    ],
)  # fmt: skip
def test_bad_input_is_one_clear_sentence_and_changes_nothing(
    store: Store, args: tuple[str, ...], stdin: bytes | None, code: int, says: bytes
) -> None:
    store.fill({"chat": 2})
    (store.data / "templates").mkdir()
    (store.data / "templates" / "chat.json").write_text(json.dumps({"type": "object", "required": ["db"]}))
    store.rotate()
    before = store.snapshot()
    result = deltadb(*args, *store.flags, stdin=stdin)
    assert result.returncode == code and says in result.stderr, (result.returncode, result.stderr)
    assert b"Traceback" not in result.stderr
    assert store.snapshot() == before


def test_a_wrong_folder_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    for command in ("rewrap", "verify", "export", "import"):
        result = deltadb(command, "--data-dir", str(tmp_path / "typo"), stdin=b"")
        assert result.returncode == 2 and b"no data folder at" in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "data").mkdir()
    result = deltadb("verify", "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 2 and b"no keyring at" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
