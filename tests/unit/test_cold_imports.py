"""What ``import app`` (a Lambda cold start) must not load: each of these is loaded by the
builder or the first request that needs it. A regression here costs every cold start
tens of milliseconds (bench/coldstart.py measures the times; this guards the cause)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ADMIN = "cold-imports-admin-key-0123"
HEAVY = ("boto3", "botocore", "jsonschema", "jwt", "cryptography", "prometheus_client", "aws_lambda_powertools",
         "granian", "rich")  # fmt: skip


def loaded_after(code: str, tmp: Path) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DELTADB_", "AWS_"))}
    env.update({"DELTADB_DATA_DIR": str(tmp / "data"), "DELTADB_ADMIN_KEY": ADMIN})
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return list(json.loads(out.stdout.splitlines()[-1]))


def test_import_app_loads_none_of_the_heavy_packages(tmp_path: Path) -> None:
    assert loaded_after("import app", tmp_path) == []


EVENT = """
def event(path, token=None, method="GET", body=None):
    headers = {"authorization": "Bearer " + token} if token else {}
    return {"resource": path, "path": path, "httpMethod": method, "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()}, "queryStringParameters": None,
            "multiValueQueryStringParameters": None, "pathParameters": None, "stageVariables": None,
            "requestContext": {"resourcePath": path, "httpMethod": method, "path": path, "stage": "api",
                               "identity": {"sourceIp": "127.0.0.1"}},
            "body": body, "isBase64Encoded": False}
"""


def test_a_request_loads_only_what_it_needs(tmp_path: Path) -> None:
    """PyJWT only for session tokens; never jsonschema (until a schema) or boto3.

    cryptography is loaded here by the embedded default's first start, which makes the
    keyring; a Lambda routes function (role main) has none.
    """
    health = f"import app\n{EVENT}\nassert app.app(event('/health'), None)['statusCode'] == 200"
    assert set(loaded_after(health, tmp_path)) <= {"cryptography"}
    me = f"import app\n{EVENT}\nassert app.app(event('/api/me', '{ADMIN}'), None)['statusCode'] == 200"
    assert set(loaded_after(me, tmp_path)) <= {"cryptography"}
    login = (
        f"import app, json\n{EVENT}\n"
        f"r = app.app(event('/api/login', method='POST', body=json.dumps({{'key': '{ADMIN}'}})), None)\n"
        "token = json.loads(r['body'])['token']\n"
        "assert app.app(event('/api/me', token), None)['statusCode'] == 200"
    )
    assert set(loaded_after(login, tmp_path)) == {"jwt", "cryptography"}


def test_the_deployed_routes_function_loads_no_aws_sdk(tmp_path: Path) -> None:
    """Role main with the Lambda invoker (.chalice/config.json): Invoke calls go through the lean
    client (chalicelib/invoke/invoke_client.py), so neither boto3 nor botocore's signer is loaded."""
    lam = (
        "import os\nos.environ.update(AWS_LAMBDA_FUNCTION_NAME='deltadatabase-dev', DELTADB_ROLE='main',"
        " DELTADB_INVOKER='lambda', DELTADB_SESSION_SECRET='Y29sZHN0YXJ0LXNlc3Npb24tc2VjcmV0LTAxMjM0NTY3ODk=',"
        " AWS_ACCESS_KEY_ID='x', AWS_SECRET_ACCESS_KEY='y', AWS_REGION='eu-west-1')\n"
    )
    me = f"{lam}import app\n{EVENT}\nassert app.app(event('/api/me', '{ADMIN}'), None)['statusCode'] == 200"
    probe = f"{me}\nimport sys\nassert 'botocore.auth' not in sys.modules and 'botocore.session' not in sys.modules"
    # Lambda metrics (aws_lambda_powertools) import botocore's top package alone, for a user agent.
    assert set(loaded_after(probe, tmp_path)) == {"aws_lambda_powertools", "botocore"}
