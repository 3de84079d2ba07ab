"""Two `deltadb serve` processes on one bucket (moto server mode): never a stale read."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import s3servers
from tests.e2e.servers import ADMIN_KEY, ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def moto() -> Iterator[s3servers.S3Server]:
    server = s3servers.start_moto()
    yield server
    server.stop()


@pytest.fixture
def pair(moto: s3servers.S3Server, tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    bucket = f"shared-{uuid.uuid4().hex[:12]}"
    secrets = tmp_path / "shared-secrets"  # one keyring and session key for both instances
    args = (
        *("--s3-endpoint", moto.endpoint, "--s3-bucket", bucket, "--s3-create-bucket"),
        *("--s3-access-key", "test", "--s3-secret-key", "test", "--secrets-dir", str(secrets)),
    )
    a = ServerProcess(tmp_path / "a", extra_args=args)
    b = ServerProcess(tmp_path / "b", extra_args=args)
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        a.cleanup()
        b.cleanup()


def test_write_through_one_read_through_the_other(pair: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = pair
    for i in range(20):
        assert a.put("db", {"k": {"v": i}}).status == 200
        r = b.get("db", "k")
        assert r.status == 200 and r.json() == {"v": i}, r  # b's cache revalidates: never stale
        assert b.put("db", {"k": {"v": -i}}).status == 200
        assert a.get("db", "k").json() == {"v": -i}
    assert a.request("DELETE", "/entity/db?key=k", credential=ADMIN_KEY).status == 200
    assert b.get("db", "k").status == 404


def test_key_deletion_is_seen_by_the_other_instance_at_once(pair: tuple[ServerProcess, ServerProcess]) -> None:
    a, b = pair
    created = a.admin("POST", "/api/keys", {"name": "shared", "permissions": ["read", "write"]}).json()
    secret = created["secret"]
    token = b.request("POST", "/api/login", {"key": secret}).json()["token"]
    assert a.put("db", {"x": 1}, credential=token).status == 200  # a session from b works on a
    assert a.admin("DELETE", f"/api/keys/{created['id']}").status == 200
    assert b.get("db", "x", credential=secret).status == 401
    assert b.get("db", "x", credential=token).status == 401


def test_no_plaintext_in_the_bucket(pair: tuple[ServerProcess, ServerProcess], moto: s3servers.S3Server) -> None:
    a, _ = pair
    marker = "SHARED-BUCKET-CANARY-7Q"
    assert a.put("db", {"k": {"secret": marker}}).status == 200
    code = (
        "import boto3,sys;c=boto3.client('s3',endpoint_url=sys.argv[1],aws_access_key_id='t',"
        "aws_secret_access_key='t',region_name='us-east-1');"
        "print(sum(sys.argv[2].encode() in c.get_object(Bucket=b['Name'],Key=o['Key'])['Body'].read() "
        "for b in c.list_buckets()['Buckets'] for o in c.list_objects_v2(Bucket=b['Name']).get('Contents',[])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, moto.endpoint, marker], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "0"


@pytest.mark.parametrize("case", ["missing-bucket", "unreachable"])
def test_unusable_s3_is_a_clear_start_up_error(moto: s3servers.S3Server, tmp_path: Path, case: str) -> None:
    endpoint = moto.endpoint if case == "missing-bucket" else f"127.0.0.1:{s3servers.free_port()}"
    deltadb = Path(sys.executable).parent / "deltadb"
    proc = subprocess.run(
        [str(deltadb), "serve", "--port", str(s3servers.free_port()), "--data-dir", str(tmp_path / "d"),
         "--s3-endpoint", endpoint, "--s3-bucket", "no-such-bucket-x", "--s3-access-key", "t", "--s3-secret-key", "t"],
        capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "DELTADB_ADMIN_KEY": ADMIN_KEY},
    )  # fmt: skip
    assert proc.returncode == 2
    assert "S3 storage not usable" in proc.stderr
    assert ("does not exist" if case == "missing-bucket" else "unreachable") in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
