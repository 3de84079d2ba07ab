"""A lean client for the Lambda Invoke API of local workers.

boto3's Lambda client spends about a millisecond of CPU per call in its generic request
pipeline (parameter validation, serialisation, hooks, response parsing). Local workers
only need one POST: this client keeps one keep-alive connection per thread and signs
with botocore's own SigV4 signer (no hand-written crypto), so the workers verify it
exactly as they verify boto3. AWS Lambda itself is still called with boto3
(chalicelib.invoke.lambda_).
"""

from __future__ import annotations

import http.client
import json
import threading
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from chalicelib.errors import DeltaError, to_result
from chalicelib.invoke.base import Event, InvokeFailed, Result
from chalicelib.invoke.sigv4 import MAIN_ACCESS_KEY


class InvokeClient:
    def __init__(self, url: str, secret: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"worker URL must be http://host:port, not {url!r}")
        self.url = url.rstrip("/")
        self._host, self._port = parts.hostname, parts.port or 80
        self._timeout = timeout
        self._signer = SigV4Auth(Credentials(MAIN_ACCESS_KEY, secret), "lambda", "us-east-1")
        self._local = threading.local()

    def _connection(self, fresh: bool) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            self._local.conn = conn
        return conn

    def invoke(self, function: str, event: Event, *, asynchronous: bool = False) -> Result:
        path = f"/2015-03-31/functions/{function}/invocations"
        body = json.dumps(event).encode()
        request = AWSRequest(
            method="POST",
            url=self.url + path,
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-Amz-Invocation-Type": "Event" if asynchronous else "RequestResponse",
            },
        )
        self._signer.add_auth(request)
        headers = dict(request.headers.items())
        reused = getattr(self._local, "conn", None) is not None
        for attempt in (0, 1):
            conn = self._connection(fresh=attempt == 1)
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                break
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._local.conn = None
                if attempt == 0 and reused and not isinstance(exc, TimeoutError):
                    continue  # a kept-alive connection the worker closed: once more, fresh
                raise InvokeFailed(f"{type(exc).__name__}: {exc}") from exc
        if asynchronous and response.status == 202:
            return {}
        if response.status != 200:
            raise InvokeFailed(f"worker answered {response.status}")
        if response.getheader("X-Amz-Function-Error"):
            return to_result(DeltaError("processing handler failed"))
        result: dict[str, Any] = json.loads(data)
        return result
