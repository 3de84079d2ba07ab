"""Key lifecycle on real stores: rotate, retire refused then allowed, and crypto-shredding on the
filesystem and on S3 (moto in server mode), with the local keyring and with KMS (moto's)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib import provisioning
from chalicelib.bootstrap import Runtime
from chalicelib.crypto import envelope
from chalicelib.crypto.keyring import KeyRing, KeyServiceUnavailable, KeyUnavailable
from chalicelib.crypto.local_keyring import LocalKeyRing
from chalicelib.key_lifecycle import KeyLifecycle, Refused
from chalicelib.storage.base import Storage
from chalicelib.storage.memory import MemoryStorage
from tests.conftest import ADMIN_KEY, AppClient, make_settings, s3_endpoint, s3_storage
from tests.keyhelpers import hierarchy, seal_v1

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


@dataclass
class Store:
    client: AppClient
    storage: Storage
    keys: KeyLifecycle
    key_file: Path | None
    label: str
    kms: Any = None

    def put(self, db: str, values: dict[str, Any]) -> int:
        return int(self.client.http.put(f"/entity/{db}", body=json.dumps(values), headers=AUTH).status_code)

    def get(self, db: str, key: str) -> Any:
        return self.client.http.get(f"/entity/{db}?key={key}", headers=AUTH)

    def snapshot(self) -> dict[str, bytes]:
        return {k: self.storage.get(k).data for k in self.storage.list("")}

    def master(self) -> KeyRing:
        """The master as it now stands (what an attacker holding the keys' remains would have)."""
        if self.key_file is not None:
            return LocalKeyRing.from_file(self.key_file)
        return self.client.runtime.processing.keyring


@pytest.fixture(params=["fs", "moto", "moto-kms", "localstack-kms"])
def store(request: pytest.FixtureRequest, tmp_path: Path, s3_server_pool: Any, monkeypatch: Any) -> Iterator[Store]:
    kind = str(request.param)
    overrides: dict[str, Any] = {"key_cache_seconds": 0.5}
    storage: Storage | None = None
    kms = None
    if kind != "fs":
        endpoint = s3_endpoint(s3_server_pool, kind.split("-")[0])
        storage = s3_storage(endpoint)
        overrides["storage"] = "s3"
    if kind.endswith("-kms"):
        for var, value in {"AWS_ENDPOINT_URL_KMS": endpoint, "AWS_ACCESS_KEY_ID": "test",
                           "AWS_SECRET_ACCESS_KEY": "test"}.items():  # fmt: skip
            monkeypatch.setenv(var, value)
        kms = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1")
        overrides |= {"kms_key_id": kms.create_key()["KeyMetadata"]["Arn"], "kms_region": "us-east-1"}
    settings = make_settings(tmp_path, **overrides)
    secrets = provisioning.ensure(settings)
    runtime = Runtime(settings, storage=storage, strict_invoke=True)
    client = AppClient(runtime)
    yield Store(client, runtime.processing.storage, runtime.processing.key_lifecycle, secrets.key_file, kind, kms)
    client.__exit__(None, None, None)


def test_shred_leaves_nothing_decryptable_even_from_a_backup(store: Store) -> None:
    assert store.put("gone", {f"k{i}": {"secret": f"s{i}"} for i in range(3)}) == 200
    assert store.put("kept", {"a": {"v": 1}, "b": {"v": 2}}) == 200
    backup = store.snapshot()  # a copy of every object taken before the shred
    old_record = json.loads(backup["_keys/databases/gone.json"])
    seen_during: list[Any] = []

    def during(done: int, total: int | None) -> None:  # while the objects are being removed
        if not seen_during:
            got, put = store.get("gone", "k0"), store.client.http.put("/entity/gone", body='{"x":1}', headers=AUTH)
            listed = store.client.http.get("/api/schemas", headers=AUTH)
            seen_during.extend([got.status_code, json.loads(got.body), put.status_code, json.loads(listed.body)])

    result = store.keys.shred("gone", during)
    assert seen_during[0] == 410 and "shredded" in seen_during[1]["error"]
    assert seen_during[2] == 410 and seen_during[3] == ["kept"]
    assert result.objects_removed == 3 and result.warnings == [] and result.destroyed
    assert not [k for k in store.storage.list("") if "gone" in k]  # objects, record and tombstone gone

    # The attacker: the backup's bytes and the remaining keys.
    restored = MemoryStorage()
    for key, data in backup.items():
        restored.put(key, data)
    if store.kms is not None:  # the old KMS key is disabled and pending deletion
        state = store.kms.describe_key(KeyId=old_record["master"])["KeyMetadata"]["KeyState"]
        assert state == "PendingDeletion"
    if store.kms is None or "localstack" in store.label:  # (moto's Decrypt ignores a key's state; AWS's does not)
        attacker = hierarchy(store.master(), restored)
        for key in ("k0", "k1", "k2"):  # (KMS refuses a key pending deletion: KMSInvalidStateException)
            with pytest.raises((envelope.EnvelopeError, KeyServiceUnavailable)):
                envelope.open_(attacker, "gone", key, backup[f"files/gone/{key}"])
        with pytest.raises((KeyUnavailable, KeyServiceUnavailable)):
            store.master().decrypt_data_key(
                old_record["master"], base64.b64decode(old_record["wk"]), {"purpose": "deltadb-database", "db": "gone"}
            )

    # Other databases: untouched, readable through the API and from the current store.
    assert json.loads(store.get("kept", "a").body) == {"v": 1}
    current = hierarchy(store.master(), store.storage)
    assert envelope.open_(current, "kept", "b", store.storage.get("files/kept/b").data) == b'{"v":2}'
    # The name is free again, with a new database key.
    assert store.put("gone", {"k0": {"new": True}}) == 200
    assert json.loads(store.get("gone", "k0").body) == {"new": True}
    assert json.loads(store.storage.get("_keys/databases/gone.json").data)["id"] != old_record["id"]


def test_retire_is_refused_while_anything_needs_the_version_then_allowed(store: Store) -> None:
    assert store.put("db", {"a": {"v": 1}}) == 200
    first = store.keys.keys.active_key_id
    old_blob = seal_v1(store.keys.keys.master, "db", "legacy", b'{"v":"old"}')  # written before format 2
    store.storage.put("files/db/legacy", old_blob)
    assert json.loads(store.get("db", "legacy").body) == {"v": "old"}

    with pytest.raises(Refused, match="current"):
        store.keys.retire(first)
    with pytest.raises(Refused, match="no master key version"):
        store.keys.retire("local-0000000000000000")
    rotated = store.keys.rotate()
    assert rotated.previous == first and rotated.current != first and rotated.records_rewrapped == 1
    usage = store.keys.usage()
    assert usage.records == {rotated.current: 1} and usage.entities == {rotated.current: 1, first: 1}

    before = (store.snapshot(), store.key_file.read_bytes() if store.key_file else None)
    with pytest.raises(Refused, match="1 entities of format 1"):
        store.keys.retire(first)
    assert before == (store.snapshot(), store.key_file.read_bytes() if store.key_file else None)  # nothing changed

    keys = store.keys.keys
    new_blob = envelope.rewrap(keys, "db", "legacy", old_blob)  # what `deltadb rewrap` does per entity
    assert new_blob is not None
    store.storage.put("files/db/legacy", new_blob)
    store.keys.retire(first)
    assert {v.id: v.state for v in store.keys.versions.list()}[first] == "destroyed"
    with pytest.raises(Refused, match="already been retired"):
        store.keys.retire(first)
    store.client.runtime.processing.entity_handler.entities.cache.clear()
    assert json.loads(store.get("db", "legacy").body) == {"v": "old"}
    assert json.loads(store.get("db", "a").body) == {"v": 1}
    if store.kms is not None:
        assert store.kms.describe_key(KeyId=first)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    if store.kms is None or "localstack" in store.label:  # (moto's Decrypt ignores a key's state)
        with pytest.raises((envelope.EnvelopeError, KeyServiceUnavailable)):  # the old version's material is gone
            envelope.open_(hierarchy(store.master(), MemoryStorage()), "db", "legacy", old_blob)


def test_kms_rotation_creates_or_adopts_a_key_recorded_in_the_store(store: Store) -> None:
    if store.kms is None:
        pytest.skip("KMS only")
    assert store.put("db", {"a": {"v": 1}}) == 200
    first = store.keys.keys.active_key_id
    created = store.keys.rotate()  # CreateKey
    assert created.previous == first and created.records_rewrapped == 1
    meta = store.kms.describe_key(KeyId=created.current)["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta["KeySpec"] == "SYMMETRIC_DEFAULT"
    doc = json.loads(store.storage.get("_keys/master.json").data)
    assert doc["current"] == created.current
    assert [(v["id"], v["state"]) for v in doc["versions"]] == [(first, "enabled"), (created.current, "active")]
    assert b"Plaintext" not in store.storage.get("_keys/master.json").data

    adopted_arn = store.kms.create_key()["KeyMetadata"]["Arn"]
    adopted = store.keys.rotate(adopted_arn)  # --kms-new-key-id
    assert adopted.current == adopted_arn and adopted.previous == created.current
    with pytest.raises(Refused, match="already is the current"):
        store.keys.rotate(adopted_arn)
    with pytest.raises(Refused, match="NotFoundException"):
        store.keys.rotate("alias/deltadb-no-such-key")
    assert store.put("db2", {"b": {"v": 2}}) == 200  # the handler follows the record (same process, 1 s cache)
    masters = {r.db: r.master for r in store.keys.keys.databases.records()}
    assert masters == {"db": adopted_arn, "db2": adopted_arn}
    store.client.runtime.processing.entity_handler.entities.cache.clear()
    store.keys.keys.databases.forget("db")
    assert json.loads(store.get("db", "a").body) == {"v": 1}
    assert [v.id for v in store.keys.versions.list()] == [first, created.current, adopted_arn]
