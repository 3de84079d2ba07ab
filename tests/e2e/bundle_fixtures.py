"""The ``deployed`` fixture: the packaged ``deployment.zip`` running as Lambda would run it, offline.

``chalice package`` builds the bundle and the template exactly as for AWS (merged with
infra/template.json). The bundle, unzipped, runs in a fresh virtualenv holding only what
the Lambda runtime provides (boto3, at the pinned version), never the source tree or the
repo's venv. Each function gets the environment the template gives it, resolved to
resources made in moto (tests/e2e/bundle_template.py), plus only what stands in for AWS
itself (endpoints, region, credentials). The API function is served as API Gateway's REST
proxy integration; its ``lambda.invoke`` calls reach the two worker functions through one
local Invoke-API endpoint (tests/e2e/invoke_router.py).

Test modules import the fixture (``from tests.e2e.bundle_fixtures import deployed_bundle``); it is
module-scoped, so every module importing it builds its own deployment (minutes): keep the
bundle's tests in one module.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests import s3servers
from tests.e2e.bundle_template import ADMIN_KEY, FUNCTIONS, MOTO_CREDENTIALS, REGION, aws_resources, resolve
from tests.e2e.invoke_router import start_router

REPO = Path(__file__).resolve().parents[2]
EMULATOR = Path(__file__).with_name("lambda_emulator.py")
# Everything a function's environment holds beyond the template's variables: what stands in
# for AWS itself. The emulator sets what the Lambda runtime sets (AWS_LAMBDA_FUNCTION_NAME...).
AWS_STAND_IN = {
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL_SECRETS_MANAGER",
}  # fmt: skip
API_STAND_IN = AWS_STAND_IN | {"AWS_ENDPOINT_URL_LAMBDA"}  # the local Invoke-API router
START_TIMEOUT = 30.0


def free_port() -> int:
    return s3servers.free_port()


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


# -- the deployment ---------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def error(self) -> str:
        """The contract's error body ``{"error": "<message>"}``."""
        doc = self.json()
        assert isinstance(doc, dict) and set(doc) == {"error"} and isinstance(doc["error"], str), (self.status, doc)
        return doc["error"]


@dataclass
class Deployment:
    port: int
    bucket: str
    s3: Any
    env: dict[str, dict[str, str]]  # function -> the environment its process was started with (/proc)
    template_env: dict[str, dict[str, str]]  # function -> the template's variables, resolved
    names: dict[str, str]
    runtime_python: Path  # the fresh venv's interpreter: the Lambda runtime stand-in
    logs: dict[str, Path] = field(default_factory=dict)

    def request(self, method: str, path: str, body: Any = None, *, token: str | None = None,
                headers: dict[str, str] | None = None) -> Reply:  # fmt: skip
        h = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, data, h)
            r = conn.getresponse()
            return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def admin(self, method: str, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request(method, path, body, token=ADMIN_KEY, **kw)

    def output(self) -> str:
        tails = (f"--- {name} ---\n{log.read_text(errors='replace')[-4000:]}" for name, log in self.logs.items())
        return "\n".join(tails)


def run(cmd: list[str], **kw: Any) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert done.returncode == 0, f"{cmd[:3]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def package(work: Path) -> Path:
    src = work / "src"
    src.mkdir()
    for name in ("app.py", "requirements.txt"):
        shutil.copy2(REPO / name, src / name)
    for name in ("chalicelib", ".chalice", "infra"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "deployments"))
    out = work / "out"
    chalice = Path(sys.executable).with_name("chalice")
    run(
        [str(chalice), "package", "--stage", "dev", "--pkg-format", "cloudformation",
         "--merge-template", "infra/template.json", str(out)],
        cwd=src, env={**os.environ, "AWS_DEFAULT_REGION": REGION}, timeout=600,
    )  # fmt: skip
    return out


def lambda_runtime_venv(work: Path) -> Path:
    """A fresh virtualenv with only boto3 (and its dependencies) at the pinned version: the Lambda runtime."""
    venv = work / "runtime"
    run([sys.executable, "-m", "venv", str(venv)], timeout=120)
    python = venv / "bin" / "python"
    run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "-c", str(REPO / "constraints.txt"), "boto3"],
        timeout=300,
    )  # fmt: skip
    return python


class Function:
    """One function of the bundle, served by lambda_emulator.py in the runtime venv."""

    def __init__(self, python: Path, bundle: Path, props: dict[str, Any], name: str, env: dict[str, str],
                 log: Path) -> None:  # fmt: skip
        self.port, self.name, self.log = free_port(), name, log
        cmd = [
            str(python), "-I", "-u", str(EMULATOR), "--task-root", str(bundle), "--handler", props["Handler"],
            "--function-name", name, "--port", str(self.port),
            "--memory", str(props.get("MemorySize", 128)), "--timeout", str(props.get("Timeout", 3)),
        ]  # fmt: skip
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def started_env(self) -> dict[str, str]:
        """The environment the process really started with (as the kernel holds it)."""
        raw = Path(f"/proc/{self.proc.pid}/environ").read_bytes()
        return dict(item.split("=", 1) for item in raw.decode().split("\0") if item)

    def wait(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{self.name} did not start:\n{self.log.read_text(errors='replace')}", pytrace=False)
            time.sleep(0.05)

    def stop(self) -> None:
        s3servers.stop_group(self.proc)


# Named apart from its fixture name so that modules importing it do not shadow the import (ruff F811).
@pytest.fixture(scope="module", name="deployed")
def deployed_bundle() -> Iterator[Deployment]:
    work = Path(tempfile.mkdtemp(prefix="deltadb-bundle-"))
    functions: list[Function] = []
    moto: s3servers.S3Server | None = None
    router: ThreadingHTTPServer | None = None
    try:
        out = package(work)
        bundle = work / "bundle"
        with zipfile.ZipFile(out / "deployment.zip") as z:
            z.extractall(bundle)
        python = lambda_runtime_venv(work)
        moto = s3servers.start_moto()
        template = json.loads((out / "sam.json").read_text())
        names, bucket = aws_resources(moto.endpoint, template)
        res = template["Resources"]
        template_env = {
            f: {k: resolve(v, names) for k, v in res[f]["Properties"]["Environment"]["Variables"].items()}
            for f in FUNCTIONS
        }
        aws = {
            "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_ENDPOINT_URL_S3": moto.endpoint, "AWS_ENDPOINT_URL_KMS": moto.endpoint,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto.endpoint,
        }  # fmt: skip
        env = {f: {**template_env[f], **aws} for f in FUNCTIONS}
        logs = {f: work / f"{f}.log" for f in FUNCTIONS}
        workers = {f: Function(python, bundle, res[f]["Properties"], names[f], env[f], logs[f]) for f in FUNCTIONS[1:]}
        functions += workers.values()
        targets = {key: w.port for f, w in workers.items() for key in (names[f], names[f"{f}.Arn"])}
        router = start_router(targets)
        env["APIHandler"]["AWS_ENDPOINT_URL_LAMBDA"] = f"http://127.0.0.1:{router.server_address[1]}"
        api = Function(python, bundle, res["APIHandler"]["Properties"], names["APIHandler"], env["APIHandler"],
                       logs["APIHandler"])  # fmt: skip
        functions.append(api)
        for function in functions:
            function.wait()
        s3 = boto3.client("s3", endpoint_url=moto.endpoint, region_name=REGION, **MOTO_CREDENTIALS)
        started = {f: w.started_env() for f, w in workers.items()} | {"APIHandler": api.started_env()}
        deployment = Deployment(api.port, bucket, s3, started, template_env, names, python, logs)
        yield deployment
        print(deployment.output())  # shown by pytest when a test failed
    finally:
        for function in functions:
            function.stop()
        if router is not None:
            router.shutdown()
            router.server_close()
        if moto is not None:
            moto.stop()
            shutil.rmtree(moto.log.parent, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
