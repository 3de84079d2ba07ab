"""s3_bench's two sides: S3 clients (boto3 with botocore's defaults and with our adapter's
config; our adapter's lean client) and our server (`deltadb serve` on the same S3 server)
with a keep-alive HTTP client per thread."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.s3servers import free_port

DOC = "x" * 1000


def s3_client(endpoint: str) -> Any:
    """A client with our S3 adapter's own config (no checksums, no Expect: 100-continue)."""
    from chalicelib.storage.s3_client import S3Options
    from chalicelib.storage.s3_client import make_boto3_client as make_client

    return make_client(S3Options(endpoint=endpoint, access_key="test", secret_key="test"))


def lean_client(endpoint: str, bucket: str) -> Any:
    """Our adapter's lean client (chalicelib/storage/s3_lean.py), as make_client picks it for this endpoint."""
    from chalicelib.storage.s3_client import S3Options, make_client
    from chalicelib.storage.s3_lean import LeanS3

    client = make_client(S3Options(bucket=bucket, endpoint=endpoint, access_key="test", secret_key="test"), environ={})
    assert isinstance(client, LeanS3)
    return client


def default_client(endpoint: str) -> Any:
    """boto3's S3 client as a user writes it: botocore's defaults, nothing tuned."""
    import boto3

    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )


class Server:
    def __init__(self, endpoint: str, workers: int) -> None:
        self.port = free_port()
        self.admin_key = secrets.token_urlsafe(24)
        self.dir = Path(tempfile.mkdtemp(prefix="s3bench-"))
        env = {**os.environ, "DELTADB_ADMIN_KEY": self.admin_key, "S3_ACCESS_KEY": "test", "S3_SECRET_KEY": "test"}
        cmd = [
            str(Path(sys.executable).parent / "deltadb"), "serve", "--port", str(self.port),
            "--data-dir", str(self.dir / "data"), "--processes", str(workers), "--s3-endpoint", endpoint,
            "--s3-bucket", f"ours-{uuid.uuid4().hex[:10]}", "--s3-create-bucket", "--log-level", "WARNING",
        ]  # fmt: skip
        self.log = open(self.dir / "server.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError((self.dir / "server.log").read_text())

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(15)


class Ours:
    """A keep-alive HTTP client per thread for our server."""

    def __init__(self, server: Server, clients: int, credential: str = "admin") -> None:
        self.port = server.port
        self.conns = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=30) for _ in range(clients)]
        self.headers = {"Authorization": f"Bearer {server.admin_key}", "Content-Type": "application/json"}
        if credential == "apikey-session":  # a dk_ key's session, as applications use the API
            key = json.loads(self.call(0, "POST", "/api/keys", '{"name": "bench", "permissions": ["read", "write"]}'))
            token = json.loads(self.call(0, "POST", "/api/login", json.dumps({"key": key["secret"]})))["token"]
            self.headers["Authorization"] = f"Bearer {token}"

    def reconnect(self) -> None:
        """Fresh connections: the server closes a keep-alive connection left idle for 30 s (Granian's
        header read timeout), as the concurrent clients' are while the one-client rows run."""
        for conn in self.conns:
            conn.close()
        self.conns = [http.client.HTTPConnection("127.0.0.1", self.port, timeout=30) for _ in self.conns]

    def call(self, c: int, method: str, path: str, body: str | None = None) -> bytes:
        self.conns[c].request(method, path, body=body, headers=self.headers)
        r = self.conns[c].getresponse()
        data = r.read()
        if r.status not in (200, 201):
            raise RuntimeError(f"{method} {path}: {r.status} {data[:200]!r}")
        return data
