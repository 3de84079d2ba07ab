"""`chalice package` with infra/template.json: the AWS deployment, checked without AWS.

Builds the real CloudFormation/SAM template and Lambda bundle, validates the template
with cfn-lint, and checks what the deployment promises: each function's role allows
only what that function does, the routes hold no key and no storage access, secrets
come from NoEcho parameters, and API Gateway answers unknown paths 404 in the
contract's error format.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


STAGES = ["dev", "prod"]  # every stage in .chalice/config.json


def test_every_configured_stage_is_tested() -> None:
    assert sorted(json.loads((REPO / ".chalice" / "config.json").read_text())["stages"]) == sorted(STAGES)


@pytest.fixture(scope="module", params=STAGES)
def packaged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in ("app.py", "requirements.txt"):
        shutil.copy2(REPO / name, src / name)
    for name in ("chalicelib", ".chalice", "infra"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "deployments"))
    out = src / "out"
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    subprocess.run(
        [str(BIN / "chalice"), "package", "--stage", request.param, "--pkg-format", "cloudformation",
         "--merge-template", "infra/template.json", str(out)],
        cwd=src, env=env, check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return out


def resources(packaged: Path) -> dict[str, Any]:
    return dict(json.loads((packaged / "sam.json").read_text())["Resources"])


def statements(res: dict[str, Any], role: str) -> list[dict[str, Any]]:
    (policy,) = res[role]["Properties"]["Policies"]
    return list(policy["PolicyDocument"]["Statement"])


def actions(res: dict[str, Any], role: str) -> set[str]:
    return {a for st in statements(res, role) for a in st["Action"]}


def test_cfn_lint_accepts_the_template(packaged: Path) -> None:
    lint = subprocess.run([str(BIN / "cfn-lint"), str(packaged / "sam.json")], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_each_function_gets_only_what_it_does(packaged: Path) -> None:
    res = resources(packaged)
    logs = {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}
    assert actions(res, "ApiHandlerRole") == logs | {"lambda:InvokeFunction", "secretsmanager:GetSecretValue"}
    secret = [st for st in statements(res, "ApiHandlerRole") if st["Action"] == ["secretsmanager:GetSecretValue"]]
    assert secret[0]["Resource"] == {"Ref": "ApiSecrets"}  # its own secret, no other; no S3, no KMS
    invoke = [st for st in statements(res, "ApiHandlerRole") if st["Action"] == ["lambda:InvokeFunction"]]
    assert invoke[0]["Resource"] == [{"Fn::GetAtt": ["EntityWorker", "Arn"]}, {"Fn::GetAtt": ["MetaWorker", "Arn"]}]
    entity = logs | {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"}
    assert actions(res, "EntityWorkerRole") == entity | {"kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"}
    assert actions(res, "MetaWorkerRole") == entity  # schemas and key records: no key material

    def objects(role: str) -> dict[str, set[str]]:
        """object prefix -> the S3 actions allowed on it"""
        out: dict[str, set[str]] = {}
        for st in statements(res, role):
            for r in st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]:
                if isinstance(r, dict) and r.get("Fn::Sub", "").startswith("${DataBucket.Arn}/"):
                    out.setdefault(r["Fn::Sub"].removeprefix("${DataBucket.Arn}/"), set()).update(st["Action"])
        return out

    rwd = {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}
    assert objects("EntityWorkerRole") == {
        "files/*": rwd,
        "_ops/*": {"s3:GetObject", "s3:PutObject"},
        "_keys/databases/*": {"s3:GetObject", "s3:PutObject"},  # created on a database's first write
        "_keys/shredded/*": {"s3:GetObject"},  # shred tombstones (written by the operator's CLI)
        "_keys/master.json": {"s3:GetObject"},  # KMS master versions after a rotation
    }
    assert objects("MetaWorkerRole") == {"templates/*": rwd, "_auth/keys/*": rwd}
    for st in (st for role in ("ApiHandlerRole", "EntityWorkerRole", "MetaWorkerRole") for st in statements(res, role)):
        assert st["Resource"] != "*" and "*" not in "".join(st["Action"]), st
    assert all(r["Type"] != "AWS::IAM::Role" or r["Properties"].get("Policies") for r in res.values())


def test_functions_are_wired_as_main_and_workers(packaged: Path) -> None:
    res = resources(packaged)
    functions = ("APIHandler", "EntityWorker", "MetaWorker")
    env = {name: res[name]["Properties"]["Environment"]["Variables"] for name in functions}
    api = env["APIHandler"]
    assert api["DELTADB_ROLE"] == "main" and api["DELTADB_INVOKER"] == "lambda"
    assert api["DELTADB_LAMBDA_FUNCTIONS"] == {"Fn::Sub": "entity_worker=${EntityWorker},meta_worker=${MetaWorker}"}
    assert api["DELTADB_SECRETS_ID"] == {"Ref": "ApiSecrets"} and "DELTADB_KMS_KEY_ID" not in api
    # No secret in any function's environment (readable with lambda:GetFunctionConfiguration).
    assert not {"DELTADB_SESSION_SECRET", "DELTADB_ADMIN_KEY_SHA256", "DELTADB_ADMIN_KEY"} & set(api)
    assert env["EntityWorker"]["DELTADB_KMS_KEY_ID"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
    for worker in ("EntityWorker", "MetaWorker"):
        assert env[worker]["DELTADB_ROLE"] == "worker" and "DELTADB_SESSION_SECRET" not in env[worker]
    params = json.loads((packaged / "sam.json").read_text())["Parameters"]
    assert params["AdminKeySha256"]["NoEcho"] and "SessionSecret" not in params  # generated into ApiSecrets
    generated = res["ApiSecrets"]["Properties"]["GenerateSecretString"]
    assert generated["GenerateStringKey"] == "session_secret" and generated["PasswordLength"] >= 32
    assert res["DataKey"]["Properties"]["EnableKeyRotation"] is True
    assert res["DataBucket"]["DeletionPolicy"] == "Retain" and res["DataKey"]["DeletionPolicy"] == "Retain"
    handlers = [res[n]["Properties"]["Handler"] for n in functions]
    assert handlers == ["app.app", "app.entity_worker", "app.meta_worker"]


def test_api_gateway_errors_follow_the_contract(packaged: Path) -> None:
    body = resources(packaged)["RestAPI"]["Properties"]["DefinitionBody"]
    responses = body["x-amazon-apigateway-gateway-responses"]
    missing = responses["MISSING_AUTHENTICATION_TOKEN"]  # API Gateway's answer for an unknown path
    assert missing["statusCode"] == "404"  # a string, as API Gateway documents it
    assert json.loads(missing["responseTemplates"]["application/json"]) == {"error": "not found"}
    assert {"DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)
    assert {"/health", "/entity/{db}", "/api/login", "/schema/{schema_id}"} <= set(body["paths"])


def test_the_bundle_holds_the_app_and_its_runtime_dependencies(packaged: Path) -> None:
    names = zipfile.ZipFile(packaged / "deployment.zip").namelist()
    assert "app.py" in names and "chalicelib/crypto/kms_keyring.py" in names
    assert any(n.startswith("cryptography/") for n in names) and any(n.startswith("jsonschema/") for n in names)
    assert not any(n.startswith(("tests/", "local/", "bench/", ".venv")) for n in names)


def test_api_gateway_serves_the_console_as_text(packaged: Path) -> None:
    """The console's routes are in the deployed API, its files in the bundle, and none of their
    types is a binary media type: API Gateway passes the Lambda's text bodies through as they are."""
    from chalicelib.console_assets import ASSETS

    body = resources(packaged)["RestAPI"]["Properties"]["DefinitionBody"]
    assert {"/", "/console/{asset}"} <= set(body["paths"])
    binary = set(body.get("x-amazon-apigateway-binary-media-types", []))
    assert "*/*" not in binary
    assert not {t.split(";")[0] for t in ASSETS.values()} & binary
    names = set(zipfile.ZipFile(packaged / "deployment.zip").namelist())
    assert {f"chalicelib/console/{name}" for name in ASSETS} <= names


def test_the_bucket_expires_operations(packaged: Path) -> None:
    """Asynchronous operations (``_ops/``) are removed by S3 after OperationRetentionDays; nothing else is."""
    (rule,) = resources(packaged)["DataBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule == {
        "Id": "ExpireOperations",
        "Status": "Enabled",
        "Prefix": "_ops/",
        "ExpirationInDays": {"Ref": "OperationRetentionDays"},
    }
    param = json.loads((packaged / "sam.json").read_text())["Parameters"]["OperationRetentionDays"]
    assert param["Type"] == "Number" and param["Default"] == 7 and param["MinValue"] >= 1
    worker_env = resources(packaged)["EntityWorker"]["Properties"]["Environment"]["Variables"]
    assert worker_env["DELTADB_OPERATION_RETENTION"] == {"Fn::Sub": "${OperationRetentionDays}d"}  # the same days
