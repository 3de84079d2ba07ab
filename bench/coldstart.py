"""Cold start: `import app`, the first request of each Lambda function, and RSS after 10,000 requests.

Each figure is taken in a fresh Python process, the way a Lambda execution environment
meets it (the filesystem backend, so no network time is in the figures):

- ``import app``: ``python -X importtime -c "import app"``, the cumulative time of ``app``
  (median of ``--runs``), beside ``import boto3`` alone as a yardstick;
- first request: wall time from the process start (interpreter up) to the first
  answer, for the routes function (``GET /api/me`` with the admin key: route side only),
  ``entity_worker`` (``entity.put`` then ``entity.get``), ``meta_worker`` (``schema.get``),
  and the all-in-one embedded default (a PUT through the routes with the handlers in
  process);
- RSS: ``deltadb serve --processes 2`` after 10,000 requests (half PUT, half GET), the
  resident set of each server process from /proc.

    python bench/coldstart.py [--runs 5] [--requests 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ADMIN_KEY = "coldstart-admin-key-0123456789"

FIRST_REQUEST = r"""
import json, sys, time
t0 = time.perf_counter()
import app
from chalicelib.handlers.protocol import GetEntity, GetSchema, PutEntity
which = sys.argv[1]
def api(method, path, body=None):
    event = {"resource": path.split("?")[0], "path": path.split("?")[0], "httpMethod": method,
             "headers": {"authorization": "Bearer " + sys.argv[2], "content-type": "application/json"},
             "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
             "pathParameters": {"db": "cold"} if "{db}" in path else None, "stageVariables": None,
             "requestContext": {"resourcePath": path, "httpMethod": method, "path": path, "stage": "api",
                                "identity": {"sourceIp": "127.0.0.1"}},
             "body": json.dumps(body) if body is not None else None, "isBase64Encoded": False}
    return app.app(event, None)
if which == "routes":
    out = api("GET", "/api/me")
elif which == "inprocess":
    out = api("PUT", "/entity/{db}", {"k": {"v": 1}})
elif which == "entity_worker":
    out = app.entity_worker(PutEntity(db="cold", key="k", value='{"v": 1}').to_json(), None)
    out = app.entity_worker(GetEntity(db="cold", key="k").to_json(), None)
else:
    out = app.meta_worker(GetSchema(schema_id="cold").to_json(), None)
print(json.dumps({"import_ms": 0, "first_ms": (time.perf_counter() - t0) * 1000, "out": str(out)[:80]}))
"""


LAMBDA_ROUTES = {
    "AWS_LAMBDA_FUNCTION_NAME": "deltadatabase-dev", "DELTADB_ROLE": "main", "DELTADB_INVOKER": "lambda",
    "DELTADB_SESSION_SECRET": "Y29sZHN0YXJ0LXNlc3Npb24tc2VjcmV0LTAxMjM0NTY3ODk=",
    "AWS_ACCESS_KEY_ID": "coldstart", "AWS_SECRET_ACCESS_KEY": "coldstart", "AWS_DEFAULT_REGION": "us-east-1",
}  # fmt: skip


def env_for(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DELTADB_", "AWS_", "S3_"))}
    env.update({"DELTADB_DATA_DIR": str(data), "DELTADB_ADMIN_KEY": ADMIN_KEY, "PYTHONPATH": str(REPO), **extra})
    return env


def import_ms(statement: str, env: dict[str, str], module: str) -> float:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement], env=env, cwd=REPO, capture_output=True, text=True
    )
    for line in out.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s*(\S+)$", line)
        if m and m.group(2) == module:
            return int(m.group(1)) / 1000
    raise SystemExit(f"no import time for {module}: {out.stderr[-500:]}")


def first_request_ms(which: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", FIRST_REQUEST, which, ADMIN_KEY], env=env, cwd=REPO, capture_output=True, text=True
    )
    wall = (time.perf_counter() - started) * 1000
    if out.returncode != 0:
        raise SystemExit(f"{which}: {out.stderr[-800:]}")
    doc = json.loads(out.stdout.splitlines()[-1])
    if "error" in doc["out"] and "not found" not in doc["out"]:
        raise SystemExit(f"{which} answered an error: {doc['out']}")
    return float(doc["first_ms"]) if wall else 0.0


def rss_after(requests: int, data: Path) -> list[int]:
    port = 18000 + os.getpid() % 1000
    env = env_for(data)
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "deltadb"), "serve", "--processes", "2", "--port", str(port)],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/health", timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        headers = {"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"}
        doc = {"text": "x" * 1000}
        for i in range(requests // 2):
            body = json.dumps({f"k{i}": doc}).encode()
            urllib.request.urlopen(urllib.request.Request(base + "/entity/rss", body, headers, method="PUT")).read()
            urllib.request.urlopen(urllib.request.Request(f"{base}/entity/rss?key=k{i}", headers=headers)).read()
        children = subprocess.run(["pgrep", "-g", str(server.pid)], capture_output=True, text=True).stdout.split()
        sizes = []
        for pid in children:
            status = Path(f"/proc/{pid}/status").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            if int(pid) != server.pid and b"deltadb" in cmd:
                sizes.append(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) // 1024)  # type: ignore[union-attr]
        return sizes
    finally:
        os.killpg(server.pid, 15)
        server.wait(10)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--requests", type=int, default=10_000)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="coldstart-") as tmp:
        data = Path(tmp) / "data"
        env = env_for(data)
        first_request_ms("entity_worker", env)  # first start: keys and folders made once, not timed
        rows = {
            "import app": [import_ms("import app", env, "app") for _ in range(args.runs)],
            "import boto3 (yardstick)": [import_ms("import boto3", env, "boto3") for _ in range(args.runs)],
        }
        for which in ("routes", "entity_worker", "meta_worker", "inprocess"):
            rows[f"first request: {which}"] = [first_request_ms(which, env) for _ in range(args.runs)]
        # The routes function as deployed (.chalice/config.json): role main, the Lambda invoker,
        # whose boto3 client is made with the services. No invocation: GET /api/me has none.
        lambda_env = {**env, **LAMBDA_ROUTES}
        rows["first request: routes, Lambda shape"] = [first_request_ms("routes", lambda_env) for _ in range(args.runs)]
        print(f"{'what':34} {'median ms':>10} {'min':>8} {'max':>8}")
        for name, values in rows.items():
            print(f"{name:34} {statistics.median(values):10.1f} {min(values):8.1f} {max(values):8.1f}")
        sizes = rss_after(args.requests, Path(tmp) / "rss")
        print(f"RSS after {args.requests} requests, per server process (MB): {sizes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
