"""The packaged ``deployment.zip`` run as Lambda would run it, offline: the closest stand-in for a deployment.

What each packaged function's environment holds, that the runtime holds boto3 only, then
the API contract checked over HTTP through the packaged functions (health, login and keys,
entities, schemas, the console, asynchronous writes, no plaintext in the bucket, metrics).
How the deployment is built: tests/e2e/bundle_fixtures.py (one build for this module).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.bundle_fixtures import (
    API_STAND_IN,
    AWS_STAND_IN,
    Deployment,
    deployed_bundle,  # noqa: F401  (provides the ``deployed`` fixture)
)
from tests.e2e.bundle_template import ADMIN_KEY, FUNCTIONS

pytestmark = pytest.mark.e2e


def q(name: str) -> str:
    return quote(name, safe="")


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
