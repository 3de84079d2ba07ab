"""`deltadb up --localstack`: the main worker and a processing worker find the LocalStack the
tests start through localstack-client's discovery (LOCALSTACK_HOST), with no S3 endpoint, no
KMS endpoint and no AWS credentials given; the entities land in LocalStack's S3, their data
keys wrapped by their database's key, itself wrapped by LocalStack's KMS."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib import localstack
from tests import s3servers
from tests.e2e.servers import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[s3servers.S3Server]:
    server = s3servers.start_localstack()
    yield server
    server.stop()


def client(server: s3servers.S3Server, service: str) -> Any:
    endpoint = localstack.endpoints({"LOCALSTACK_HOST": server.localstack_host})
    return boto3.client(service, endpoint_url=getattr(endpoint, service), region_name=localstack.REGION,
                        aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip


def test_up_with_the_localstack_switch(
    stack: s3servers.S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith(("AWS_", "S3_", "LOCALSTACK_", "EDGE_PORT"))]:
        monkeypatch.delenv(name)  # nothing but the switch and LOCALSTACK_HOST says where LocalStack is
    kms = client(stack, "kms")
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    alias = f"alias/deltadb-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=arn)
    bucket = f"ls-{uuid.uuid4().hex[:12]}"
    srv = ServerProcess(
        tmp_path / "data",
        command="up",
        workers=1,
        extra_args=("--localstack", "--kms-key-id", alias, "--s3-bucket", bucket, "--s3-create-bucket"),
        extra_env={"LOCALSTACK_HOST": stack.localstack_host},
    )
    try:
        srv.start()
        marker = "LS-CANARY-7f3e"
        assert srv.put("people", {"bob": {"secret": marker}}).status == 200
        assert srv.get("people", "bob").json() == {"secret": marker}
        s3 = client(stack, "s3")
        (obj,) = s3.list_objects_v2(Bucket=bucket, Prefix="files/")["Contents"]
        blob = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
        header = json.loads(blob[7 : 7 + int.from_bytes(blob[5:7], "big")])
        assert blob[4] == 2 and marker.encode() not in blob  # format 2: sealed under the database's key
        record = json.loads(s3.get_object(Bucket=bucket, Key="_keys/databases/people.json")["Body"].read())
        assert header["dbk"] == record["id"]
        assert record["master"] == arn  # the database key is wrapped by LocalStack's KMS key
        assert not (srv.secrets_dir / "keyring.json").exists()
    finally:
        srv.cleanup()
