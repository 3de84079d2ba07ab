"""Talking HTTP to a running server: ``HttpClient`` (the request side of ``ServerProcess``),
``Reply`` (a fully read response) and ``q`` (percent-encoding one path segment)."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any
from urllib.parse import quote


def q(name: str) -> str:
    """Percent-encode one path segment or query value (everything but unreserved chars)."""
    return quote(name, safe="")


class Reply:
    """A fully read HTTP response."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes, elapsed: float) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed

    def json(self) -> Any:
        return json.loads(self.body)

    def error(self) -> str:
        """The contract's error body ``{"error": "<message>"}``; fails the test otherwise."""
        assert self.headers.get("content-type", "").startswith("application/json"), (self.status, self.headers)
        doc = self.json()
        assert isinstance(doc, dict), doc
        assert set(doc) == {"error"}, doc
        assert isinstance(doc["error"], str), doc
        assert doc["error"], doc
        return doc["error"]

    def __repr__(self) -> str:
        return f"Reply({self.status}, {self.body[:300]!r})"


class HttpClient:
    """Requests to 127.0.0.1:``port``, authenticated with ``admin_key`` unless told otherwise.

    A base of ``ServerProcess`` (tests/e2e/servers.py), which sets both attributes.
    """

    port: int
    admin_key: str | None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def connection(self, timeout: float = 10.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def auth(self, credential: str | None = None) -> dict[str, str]:
        cred = credential if credential is not None else self.admin_key
        assert cred is not None
        return {"Authorization": f"Bearer {cred}"}

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        credential: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
        conn: http.client.HTTPConnection | None = None,
    ) -> Reply:
        """One request on a fresh connection (or on ``conn``); ``path`` is sent as given.

        ``body``: bytes/str are sent raw, anything else is JSON-encoded.
        ``credential``: a bearer value; ``None`` means no Authorization header.
        """
        hdrs: dict[str, str] = {}
        if body is not None and not isinstance(body, bytes | str):
            body = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        elif isinstance(body, str):
            body = body.encode()
        if credential is not None:
            hdrs.update(self.auth(credential))
        hdrs.update(headers or {})
        own = conn is None
        c = conn or self.connection(timeout)
        try:
            t0 = time.monotonic()
            c.request(method, path, body=body, headers=hdrs)
            resp = c.getresponse()
            data = resp.read()
            elapsed = time.monotonic() - t0
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data, elapsed)
        finally:
            if own:
                c.close()

    def admin(self, method: str, path: str, body: Any = None, **kw: Any) -> Reply:
        """A request with the admin key as credential."""
        return self.request(method, path, body, credential=self.admin_key, **kw)

    # -- convenience -------------------------------------------------------------
    def put(self, db: str, values: dict[str, Any], credential: str | None = None) -> Reply:
        return self.request("PUT", f"/entity/{q(db)}", values, credential=credential or self.admin_key)

    def get(self, db: str, key: str, credential: str | None = None) -> Reply:
        return self.request("GET", f"/entity/{q(db)}?key={q(key)}", credential=credential or self.admin_key)
