"""A lean client of the Lambda Invoke API: AWS Lambda's regional endpoint, or a local worker.

boto3's Lambda client is most of a deployed routes function's cold start (importing
boto3 and building the client: bench/coldstart.py, "routes, Lambda shape"), and about a
millisecond of CPU per call in its generic request pipeline. The route side needs one
POST per call: this client keeps connections alive (chalicelib/http_pool.py) and signs with
SigV4 (chalicelib/sigv4_sign.py, held equal to botocore's signer by its tests).

Like botocore's "standard" retry mode it retries throttling (429, from a 0.5 s jittered
backoff), 5xx answers and failed connections, up to ``attempts`` tries in all. Unlike it,
a call that timed out waiting for its answer is not sent again: the function may still
be running it, and a second copy of a write is not what the route asked for.
"""

from __future__ import annotations

import http.client
import json
import random
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from chalicelib.http_pool import ConnectionPool
from chalicelib.invoke.base import Event, InvokeFailed, Result, function_error
from chalicelib.sigv4_sign import SigningKey, sign

_RETRYABLE = frozenset({429, 500, 502, 503, 504})
_CONNECT_TIMEOUT = 2.0  # seconds; ``timeout`` is for the answer
_MAX_BACKOFF = 2.0  # seconds; API Gateway gives a whole request 29 s


class InvokeTimedOut(InvokeFailed):
    """No answer within the timeout: the call may be running, so it is not sent again."""


class InvokeClient:
    def __init__(
        self, url: str, key: SigningKey, timeout: float, *, region: str = "us-east-1", attempts: int = 1
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or parts.hostname is None:
            raise ValueError(f"Invoke API URL must be http(s)://host[:port], not {url!r}")
        self.url = url.rstrip("/")
        hostname, port = parts.hostname, parts.port
        host = f"[{hostname}]" if ":" in hostname else hostname  # IPv6, as http.client sends it
        self._origin = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")  # signed
        self._base = parts.path.rstrip("/")  # an endpoint behind a path prefix: signed and sent alike
        self._key, self._region = key, region
        self._timeout, self._attempts = timeout, max(1, attempts)
        self._pool = ConnectionPool(parts.scheme, hostname, port,
                                    connect_timeout=min(_CONNECT_TIMEOUT, timeout), read_timeout=timeout)  # fmt: skip

    def invoke(self, function: str, event: Event, *, asynchronous: bool = False) -> Result:
        """One invocation; InvokeFailed when the call itself failed (network, 4xx/5xx, timeout)."""
        path = f"{self._base}/2015-03-31/functions/{quote(function, safe='')}/invocations"
        body = json.dumps(event).encode()
        plain = {
            "Content-Type": "application/json",
            "X-Amz-Invocation-Type": "Event" if asynchronous else "RequestResponse",
        }
        for attempt in range(self._attempts):
            last = attempt + 1 == self._attempts
            signed = sign("POST", self._origin + path, plain, body, self._key, self._region, "lambda",
                          datetime.now(UTC))  # fmt: skip
            try:
                status, answer, data = self._send(path, body, signed)
            except InvokeTimedOut:
                raise
            except InvokeFailed:
                if last:
                    raise
                base = 0.05
            else:
                if status not in _RETRYABLE or last:
                    break
                base = 0.5 if status == 429 else 0.05
            time.sleep(random.uniform(0, min(_MAX_BACKOFF, base * 2**attempt)))
        if asynchronous and status == 202:
            return {}
        if status != 200:
            kind = answer.getheader("x-amzn-ErrorType", "").split(":")[0]
            raise InvokeFailed(f"the Invoke API answered {status} {kind}".rstrip())
        if failure := answer.getheader("X-Amz-Function-Error"):
            return function_error(function, failure)
        result: dict[str, Any] = json.loads(data)
        return result

    def _send(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, http.client.HTTPResponse, bytes]:
        for _try in range(2):
            try:
                conn, reused, generation = self._pool.take()
            except OSError as exc:  # not connected: nothing was sent
                raise InvokeFailed(f"{type(exc).__name__}: {exc}") from exc
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if isinstance(exc, TimeoutError):
                    raise InvokeTimedOut(f"no answer within {self._timeout:g} s") from exc
                if reused:
                    continue  # a kept-alive connection the server closed: once more, fresh
                raise InvokeFailed(f"{type(exc).__name__}: {exc}") from exc
            self._pool.give_back(conn, response, generation)
            return response.status, response, data
        raise AssertionError("unreachable")
