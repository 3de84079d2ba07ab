"""A processing worker: the app's handlers behind the Lambda Invoke API.

``POST /2015-03-31/functions/{name}/invocations`` with the event as body, exactly what
boto3's Lambda client sends, so the main worker's Lambda invoker reaches a local worker
and AWS Lambda alike. Every call must carry a SigV4 signature made with the shared
worker secret (chalicelib/invoke/sigv4.py); anything else gets 403. The worker holds
the keyring and the storage; the main worker holds neither.

- ``X-Amz-Invocation-Type: RequestResponse`` (default): 200 with the handler's result.
- ``Event``: 202 at once; the handler runs in the background.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib.invoke.sigv4 import MAIN_ACCESS_KEY, verify
from local.asgi import LazyApp, Receive, Scope, Send

log = logging.getLogger("deltadb.worker")

_PATH = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")
MAX_EVENT_BYTES = 8 * 1024 * 1024


async def _reply(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    out = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})


def _lambda_error(kind: str, message: str) -> bytes:
    return json.dumps({"Type": "User", "message": message, "__type": kind}).encode()


class WorkerASGI:
    def __init__(self, runtime: Any, secret: str, threads: int) -> None:
        self.runtime = runtime
        self.secret = secret
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="deltadb-worker")
        self.names = set(runtime.function_names)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_EVENT_BYTES:
                await _reply(send, 413, _lambda_error("RequestTooLargeException", "event too large"))
                return
            if not message.get("more_body", False):
                break
        path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        m = _PATH.fullmatch(path)
        if scope["method"] != "POST" or m is None or m[1] not in self.names:
            await _reply(send, 404, _lambda_error("ResourceNotFoundException", "no such function"))
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = scope.get("query_string", b"").decode("latin-1")
        url = f"http://{headers.get('host', '')}{path}" + (f"?{query}" if query else "")
        problem = verify("POST", url, headers, body, MAIN_ACCESS_KEY, self.secret)
        if problem is not None:
            log.warning("refused an unsigned or badly signed invocation: %s", problem)
            await _reply(send, 403, _lambda_error("AccessDeniedException", "invalid signature"))
            return
        try:
            event = json.loads(body)
        except ValueError:
            await _reply(send, 400, _lambda_error("InvalidRequestContentException", "event is not JSON"))
            return
        loop = asyncio.get_running_loop()
        if headers.get("x-amz-invocation-type") == "Event":
            loop.run_in_executor(self.pool, self.runtime.handle, m[1], event)
            await _reply(send, 202, b"")
            return
        result = await loop.run_in_executor(self.pool, self.runtime.handle, m[1], event)
        await _reply(send, 200, json.dumps(result).encode(), [(b"x-amz-executed-version", b"$LATEST")])


def _worker() -> WorkerASGI:
    import app as app_module

    settings = app_module.runtime.settings
    if not settings.worker_secret:
        raise RuntimeError("a worker needs DELTADB_WORKER_SECRET")
    return WorkerASGI(app_module.runtime, settings.worker_secret, settings.http_threads)


application = LazyApp(_worker)
