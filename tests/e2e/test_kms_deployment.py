"""`deltadb up` with its KEK in KMS and its entities in S3 (moto server mode serves both).

The workers hold the AWS credentials and wrap every data key with KMS; the main worker
gets neither credentials nor a keyring, and no local keyring is created at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests import s3servers
from tests.e2e.servers import ADMIN_KEY, ServerProcess

pytestmark = pytest.mark.e2e

AWS_ENV = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def moto() -> Iterator[s3servers.S3Server]:
    server = s3servers.start_moto()
    yield server
    server.stop()


def client(moto: s3servers.S3Server, service: str) -> object:
    return boto3.client(service, endpoint_url=moto.endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip


def test_up_with_kms_and_s3(moto: s3servers.S3Server, tmp_path: Path) -> None:
    kms = client(moto, "kms")
    arn = kms.create_key()["KeyMetadata"]["Arn"]  # type: ignore[attr-defined]
    alias = f"alias/deltadb-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=arn)  # type: ignore[attr-defined]
    bucket = f"kms-{uuid.uuid4().hex[:12]}"
    srv = ServerProcess(
        tmp_path / "data",
        command="up",
        workers=2,
        extra_args=("--kms-key-id", alias, "--s3-endpoint", moto.endpoint, "--s3-bucket", bucket, "--s3-create-bucket"),
        extra_env={**AWS_ENV, "AWS_ENDPOINT_URL_KMS": moto.endpoint},
    )
    try:
        srv.start()
        marker = "KMS-CANARY-41c9"
        assert srv.put("people", {"alice": {"secret": marker}}).status == 200
        assert srv.get("people", "alice").json() == {"secret": marker}
        listed = srv.admin("GET", "/admin/workers").json()
        assert [w["key_id"] for w in listed] == [arn, arn]  # the workers' KEK is the key's ARN

        s3 = client(moto, "s3")
        objects = s3.list_objects_v2(Bucket=bucket, Prefix="files/")["Contents"]  # type: ignore[attr-defined]
        (blob,) = [s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in objects]  # type: ignore[attr-defined]
        header = json.loads(blob[7 : 7 + int.from_bytes(blob[5:7], "big")])
        record = json.loads(s3.get_object(Bucket=bucket, Key="_keys/databases/people.json")["Body"].read())  # type: ignore[attr-defined]
        assert record["master"] == arn and header["dbk"] == record["id"] and marker.encode() not in blob
        assert not (srv.secrets_dir / "keyring.json").exists()  # no local KEK anywhere

        main_env = main_process_env(srv)
        assert "AWS_SECRET_ACCESS_KEY" not in main_env and "DELTADB_KMS_KEY_ID" not in main_env
        aws = {k: v for k, v in main_env.items() if k.startswith("AWS_")}
        assert aws == {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                       "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip
    finally:
        srv.cleanup()


def main_process_env(srv: ServerProcess) -> dict[str, str]:
    """The environment of the main worker: its top process (the child of `up` that is not a
    processing worker), which its HTTP processes inherit."""
    assert srv.proc is not None
    merged: dict[str, str] = {}
    found = 0
    for proc in Path("/proc").iterdir():
        try:
            status = (proc / "status").read_text()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
            ppid = int(status.split("PPid:")[1].split()[0])
            raw = (proc / "environ").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == srv.proc.pid and b"local.cli worker" not in cmdline:
            found += 1
            merged |= dict(i.split("=", 1) for i in raw.decode(errors="replace").split("\0") if "=" in i)
    assert found, "no HTTP process of the main worker found"
    return merged


def test_missing_kms_key_is_a_clear_start_up_error(moto: s3servers.S3Server, tmp_path: Path) -> None:
    deltadb = Path(sys.executable).parent / "deltadb"
    env = {"PATH": os.environ["PATH"], "DELTADB_ADMIN_KEY": ADMIN_KEY, "AWS_ENDPOINT_URL_KMS": moto.endpoint, **AWS_ENV}
    proc = subprocess.run(
        [str(deltadb), "serve", "--port", str(s3servers.free_port()), "--data-dir", str(tmp_path / "d"),
         "--kms-key-id", "alias/deltadb-no-such-key"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "KMS key not usable" in proc.stderr and "alias/deltadb-no-such-key" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
