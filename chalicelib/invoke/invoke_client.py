"""A lean client of the Lambda Invoke API: AWS Lambda's regional endpoint, or a local worker.

boto3's Lambda client is most of a deployed routes function's cold start (importing
boto3 and building the client: bench/coldstart.py, "routes, Lambda shape"), and about a
millisecond of CPU per call in its generic request pipeline. The route side needs one POST per call:
this client keeps one keep-alive connection per thread and signs with SigV4
(chalicelib/invoke/sigv4_sign.py, held equal to botocore's signer by its tests). Like
botocore's "standard" retry mode it retries throttling (429), 5xx answers and failed
connections, with jittered exponential backoff, up to ``attempts`` tries in all.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import threading
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from chalicelib.errors import DeltaError, to_result
from chalicelib.invoke.base import Event, InvokeFailed, Result
from chalicelib.invoke.sigv4_sign import SigningKey, sign

log = logging.getLogger(__name__)

_RETRYABLE = frozenset({429, 500, 502, 503, 504})
_MAX_BACKOFF = 1.0  # seconds; the route's own timeout bounds the whole call anyway


class InvokeClient:
    def __init__(
        self, url: str, key: SigningKey, timeout: float, *, region: str = "us-east-1", attempts: int = 1
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.hostname is None:
            raise ValueError(f"Invoke API URL must be http(s)://host[:port], not {url!r}")
        self.url = url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._key, self._region = key, region
        self._timeout, self._attempts = timeout, max(1, attempts)
        self._local = threading.local()

    def _connection(self, fresh: bool) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            conn = kind(self._host, self._port, timeout=self._timeout)  # https: certificates verified
            self._local.conn = conn
        return conn

    def invoke(self, function: str, event: Event, *, asynchronous: bool = False) -> Result:
        """One invocation; InvokeFailed when the call itself failed (network, 4xx/5xx, timeout)."""
        path = f"/2015-03-31/functions/{quote(function, safe='')}/invocations"
        body = json.dumps(event).encode()
        plain = {
            "Content-Type": "application/json",
            "X-Amz-Invocation-Type": "Event" if asynchronous else "RequestResponse",
        }
        for attempt in range(self._attempts):
            last = attempt + 1 == self._attempts
            headers = sign("POST", self.url + path, plain, body, self._key, self._region, "lambda", datetime.now(UTC))
            try:
                status, answer, data = self._send(path, body, headers)
            except InvokeFailed:
                if last:
                    raise
            else:
                if status not in _RETRYABLE or last:
                    break
            time.sleep(random.uniform(0, min(_MAX_BACKOFF, 0.05 * 2**attempt)))
        if asynchronous and status == 202:
            return {}
        if status != 200:
            kind = answer.getheader("x-amzn-ErrorType", "").split(":")[0]
            raise InvokeFailed(f"the Invoke API answered {status} {kind}".rstrip())
        if failure := answer.getheader("X-Amz-Function-Error"):
            # Not the payload: a crash's message or trace may quote what the function held.
            log.error("processing handler %s failed (%s)", function, failure)
            return to_result(DeltaError("processing handler failed"))
        result: dict[str, Any] = json.loads(data)
        return result

    def _send(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, http.client.HTTPResponse, bytes]:
        reused = getattr(self._local, "conn", None) is not None
        for retry in (False, True):
            conn = self._connection(fresh=retry)
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                return response.status, response, response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._local.conn = None
                if not retry and reused and not isinstance(exc, TimeoutError):
                    continue  # a kept-alive connection the server closed: once more, fresh
                raise InvokeFailed(f"{type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")
