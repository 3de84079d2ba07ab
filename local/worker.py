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
from typing import Any

from chalicelib.invoke.sigv4 import verify
from chalicelib.sigv4_sign import MAIN_ACCESS_KEY
from local import asgi_plumbing as web
from local.asgi_plumbing import Receive, Reply, Scope, Send
from local.server_settings import ServerSettings

log = logging.getLogger("deltadb.worker")

_PATH = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")
MAX_EVENT_BYTES = 8 * 1024 * 1024


def _lambda_error(status: int, kind: str, message: str) -> Reply:
    return web.json_reply(status, {"Type": "User", "message": message, "__type": kind})


class WorkerASGI(web.PooledApp):
    def __init__(self, runtime: Any, secret: str, threads: int) -> None:
        super().__init__(threads, "deltadb-worker")
        self.runtime = runtime
        self.secret = secret
        self.names = set(runtime.function_names)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        await web.send_reply(send, await self._answer(scope, receive))

    async def _answer(self, scope: Scope, receive: Receive) -> Reply:
        body, too_large = await web.read_body(receive, MAX_EVENT_BYTES)
        if too_large:
            return _lambda_error(413, "RequestTooLargeException", "event too large")
        path = web.raw_path(scope)
        m = _PATH.fullmatch(path)
        if scope["method"] != "POST" or m is None or m[1] not in self.names:
            return _lambda_error(404, "ResourceNotFoundException", "no such function")
        headers = web.header_dict(scope)
        query = scope.get("query_string", b"").decode("latin-1")
        url = f"http://{headers.get('host', '')}{path}" + (f"?{query}" if query else "")
        problem = verify("POST", url, headers, body, MAIN_ACCESS_KEY, self.secret)
        if problem is not None:
            log.warning("refused an unsigned or badly signed invocation: %s", problem)
            return _lambda_error(403, "AccessDeniedException", "invalid signature")
        try:
            event = json.loads(body)
        except ValueError:
            return _lambda_error(400, "InvalidRequestContentException", "event is not JSON")
        loop = asyncio.get_running_loop()
        if headers.get("x-amz-invocation-type") == "Event":
            loop.run_in_executor(self.pool, self.runtime.handle, m[1], event)
            return 202, [(b"content-type", b"application/json")], b""
        result = await loop.run_in_executor(self.pool, self.runtime.handle, m[1], event)
        return web.json_reply(200, result, [(b"x-amz-executed-version", b"$LATEST")])


def _worker() -> WorkerASGI:
    import app as app_module

    settings = app_module.runtime.settings
    if not settings.worker_secret:
        raise RuntimeError("a worker needs DELTADB_WORKER_SECRET")
    return WorkerASGI(app_module.runtime, settings.worker_secret, ServerSettings.from_env(settings).http_threads)


application = web.LazyApp(_worker)
