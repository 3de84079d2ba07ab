"""The packaged ``deployment.zip`` run as Lambda would run it, offline: the closest stand-in for a deployment.

``chalice package`` builds the bundle and the template exactly as for AWS (merged with
infra/template.json). The bundle, unzipped, runs in a fresh virtualenv holding only what
the Lambda runtime provides (boto3, at the pinned version), never the source tree or the
repo's venv. Each function gets the environment the template gives it, resolved to
resources made in moto (the bucket, the KMS key, the ``ApiSecrets`` secret as
GenerateSecretString would fill it), plus only what stands in for AWS itself (endpoints,
region, credentials). The API function is served as API Gateway's REST proxy integration;
its ``lambda.invoke`` calls reach the two worker functions through one local Invoke-API
endpoint. The API contract is then checked over HTTP.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import boto3
import pytest

from tests import s3servers

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
EMULATOR = Path(__file__).with_name("lambda_emulator.py")
REGION, ACCOUNT, PARTITION = "us-east-1", "123456789012", "aws"  # moto's default account
STACK = "deltadb-e2e"
ADMIN_KEY = "ak_e2e_" + secrets.token_urlsafe(24)
FUNCTIONS = ("APIHandler", "EntityWorker", "MetaWorker")
# Everything a function's environment holds beyond the template's variables: what stands in
# for AWS itself. The emulator sets what the Lambda runtime sets (AWS_LAMBDA_FUNCTION_NAME...).
AWS_STAND_IN = {
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL_SECRETS_MANAGER",
}  # fmt: skip
API_STAND_IN = AWS_STAND_IN | {"AWS_ENDPOINT_URL_LAMBDA"}  # the local Invoke-API router
START_TIMEOUT = 30.0
MOTO_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def free_port() -> int:
    return s3servers.free_port()


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def q(name: str) -> str:
    return quote(name, safe="")


# -- the template, resolved ----------------------------------------------------------------


def resolve(value: Any, names: dict[str, str]) -> str:
    """A template value with Ref / Fn::GetAtt / Fn::Sub replaced by ``names`` ("X", "X.Arn", "AWS::Region")."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return names[value["Ref"]]
    if "Fn::GetAtt" in value:
        return names[".".join(value["Fn::GetAtt"])]
    if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{([^}!]+)\}", lambda m: names[m[1]], value["Fn::Sub"])
    raise AssertionError(f"the test cannot resolve {value!r}")


def generated_secret(props: dict[str, Any], names: dict[str, str]) -> str:
    """What CloudFormation stores for a GenerateSecretString: the template plus a random key."""
    spec = props["GenerateSecretString"]
    doc = json.loads(resolve(spec["SecretStringTemplate"], names))
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
    doc[spec["GenerateStringKey"]] = "".join(secrets.choice(alphabet) for _ in range(spec.get("PasswordLength", 32)))
    return json.dumps(doc)


# -- the Invoke API endpoint of the two workers ----------------------------------------------


def start_router(targets: dict[str, int]) -> ThreadingHTTPServer:
    """One Invoke-API endpoint: ``/2015-03-31/functions/{name or ARN}/invocations`` -> that function's emulator."""

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            m = re.fullmatch(r"/2015-03-31/functions/([^/]+)/invocations", self.path.split("?")[0])
            port = targets.get(unquote(m[1])) if m else None
            if port is None:
                status, data = 404, json.dumps({"Type": "User", "message": "Function not found"}).encode()
                headers = {"x-amzn-ErrorType": "ResourceNotFoundException", "Content-Type": "application/json"}
            else:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                try:
                    forwarded = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    conn.request("POST", self.path, body, forwarded)
                    r = conn.getresponse()
                    status, data = r.status, r.read()
                    headers = {k: v for k, v in r.getheaders() if k.lower() not in {"content-length", "connection"}}
                finally:
                    conn.close()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Forward)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


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


def aws_resources(endpoint: str, template: dict[str, Any]) -> tuple[dict[str, str], str]:
    """Make in moto what the template makes; returns the names Ref/GetAtt/Sub resolve to, and the bucket."""
    aws = {"endpoint_url": endpoint, "region_name": REGION, **MOTO_CREDENTIALS}
    names = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": PARTITION, "AWS::StackName": STACK}
    # The stack's parameters: their defaults, and the one a deploy must give (docs/deploy.md).
    names |= {p: str(spec["Default"]) for p, spec in template.get("Parameters", {}).items() if "Default" in spec}
    names["AdminKeySha256"] = hashlib.sha256(ADMIN_KEY.encode()).hexdigest()
    bucket = f"{STACK}-databucket-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", **aws).create_bucket(Bucket=bucket)
    names |= {"DataBucket": bucket, "DataBucket.Arn": f"arn:aws:s3:::{bucket}"}
    key = boto3.client("kms", **aws).create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    names |= {"DataKey": key["KeyId"], "DataKey.Arn": key["Arn"]}
    for function in FUNCTIONS:
        name = f"{STACK}-{function}-{uuid.uuid4().hex[:8].upper()}"
        names |= {function: name, f"{function}.Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"}
    res = template["Resources"]
    secret_string = generated_secret(res["ApiSecrets"]["Properties"], names)
    secret = boto3.client("secretsmanager", **aws).create_secret(Name=f"{STACK}-ApiSecrets", SecretString=secret_string)
    names["ApiSecrets"] = secret["ARN"]  # Ref of AWS::SecretsManager::Secret is its ARN
    return names, bucket


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


@pytest.fixture(scope="module")
def deployed() -> Iterator[Deployment]:
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


# -- the environment ------------------------------------------------------------------------


def test_each_function_runs_with_the_templates_environment_and_nothing_else(deployed: Deployment) -> None:
    for function in FUNCTIONS:
        added = set(deployed.env[function]) - set(deployed.template_env[function])
        assert added == (API_STAND_IN if function == "APIHandler" else AWS_STAND_IN), function
        assert not {k for k in deployed.env[function] if k.startswith("AWS_")} & set(deployed.template_env[function])
    api, entity = deployed.template_env["APIHandler"], deployed.template_env["EntityWorker"]
    assert api["DELTADB_SECRETS_ID"] == deployed.names["ApiSecrets"]
    assert api["DELTADB_LAMBDA_FUNCTIONS"] == (
        f"entity_worker={deployed.names['EntityWorker']},meta_worker={deployed.names['MetaWorker']}"
    )
    assert entity["S3_BUCKET"] == deployed.bucket and entity["DELTADB_KMS_KEY_ID"] == deployed.names["DataKey.Arn"]
    assert deployed.template_env["MetaWorker"]["S3_BUCKET"] == deployed.bucket


def test_the_runtime_holds_boto3_only_so_the_app_comes_from_the_bundle(deployed: Deployment) -> None:
    probe = "import importlib.util as u; print([m for m in MODULES if u.find_spec(m)])"
    modules = ["boto3", "app", "chalicelib", "chalice", "cryptography", "jsonschema", "jwt", "aws_lambda_powertools"]
    out = subprocess.run([str(deployed.runtime_python), "-I", "-c", probe.replace("MODULES", repr(modules))],
                         cwd=tempfile.gettempdir(), capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert out.split() == ["['boto3']"]


# -- the API contract, through the packaged functions ---------------------------------------------


def test_health_is_public_and_detailed_for_admins(deployed: Deployment) -> None:
    r = deployed.request("GET", "/health")
    assert (r.status, r.json()) == (200, {"status": "ok"}), deployed.output()
    detail = deployed.admin("GET", "/health").json()
    assert detail["status"] in ("ok", "degraded") and "storage" in detail
    assert detail["status"] == "ok", detail  # the workers reach the bucket


def test_login_keys_and_permissions(deployed: Deployment) -> None:
    login = deployed.request("POST", "/api/login", {"key": ADMIN_KEY})
    assert login.status == 200, login
    token = login.json()["token"]
    assert deployed.request("PUT", "/entity/perm", {"k": {"v": 1}}, token=token).status == 200

    created = deployed.request("POST", "/api/keys", {"name": "reader", "permissions": ["read"]}, token=token)
    assert created.status == 201, created
    reader = created.json()["secret"]
    assert deployed.request("GET", "/entity/perm?key=k", token=reader).json() == {"v": 1}
    denied = deployed.request("PUT", "/entity/perm", {"k": {"v": 2}}, token=reader)
    assert denied.status == 403 and denied.error()
    session = deployed.request("POST", "/api/login", {"key": reader}).json()["token"]
    assert deployed.request("GET", "/entity/perm?key=k", token=session).status == 200

    for token_ in (None, "dk_not-a-key", "not.a.jwt"):
        r = deployed.request("GET", "/entity/perm?key=k", token=token_)
        assert r.status == 401 and r.error(), (token_, r)
    r = deployed.request("POST", "/api/login", {"key": "wrong-key-0123456789"})
    assert r.status == 401 and r.error()

    assert deployed.admin("DELETE", f"/api/keys/{q(created.json()['id'])}").json() == {"status": "ok"}
    for revoked in (reader, session):
        r = deployed.request("GET", "/entity/perm?key=k", token=revoked)
        assert r.status == 401 and r.error()


def test_entities_round_trip_exactly(deployed: Deployment) -> None:
    values = {
        "alice@example.com": {"name": "Alice", "tags": ["a", "b"], "n": 1.5, "big": 2**53, "none": None},
        "with space": {"text": '日本 ☃ "quoted" \\ back'},
        "100%": [1, 2, {"deep": {"er": True}}],
    }
    r = deployed.admin("PUT", "/entity/people", values)
    assert (r.status, r.json()) == (200, {"status": "ok"}), r
    for key, value in values.items():
        got = deployed.admin("GET", f"/entity/people?key={q(key)}")
        assert got.status == 200 and got.json() == value, (key, got)

    one = deployed.admin("PUT", "/entity/people", {"bob": {"v": 1}})
    etag = one.headers["etag"]
    got = deployed.admin("GET", "/entity/people?key=bob")
    assert got.headers["etag"] == etag
    assert deployed.admin("GET", "/entity/people?key=bob", headers={"If-None-Match": etag}).status == 304
    assert deployed.admin("PUT", "/entity/people", {"bob": {"v": 2}}, headers={"If-Match": etag}).status == 200
    assert deployed.admin("GET", "/entity/people?key=bob", headers={"If-None-Match": etag}).status == 200
    stale = deployed.admin("PUT", "/entity/people", {"bob": {"v": 3}}, headers={"If-Match": etag})
    assert stale.status == 412 and stale.error()

    assert deployed.admin("DELETE", "/entity/people?key=bob").json() == {"status": "ok"}
    gone = deployed.admin("GET", "/entity/people?key=bob")
    assert gone.status == 404 and gone.error()
    bad = deployed.admin("GET", f"/entity/people?key={q('a/b')}")
    assert bad.status == 400 and bad.error()
    encoded = deployed.admin("GET", "/entity/a%2Fb?key=x")  # a name is decoded once, by the route
    assert encoded.status == 400 and encoded.error()


def test_schemas(deployed: Deployment) -> None:
    schema = {"type": "object", "required": ["messages"], "properties": {"messages": {"type": "array"}}}
    assert deployed.admin("PUT", "/schema/chat", schema).json() == {"status": "ok"}
    assert deployed.request("GET", "/schema/chat").json() == schema
    assert "chat" in deployed.request("GET", "/admin/schemas").json()
    assert deployed.admin("PUT", "/entity/chat", {"s1": {"messages": []}}).status == 200
    violating = deployed.admin("PUT", "/entity/chat", {"s2": {"messages": "no"}})
    assert violating.status == 400 and violating.error()
    assert deployed.admin("GET", "/entity/chat?key=s2").status == 404  # nothing stored
    refused = deployed.admin("PUT", "/schema/bad", b"false")
    assert refused.status == 400 and refused.error()
    assert deployed.admin("DELETE", "/schema/chat").json() == {"status": "ok"}
    assert deployed.request("GET", "/schema/chat").status == 404
    assert deployed.admin("PUT", "/entity/chat", {"s2": {"messages": "no"}}).status == 200


def test_unknown_paths_and_methods_are_404_in_the_contracts_format(deployed: Deployment) -> None:
    for method, path in (("GET", "/nope"), ("GET", "/entity"), ("POST", "/entity/x/y"), ("PATCH", "/health")):
        r = deployed.admin(method, path)
        assert (r.status, r.json()) == (404, {"error": "not found"}), (method, path)


def test_the_console_is_served_from_the_bundle_as_text(deployed: Deployment) -> None:
    """The web console's files travel in the package and come back through the Lambda as plain text."""
    page = deployed.request("GET", "/", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status == 200 and page.body.startswith(b"<!doctype html>"), page
    script = deployed.request("GET", "/console/app.js", headers={"Accept": "*/*"})
    assert script.status == 200 and b"import" in script.body
    assert script.headers["x-content-type-options"] == "nosniff"
    missing = deployed.request("GET", "/console/nope.js")
    assert (missing.status, missing.json()) == (404, {"error": "not found"})


def test_asynchronous_put_completes(deployed: Deployment) -> None:
    values = {f"k{i}": {"i": i} for i in range(5)}
    r = deployed.admin("PUT", "/entity/async", values, headers={"Prefer": "respond-async"})
    assert r.status == 202, r
    op = r.json()
    assert op["status"] == "pending" and r.headers["location"] == f"/operations/{op['operation_id']}"
    deadline = time.monotonic() + 20
    while (doc := deployed.admin("GET", r.headers["location"]).json())["status"] == "pending":
        assert time.monotonic() < deadline, doc
        time.sleep(0.1)
    assert doc["status"] == "done", doc
    assert sorted(e["key"] for e in doc["entities"]) == sorted(values)
    for key, value in values.items():
        assert deployed.admin("GET", f"/entity/async?key={key}").json() == value


def test_no_plaintext_in_the_bucket(deployed: Deployment) -> None:
    marker = f"PLAINTEXT-CANARY-{uuid.uuid4().hex}"
    assert deployed.admin("PUT", "/entity/secretdb", {"canary": {"marker": marker}}).status == 200
    assert deployed.admin("GET", "/entity/secretdb?key=canary").json() == {"marker": marker}
    keys = [o["Key"] for page in deployed.s3.get_paginator("list_objects_v2").paginate(Bucket=deployed.bucket)
            for o in page.get("Contents", [])]  # fmt: skip
    assert any(k.startswith("files/secretdb/") for k in keys), keys
    for key in keys:
        data = deployed.s3.get_object(Bucket=deployed.bucket, Key=key)["Body"].read()
        assert marker.encode() not in data, key


def _emf_lines(log: Path, start: int) -> list[dict[str, Any]]:
    """The embedded-metric-format lines a function printed after byte ``start`` of its log."""
    with open(log, "rb") as f:
        f.seek(start)
        text = f.read().decode(errors="replace")
    docs = [json.loads(line) for line in text.splitlines() if line.startswith('{"_aws"')]
    return [d for d in docs if "CloudWatchMetrics" in d["_aws"]]


def _emf_sum(lines: list[dict[str, Any]], metric: str, **dims: str) -> float:
    out = 0.0
    for doc in lines:
        if metric in doc and all(doc.get(k) == v for k, v in dims.items()):
            value = doc[metric]
            out += sum(value) if isinstance(value, list) else value
    return out


def test_each_function_writes_its_figures_as_embedded_metric_format(deployed: Deployment) -> None:
    marks = {name: log.stat().st_size for name, log in deployed.logs.items()}
    key = f"emf-{uuid.uuid4().hex[:8]}"
    db = f"metricsdb-{uuid.uuid4().hex[:8]}"  # a new database: its first write also creates its key record
    assert deployed.admin("PUT", f"/entity/{db}", {key: {"v": 1}}).status == 200
    assert deployed.admin("GET", f"/entity/{db}?key={key}").status == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not _emf_lines(deployed.logs["EntityWorker"], marks["EntityWorker"]):
        time.sleep(0.05)
    api = _emf_lines(deployed.logs["APIHandler"], marks["APIHandler"])
    entity = _emf_lines(deployed.logs["EntityWorker"], marks["EntityWorker"])
    for doc in api + entity:
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "DeltaDatabase", doc
        assert db not in json.dumps(doc) and key not in json.dumps(doc), doc  # bounded dimensions
    assert _emf_sum(api, "http_requests", route="/entity/{db}", method="PUT", status="200") == 1, deployed.output()
    assert _emf_sum(api, "http_requests", route="/entity/{db}", method="GET", status="200") == 1
    assert _emf_sum(api, "handler_invocations", handler="entity_worker", action="entity.put", outcome="ok") == 1
    assert not _emf_sum(api, "storage_operations")  # the API function holds no storage
    # two objects written by the entity worker: the entity, and the new database's key record
    deployed.s3.head_object(Bucket=deployed.bucket, Key=f"_keys/databases/{db}.json")  # (raises if absent)
    assert _emf_sum(entity, "storage_operations", backend="s3", operation="put") == 2, deployed.output()
    assert _emf_sum(entity, "http_requests") == 0
