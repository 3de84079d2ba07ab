"""The KMS keyring against real KMS endpoints over HTTP (moto server mode, LocalStack).

Round trips, the encryption context and key pinning enforced by KMS, alias rotation
keeping old entities readable, a disabled or unreachable KMS answered 503 with nothing
stored, and the whole API with its KEK in KMS.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config

from chalicelib.crypto import envelope
from chalicelib.crypto.keyring import KeyUnavailable
from chalicelib.crypto.kms_keyring import KmsKeyRing, KmsUnavailable
from chalicelib.storage.memory import MemoryStorage
from tests.conftest import ADMIN_KEY, s3_endpoint
from tests.keyhelpers import hierarchy

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
CONTEXT = {"purpose": "deltadb-entity", "db": "people"}


@pytest.fixture(params=["moto", "localstack"])
def kms(request: pytest.FixtureRequest, s3_server_pool: Any) -> Any:
    endpoint = s3_endpoint(s3_server_pool, str(request.param))  # both servers also serve KMS
    return boto3.client(
        "kms", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def new_key(kms: Any) -> str:
    return str(kms.create_key(Description="deltadb test")["KeyMetadata"]["Arn"])


def key_id(arn: str) -> str:
    return arn.rsplit("/", 1)[1]  # moto (DisableKey) and LocalStack (UpdateAlias) want the bare id


def new_alias(kms: Any, key_arn: str) -> str:
    alias = f"alias/deltadb-{uuid.uuid4().hex[:12]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_arn)
    return alias


def test_data_keys_round_trip_and_record_the_key_arn(kms: Any) -> None:
    arn = new_key(kms)
    ring = KmsKeyRing(kms, new_alias(kms, arn))
    assert ring.check() is None
    dk = ring.generate_data_key(CONTEXT)
    assert len(dk.plaintext) == 32 and dk.key_id == arn and dk.wrapped != dk.plaintext
    assert ring.active_key_id == arn
    assert ring.decrypt_data_key(dk.key_id, dk.wrapped, CONTEXT) == dk.plaintext
    assert ring.generate_data_key(CONTEXT).plaintext != dk.plaintext  # a fresh key each time


def test_kms_enforces_the_context_and_the_key(kms: Any) -> None:
    ring = KmsKeyRing(kms, new_key(kms))
    dk = ring.generate_data_key(CONTEXT)
    with pytest.raises(KeyUnavailable):
        ring.decrypt_data_key(dk.key_id, dk.wrapped, {**CONTEXT, "db": "other"})
    # Pinned to the recorded key. AWS answers IncorrectKeyException, moto AccessDenied (a 503).
    with pytest.raises((KeyUnavailable, KmsUnavailable)):
        ring.decrypt_data_key(new_key(kms), dk.wrapped, CONTEXT)
    with pytest.raises(KeyUnavailable):
        ring.decrypt_data_key(dk.key_id, dk.wrapped[:-1] + bytes([dk.wrapped[-1] ^ 1]), CONTEXT)


def test_sealed_entities_survive_moving_the_alias_to_a_new_key(kms: Any) -> None:
    old = new_key(kms)
    alias = new_alias(kms, old)
    ring = KmsKeyRing(kms, alias)
    keys = hierarchy(ring)
    blob = envelope.seal(keys, "people", "alice", b'{"v":1}')
    new = new_key(kms)
    kms.update_alias(AliasName=alias, TargetKeyId=key_id(new))
    blob2 = envelope.seal(keys, "pets", "bob", b'{"v":2}')
    assert envelope.master_key_id(keys, "people", blob) == old  # the record names the key that wraps it
    assert envelope.master_key_id(keys, "pets", blob2) == new  # a new database key: under the alias's new key
    assert envelope.open_(keys, "people", "alice", blob) == b'{"v":1}'
    assert envelope.open_(keys, "pets", "bob", blob2) == b'{"v":2}'
    with pytest.raises(envelope.EnvelopeError):
        envelope.open_(keys, "people", "mallory", blob)  # moved to another entity


def test_a_disabled_or_missing_key_is_reported_at_start(kms: Any) -> None:
    arn = new_key(kms)
    kms.disable_key(KeyId=key_id(arn))
    problem = KmsKeyRing(kms, arn).check()
    assert problem is not None and "Disabled" in problem, problem
    problem = KmsKeyRing(kms, "alias/deltadb-does-not-exist").check()
    assert problem is not None and "NotFoundException" in problem, problem


def dead_kms() -> KmsKeyRing:
    client = boto3.client(
        "kms",
        endpoint_url="http://127.0.0.1:9",  # nothing listens on the discard port
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 2}, connect_timeout=1),
    )
    return KmsKeyRing(client, "alias/any")


def test_debug_logging_never_shows_data_keys(kms: Any, caplog: pytest.LogCaptureFixture) -> None:
    from chalicelib.config import Settings
    from chalicelib.logs import setup_logging

    setup_logging(Settings(log_level="DEBUG"))
    caplog.set_level(logging.DEBUG)
    dk = KmsKeyRing(kms, new_key(kms)).generate_data_key(CONTEXT)
    logging.getLogger("deltadb.test").debug("capture works")
    assert "capture works" in caplog.text
    assert base64.b64encode(dk.plaintext).decode() not in caplog.text


@pytest.fixture
def api_on(app_client: Any) -> Any:
    return lambda ring, store: app_client(store=store, keyring=ring, strict_invoke=True)


def test_the_api_with_its_kek_in_kms(kms: Any, api_on: Any) -> None:
    arn = new_key(kms)
    store = MemoryStorage()
    client = api_on(KmsKeyRing(kms, arn), store)
    doc = {"name": "Alice", "secret": "plaintext-marker-7f3a"}
    assert client.http.put("/entity/people", body=json.dumps({"alice": doc}), headers=AUTH).status_code == 200
    (stored,) = store.list("files/")
    blob = store.get(stored).data
    assert b"plaintext-marker-7f3a" not in blob
    assert json.loads(store.get("_keys/databases/people.json").data)["master"] == arn  # the database key's KEK
    entities = client.runtime.processing.entity_handler.entities
    entities.cache.clear()
    entities.keyring.databases.forget("people")  # a cold read goes to KMS
    got = client.http.get("/entity/people?key=alice", headers=AUTH)
    assert got.status_code == 200 and json.loads(got.body) == doc

    # KMS out of reach: a PUT is 503 and leaves the stored value alone; so is a cold GET.
    client = api_on(dead_kms(), store)
    put = client.http.put("/entity/people", body=json.dumps({"alice": {"name": "Eve"}}), headers=AUTH)
    assert put.status_code == 503 and json.loads(put.body) == {"error": "key service unavailable"}
    assert store.get(stored).data == blob
    get = client.http.get("/entity/people?key=alice", headers=AUTH)
    assert get.status_code == 503 and json.loads(get.body) == {"error": "key service unavailable"}
    client = api_on(KmsKeyRing(kms, arn), store)
    assert json.loads(client.http.get("/entity/people?key=alice", headers=AUTH).body) == doc


def test_unreachable_kms_stores_nothing(api_on: Any) -> None:
    store = MemoryStorage()
    client = api_on(dead_kms(), store)
    put = client.http.put("/entity/people", body=json.dumps({"bob": {"v": 1}}), headers=AUTH)
    assert put.status_code == 503, put.body
    assert list(store.list("files/")) == []
