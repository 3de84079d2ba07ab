"""A lean S3 client for the per-entity object calls: GetObject, PutObject, HeadObject, DeleteObject.

botocore's generic request pipeline (parameter validation, endpoint rules, event hooks,
urllib3, the response parser) is a large part of an S3 call's latency on a local S3
server: on our 2-core VM bare ``put_object`` took 9.5 ms p50 against moto where the same
signed PUT through ``http.client`` took 6.9 ms (bench/README.md, "A lean S3 client").
Every entity read and write is one of these four calls, so they go over ``http.client``
with the standard-library SigV4 signer (chalicelib/sigv4_sign.py, held equal to
botocore's ``S3SigV4Auth`` by its tests). Everything else (listing, bucket checks) is
rare and goes to boto3's client, built on first use (any attribute this class lacks is
that client's), as do all calls once S3 says the bucket is in another region.

It answers as boto3 does, so chalicelib/storage/s3.py is the same for both: the same
reply keys, ``ClientError`` with botocore's error shape for error statuses (the XML
``Code``, or the status for a bodiless reply such as HEAD's 404 or a 304), and
botocore's "standard" retries (transient statuses and codes, throttling, dropped
connections and timeouts; ``random() * min(2 ** (attempt - 1), 20)`` s apart) up to
``max_attempts`` tries; not its client-wide retry quota (chalicelib/storage/s3_answers.py).
A kept-alive connection the server closed as a request went out is no failed attempt:
the request goes again at once. Connections: chalicelib/http_pool.py, at most
``max_connections`` kept idle.
"""

from __future__ import annotations

import functools
import http.client
import io
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

from chalicelib.http_pool import ConnectionPool
from chalicelib.sigv4_sign import SigningKey, sign
from chalicelib.storage import s3_answers
from chalicelib.storage.s3_client import CONNECT_TIMEOUT

log = logging.getLogger(__name__)
_Method = Callable[..., dict[str, Any]]


class _Redirected(Exception):
    pass  # S3 answered that the bucket lives in another region


def _boto3_after_redirect(method: _Method) -> _Method:
    """The call through boto3's client once S3 has said the bucket is in another region."""

    @functools.wraps(method)
    def call(self: LeanS3, **kwargs: Any) -> dict[str, Any]:
        if not self._redirected:
            try:
                return method(self, **kwargs)
            except _Redirected:
                log.warning("S3 bucket %r is not in region %s; boto3 takes over its calls", self._bucket, self._region)
                self._redirected = True
        return getattr(self._boto3_client(), method.__name__)(**kwargs)  # type: ignore[no-any-return]

    return call


class Exchange(NamedTuple):
    """One HTTP attempt, for watchers (tests count S3 requests with it): what was sent and the status (0: none)."""

    op: str
    headers: dict[str, str]
    status: int


class LeanS3:
    def __init__(
        self,
        origin: str,
        bucket: str,
        key: SigningKey,
        region: str,
        *,
        virtual_host: bool,
        max_attempts: int,
        read_timeout: float,
        max_connections: int = 10,
        ca_bundle: str | None = None,
        fallback: Callable[[], Any],
    ) -> None:
        """``origin``: scheme://host[:port][/prefix] of the endpoint; ``virtual_host``: the bucket is in the host."""
        parts = urlsplit(origin.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"S3 endpoint must be http(s)://host[:port], not {origin!r}")
        host = (bucket + "." if virtual_host else "") + parts.hostname
        shown = f"[{host}]" if ":" in host else host  # IPv6, as http.client sends it
        self._origin = f"{parts.scheme}://{shown}" + (f":{parts.port}" if parts.port is not None else "")
        self._base = parts.path + ("" if virtual_host else "/" + quote(bucket, safe=""))
        self._bucket, self._key, self._region = bucket, key, region
        self._attempts = max(1, max_attempts)
        self._fallback = fallback
        self._boto3: Any = None
        self._redirected = False
        https = parts.scheme == "https"
        self._pool = ConnectionPool(parts.scheme, host, parts.port, connect_timeout=CONNECT_TIMEOUT,
                                    read_timeout=read_timeout, max_idle=max_connections,
                                    ca_bundle=(ca_bundle or _boto3_ca_bundle()) if https else None)  # fmt: skip
        self._building = threading.Lock()
        self.watchers: list[Callable[[Exchange], None]] = []

    # -- the boto3 calls this client answers itself ----------------------------------------
    @_boto3_after_redirect
    def get_object(self, *, Bucket: str, Key: str, IfNoneMatch: str | None = None) -> dict[str, Any]:
        headers = {"If-None-Match": IfNoneMatch} if IfNoneMatch else {}
        reply, data = self._call("GetObject", "GET", Bucket, Key, headers, b"")
        return {"Body": io.BytesIO(data), **s3_answers.described(reply, len(data))}

    @_boto3_after_redirect
    def head_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        reply, _data = self._call("HeadObject", "HEAD", Bucket, Key, {}, b"")
        return s3_answers.described(reply, None)

    @_boto3_after_redirect
    def put_object(
        self,
        *,
        Bucket: str,
        Key: str,
        Body: bytes,
        Metadata: dict[str, str] | None = None,
        IfNoneMatch: str | None = None,
        IfMatch: str | None = None,
    ) -> dict[str, Any]:
        headers = {s3_answers.META + name: value for name, value in (Metadata or {}).items()}
        if IfNoneMatch is not None:
            headers["If-None-Match"] = IfNoneMatch
        if IfMatch is not None:
            headers["If-Match"] = IfMatch
        reply, _data = self._call("PutObject", "PUT", Bucket, Key, headers, bytes(Body))
        return {"ETag": reply.getheader("ETag")}

    @_boto3_after_redirect
    def delete_object(self, *, Bucket: str, Key: str, IfMatch: str | None = None) -> dict[str, Any]:
        headers = {"If-Match": IfMatch} if IfMatch is not None else {}
        self._call("DeleteObject", "DELETE", Bucket, Key, headers, b"")
        return {}

    def __getattr__(self, name: str) -> Any:
        """Anything else is boto3's client's (listing, bucket checks, ``meta``)."""
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._boto3_client(), name)

    def _boto3_client(self) -> Any:
        if self._boto3 is None:
            with self._building:  # one client, however many threads need it first
                if self._boto3 is None:
                    self._boto3 = self._fallback()
        return self._boto3

    def close(self) -> None:
        """Close the idle connections, and those in use as their calls end (and boto3's client, if built)."""
        self._pool.close()
        if self._boto3 is not None:
            self._boto3.close()

    # -- one call, with botocore's standard retries ----------------------------------------
    def _call(
        self, op: str, method: str, bucket: str, key: str, headers: dict[str, str], body: bytes
    ) -> tuple[http.client.HTTPResponse, bytes]:
        if bucket != self._bucket:
            raise ValueError(f"this client serves bucket {self._bucket!r}, not {bucket!r}")
        path = self._base + "/" + quote(key, safe="/~")
        plain = {"Content-Length": str(len(body))} if method == "PUT" else {}
        plain.update(headers)
        for attempt in range(1, self._attempts + 1):
            last = attempt == self._attempts
            signed = sign(method, self._origin + path, plain, body, self._key, self._region, "s3", datetime.now(UTC))
            retry_after = None
            try:
                reply, data = self._send(method, path, body, signed)
            except (OSError, http.client.HTTPException) as exc:
                self._tell(op, signed, 0)
                if last:
                    raise exc if isinstance(exc, OSError) else ConnectionError(f"{type(exc).__name__}: {exc}") from exc
                scale = 0.05  # botocore: a dropped connection or a timeout is transient
            else:
                status = reply.status
                self._tell(op, signed, status)
                if status < 300:
                    return reply, data
                code = s3_answers.error_code(status, data)
                if s3_answers.elsewhere(status, code, reply, self._region):
                    raise _Redirected()
                retryable = s3_answers.retry_scale(status, code)
                if last or retryable is None:
                    raise s3_answers.client_error(op, status, code, reply)
                scale, retry_after = retryable, reply.getheader("x-amz-retry-after")
            time.sleep(s3_answers.backoff(scale, attempt, retry_after))
        raise AssertionError("unreachable")

    def _tell(self, op: str, headers: dict[str, str], status: int) -> None:
        for watch in self.watchers:
            watch(Exchange(op, headers, status))

    def _send(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[http.client.HTTPResponse, bytes]:
        for _try in range(2):
            conn, reused, generation = self._pool.take()
            try:
                conn.request(method, path, body=body if method == "PUT" else None, headers=headers)
                reply = conn.getresponse()
            except BaseException as exc:
                conn.close()
                if reused and isinstance(exc, (ConnectionResetError, BrokenPipeError)):
                    continue  # closed by the server as the request went out, before any answer: once more, fresh
                raise
            try:
                data = reply.read()  # a reply cut short raises IncompleteRead: retried, never trusted
            except BaseException:
                conn.close()
                raise
            self._pool.give_back(conn, reply, generation)
            return reply, data
        raise ConnectionError("S3 closed two connections in a row without answering")


def _boto3_ca_bundle() -> str:
    """The CA bundle boto3 verifies with when AWS_CA_BUNDLE is not set (certifi's, else botocore's own).

    The rule of ``botocore.httpsession.get_cert_path(True)``, without importing that module:
    it loads urllib3 and botocore's HTTP stack, ~200 ms of a cold start here against ~30.
    """
    try:
        from certifi import where
    except ImportError:
        import botocore

        return os.path.join(os.path.dirname(botocore.__file__), "cacert.pem")
    return str(where())
