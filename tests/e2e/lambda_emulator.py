"""Serve one function of an unzipped Lambda bundle over HTTP, the way AWS would call it.

Runs INSIDE a virtualenv holding only what the Lambda runtime provides (boto3), with the
bundle first on sys.path; it imports nothing but the bundle, the standard library and boto3.

    python -I lambda_emulator.py --task-root DIR --handler app.app --function-name NAME \
        --port PORT [--memory 512] [--timeout 30]

- A Chalice app handler (it has ``routes``) is served as API Gateway's REST proxy
  integration: HTTP request -> the documented proxy event -> ``handler(event, context)``
  -> HTTP response; a path no route matches -> 404 ``{"error": "not found"}`` (the gateway
  response the template configures).
- Any other handler is served as the Lambda Invoke API,
  ``POST /2015-03-31/functions/{name}/invocations``: RequestResponse -> 200 and the JSON
  result; ``X-Amz-Invocation-Type: Event`` -> 202, run in the background.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import os
import re
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

INVOKE_PATH = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")
Headers = dict[str, str] | list[tuple[str, str]] | None
NOT_FOUND = {"error": "not found"}


class Context:
    """The Lambda context object (the attributes the Python runtime documents)."""

    def __init__(self, function_name: str, memory: int, timeout: float) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = function_name
        self.function_version = "$LATEST"
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{function_name}"
        self.memory_limit_in_mb = memory
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "emulator"
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Routes:
    """API Gateway's resource matching over ``app.routes``: static paths win over {params}."""

    def __init__(self, routes: dict[str, dict[str, Any]]) -> None:
        self.methods = {resource: set(methods) for resource, methods in routes.items()}
        self.resources = sorted(routes, key=lambda r: ("{" in r, r))

    def match(self, path: str) -> tuple[str, dict[str, str] | None] | None:
        if path != "/" and path.endswith("/"):
            path = path[:-1]  # one trailing slash is ignored
        parts = path.split("/")
        for resource in self.resources:
            segments = resource.split("/")
            if len(segments) != len(parts):
                continue
            params: dict[str, str] = {}
            for seg, part in zip(segments, parts, strict=True):
                if seg.startswith("{") and part:
                    params[seg[1:-1]] = part  # still percent-encoded, as the raw path had it
                elif seg != part:
                    break
            else:
                return resource, params or None
        return None


def proxy_event(method: str, target: str, headers: list[tuple[str, str]], body: bytes, resource: str,
                params: dict[str, str] | None, stage: str) -> dict[str, Any]:  # fmt: skip
    """The REST API (v1) proxy event, as documented for the Lambda proxy integration."""
    url = urlsplit(target)
    query = parse_qs(url.query, keep_blank_values=True) or None
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        multi.setdefault(name, []).append(value)
    try:
        text, encoded = body.decode(), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    return {
        "resource": resource,
        "path": url.path,
        "httpMethod": method,
        "headers": {k: v[-1] for k, v in multi.items()} or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} if query else None,
        "multiValueQueryStringParameters": query,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/{stage}{url.path}",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": text if body else None,
        "isBase64Encoded": encoded,
    }


def make_server(handler: Any, function_name: str, memory: int, timeout: float, port: int) -> ThreadingHTTPServer:
    routes = Routes(handler.routes) if hasattr(handler, "routes") else None
    one_at_a_time = threading.Lock()  # one Lambda instance runs one event at a time (Chalice relies on it)

    def run(event: Any) -> Any:
        return handler(event, Context(function_name, memory, timeout))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as boto3 and clients expect
        disable_nagle_algorithm = True  # headers and body leave in separate writes

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def reply(self, status: int, body: bytes, headers: Headers = None) -> None:
            self.send_response(status)
            for name, value in headers.items() if isinstance(headers, dict) else headers or []:
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def gateway(self) -> None:
            assert routes is not None
            body = self.body()
            matched = routes.match(urlsplit(self.path).path)
            if matched is None or self.command not in routes.methods[matched[0]]:  # API Gateway: no such resource
                return self.reply(404, json.dumps(NOT_FOUND).encode(), {"Content-Type": "application/json"})
            event = proxy_event(self.command, self.path, list(self.headers.items()), body, *matched, stage="api")
            with one_at_a_time:
                response = run(event)
            data = response.get("body") or ""
            raw = base64.b64decode(data) if response.get("isBase64Encoded") else data.encode()
            headers = [(k, v) for k, vs in (response.get("multiValueHeaders") or {}).items() for v in vs]
            headers += [(k, v) for k, v in (response.get("headers") or {}).items()
                        if k.lower() not in {h.lower() for h, _ in headers}]  # fmt: skip
            self.reply(int(response["statusCode"]), raw, headers)

        def invoke(self) -> None:
            body = self.body()
            m = INVOKE_PATH.fullmatch(urlsplit(self.path).path)
            name = unquote(m[1]) if m and self.command == "POST" else None
            if name is None or name.rpartition(":function:")[2] != function_name:  # a name or an ARN
                error = b'{"Type": "User", "message": "Function not found"}'
                return self.reply(404, error, {"X-Amzn-ErrorType": "ResourceNotFoundException"})
            event = json.loads(body or b"{}")
            if self.headers.get("X-Amz-Invocation-Type") == "Event":
                threading.Thread(target=self.background, args=(event,), daemon=True).start()
                return self.reply(202, b"", {"Content-Type": "application/json"})
            try:
                payload, headers = json.dumps(run(event)).encode(), {}
            except Exception as exc:  # what Lambda reports for an unhandled error
                error = {"errorMessage": str(exc), "errorType": type(exc).__name__,
                         "stackTrace": traceback.format_tb(exc.__traceback__)}  # fmt: skip
                payload, headers = json.dumps(error).encode(), {"X-Amz-Function-Error": "Unhandled"}
            self.reply(200, payload, {"Content-Type": "application/json", **headers})

        @staticmethod
        def background(event: Any) -> None:
            try:
                run(event)
            except Exception:
                traceback.print_exc()  # Lambda would log it (and retry an Event twice)

        def handle_one(self) -> None:
            (self.invoke if routes is None else self.gateway)()

        do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = do_OPTIONS = handle_one

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task-root", required=True, help="the unzipped deployment package")
    parser.add_argument("--handler", required=True, help="module.attribute, as in the template")
    parser.add_argument("--function-name", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--memory", type=int, default=128)
    parser.add_argument("--timeout", type=float, default=3)
    args = parser.parse_args()
    # What the Lambda runtime sets before it loads the handler.
    os.environ |= {
        "AWS_LAMBDA_FUNCTION_NAME": args.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(args.memory),
        "LAMBDA_TASK_ROOT": args.task_root,
    }
    os.chdir(args.task_root)
    sys.path.insert(0, args.task_root)
    module, _, attribute = args.handler.rpartition(".")
    handler = getattr(importlib.import_module(module), attribute)
    server = make_server(handler, args.function_name, args.memory, args.timeout, args.port)
    print(f"lambda_emulator: {args.function_name} ({args.handler}) on http://127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
