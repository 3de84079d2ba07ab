"""http_bench's stdlib HTTP client and its data setup: the documents, login, pre-write,
pre-read and the read-back check of a PUT phase's keys."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse

DB = "bench"  # GET phases read the pre-written "doc-<i>" keys here
GET_PREFIX = "doc"
PUT_DB = "bench-put-{auth}"  # each PUT phase writes into its own database, prefilled the same way
FILL_PREFIX = "fill"


# -- documents -------------------------------------------------------------------------
def document(key: str, n: int, size: int) -> str:
    """Compact JSON of exactly ``size`` bytes (for ASCII keys); same shape as wrk_common.lua."""
    head = f'{{"key":"{key}","n":{n},"pad":"'
    tail = '"}'
    return head + "x" * max(0, size - len(head) - len(tail)) + tail


# -- tiny HTTP client (stdlib, keep-alive) --------------------------------------------
class Client:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        u = urllib.parse.urlsplit(url)
        if u.scheme != "http" or not u.hostname:
            raise SystemExit(f"--url must be http://host:port, got {url!r}")
        self.host, self.port, self.timeout = u.hostname, u.port or 80, timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None, token: str | None = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (ConnectionError, http.client.HTTPException, OSError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# -- setup: login, pre-write, pre-read ------------------------------------------------
def login(client: Client, admin_key: str) -> str:
    status, body = client.request("POST", "/api/login", json.dumps({"key": admin_key}).encode())
    if status != 200:
        raise SystemExit(f"login failed: HTTP {status} {body[:200]!r}")
    return str(json.loads(body)["token"])


def prewrite(
    client: Client, token: str, count: int, size: int, db: str = DB, prefix: str = GET_PREFIX, batch: int = 50
) -> float:
    """PUT ``count`` documents ``<prefix>-0..N-1`` into ``db`` (``batch`` keys per request); return seconds."""
    t0 = time.perf_counter()
    for start in range(0, count, batch):
        keys = [f"{prefix}-{i}" for i in range(start, min(count, start + batch))]
        body = "{" + ",".join(f'"{k}":{document(k, i, size)}' for i, k in enumerate(keys, start)) + "}"
        status, resp = client.request("PUT", f"/entity/{db}", body.encode(), token)
        if status != 200:
            raise SystemExit(f"pre-write failed: HTTP {status} {resp[:200]!r}")
    return time.perf_counter() - t0


def preread(client: Client, token: str, count: int, size: int) -> float:
    """GET every pre-written key once and check its content (warms the page cache)."""
    t0 = time.perf_counter()
    for i in range(count):
        key = f"{GET_PREFIX}-{i}"
        status, body = client.request("GET", f"/entity/{DB}?key={key}", token=token)
        if status != 200 or body.decode() != document(key, i, size):
            raise SystemExit(f"pre-read of {key} failed: HTTP {status} {body[:200]!r}")
    return time.perf_counter() - t0


def verify_puts(client: Client, token: str, db: str, prefix: str, wrk_threads: int, size: int) -> None:
    """An early key of every wrk thread must read back exactly as written.

    n=2, not 1: wrk calls request() once on thread 0 to check the script, unsent.
    """
    for tid in range(wrk_threads):
        key = f"{prefix}-{tid}-2"
        status, body = client.request("GET", f"/entity/{db}?key={key}", token=token)
        if status != 200 or body.decode() != document(key, 2, size):
            raise SystemExit(f"read-back of PUT key {key} failed: HTTP {status} {body[:200]!r}")
