"""compose-localstack.yml's services, run as processes with exactly its settings.

For the MinIO default and the LocalStack switch (compose-localstack.override.yml): the
main worker and the 3 processing workers start with the services' commands and
environments (read and interpolated by tests/deploy_files.py, which
tests/integration/test_container_artifacts.py checks against ``docker-compose config``)
on top of the image's ENV, with secrets made as deltadb.env.example says. Only what a
container network gives is replaced: addresses (``minio:9000`` / ``localstack:4566`` ->
one moto server that serves S3 and KMS; ``worker-N:9000`` and the listen addresses ->
free ports on 127.0.0.1) and the image's volumes (/data, /secrets -> temp folders).
The init service's work (bucket; KMS key alias/deltadb) is done with boto3. Then the
services' own health checks pass and a PUT/GET goes through the main worker.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests import s3servers
from tests.deploy_files import VARIANTS, compose_services, dockerfile_env, made_secrets
from tests.e2e.processes import free_port
from tests.e2e.servers import ADMIN_KEY, REPO_ROOT, SERVE_COMMAND

pytestmark = pytest.mark.e2e

IMAGE_ONLY = {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}  # the interpreter's, not ours
BUCKET = "deltadatabase"
START_TIMEOUT = 30.0


class Topology:
    """The four DeltaDatabase services of one compose variant, as local process groups."""

    def __init__(self, services: dict[str, dict[str, Any]], moto: str, tmp: Path) -> None:
        self.services = services
        self.tmp = tmp
        self.ports = {name: free_port() for name in services if name == "main" or name.startswith("worker-")}
        # container address -> local address
        self.addresses = {"minio:9000": moto, "localstack:4566": moto}
        self.addresses |= {f"{name}:9000": f"127.0.0.1:{port}" for name, port in self.ports.items() if name != "main"}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def local(self, value: str) -> str:
        value = re.sub(r"\b(minio|localstack|worker-\d+):(\d+)", lambda m: self.addresses[m[0]], value)
        return "127.0.0.1" if value == "0.0.0.0" else value

    def env(self, name: str) -> dict[str, str]:
        """The image's ENV, then the service's environment; a container's clean slate around it."""
        folder = self.tmp / name
        volumes = {"/data": str(folder / "data"), "/secrets": str(folder / "secrets")}
        image = {k: volumes.get(v, self.local(v)) for k, v in dockerfile_env().items() if k not in IMAGE_ONLY}
        service = {k: self.local(v) for k, v in self.services[name]["environment"].items()}
        (folder / "home").mkdir(parents=True)  # no ~/.aws, as in the image
        base = {"PATH": os.environ["PATH"], "HOME": str(folder / "home"), "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": str(REPO_ROOT)}  # fmt: skip
        return base | image | service

    def command(self, name: str) -> list[str]:
        args = [self.local(a) for a in self.services[name]["command"]]
        port = args.index("--port") + 1
        args[port] = str(self.ports[name])
        return [*SERVE_COMMAND, *args]

    def start(self, name: str) -> None:
        log = self.tmp / f"{name}.log"
        with open(log, "wb") as out:
            self.procs[name] = subprocess.Popen(
                self.command(name), env=self.env(name), cwd=self.tmp, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def healthy(self, name: str) -> bool:
        """The service's compose health check, run here against its local port."""
        test = self.services[name]["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"], test
        code = test[3].replace("9000", str(self.ports[name])).replace("8080", str(self.ports[name]))
        probe = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=10, check=False)
        return probe.returncode == 0

    def wait_healthy(self, names: list[str]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        waiting = list(names)
        while waiting and time.monotonic() < deadline:
            for name in list(waiting):
                if self.procs[name].poll() is not None:
                    pytest.fail(f"{name} exited ({self.procs[name].returncode}):\n{self.output(name)}")
                if self.healthy(name):
                    waiting.remove(name)
            time.sleep(0.2)
        assert not waiting, f"not healthy within {START_TIMEOUT}s: {waiting}\n" + "\n".join(
            self.output(n) for n in waiting
        )

    def output(self, name: str) -> str:
        return f"--- {name} ---\n" + (self.tmp / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for proc in self.procs.values():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
            deadline = time.monotonic() + 10
            for proc in self.procs.values():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(max(0.0, deadline - time.monotonic()))
            if all(p.returncode is not None for p in self.procs.values()):
                break

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.ports["main"], timeout=15)
        try:
            data = None if body is None else json.dumps(body)
            conn.request(method, path, body=data, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
        finally:
            conn.close()


@pytest.fixture
def moto() -> Iterator[s3servers.S3Server]:
    server = s3servers.start_moto()
    yield server
    server.stop()


def _init(moto: s3servers.S3Server, kms: bool) -> str | None:
    """What the init service does: the bucket; for LocalStack also the KMS key alias/deltadb."""
    aws = {"endpoint_url": moto.endpoint, "region_name": "us-east-1", "aws_access_key_id": "test",
           "aws_secret_access_key": "test"}  # fmt: skip
    boto3.client("s3", **aws).create_bucket(Bucket=BUCKET)
    if not kms:
        return None
    client = boto3.client("kms", **aws)
    arn = str(client.create_key()["KeyMetadata"]["Arn"])
    client.create_alias(AliasName="alias/deltadb", TargetKeyId=arn)
    return arn


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_the_compose_services_serve_a_round_trip(variant: str, moto: s3servers.S3Server, tmp_path: Path) -> None:
    services = compose_services(VARIANTS[variant], made_secrets(ADMIN_KEY))
    key_arn = _init(moto, kms=variant == "localstack")
    topology = Topology(services, moto.endpoint.removeprefix("http://"), tmp_path)
    workers = sorted(name for name in topology.ports if name != "main")
    assert workers == ["worker-1", "worker-2", "worker-3"]
    try:
        for name in workers:
            topology.start(name)
        topology.wait_healthy(workers)  # main depends_on: the workers healthy
        topology.start("main")
        topology.wait_healthy(["main"])

        marker = f"COMPOSE-{variant}-7f3a"
        assert topology.request("PUT", "/entity/compose", {"alice": {"note": marker}})[0] == 200
        assert topology.request("GET", "/entity/compose?key=alice") == (200, {"note": marker})
        status, listed = topology.request("GET", "/admin/workers")
        assert status == 200 and sorted(w["worker_id"] for w in listed) == workers
        if key_arn is not None:
            assert {w["key_id"] for w in listed} == {key_arn}  # the KEK is LocalStack's (here moto's) KMS key

        s3 = boto3.client("s3", endpoint_url=moto.endpoint, region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")  # fmt: skip
        objects = s3.list_objects_v2(Bucket=BUCKET, Prefix="files/")["Contents"]
        blob = s3.get_object(Bucket=BUCKET, Key=objects[0]["Key"])["Body"].read()
        assert marker.encode() not in blob  # encrypted at rest
        assert not (tmp_path / "main" / "secrets" / "keyring.json").exists()  # the main worker holds no key
        assert not any((tmp_path / w / "secrets" / "keyring.json").exists() for w in workers)  # env / KMS KEK only
    except BaseException:
        print("\n".join(topology.output(n) for n in topology.procs))
        raise
    finally:
        topology.stop()
