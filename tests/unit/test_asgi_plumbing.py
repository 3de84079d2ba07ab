"""local/asgi_plumbing.py: which requests get their empty body without asking the server."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from local.asgi_plumbing import PooledApp, Receive, Scope, Send, bodiless, read_body


def scope(version: str = "1.1", *headers: tuple[bytes, bytes]) -> Scope:
    return {"type": "http", "http_version": version, "method": "GET", "headers": [(b"host", b"x"), *headers]}


@pytest.mark.parametrize(
    ("version", "headers", "expected"),
    [
        ("1.1", [], True),
        ("1.0", [], True),
        ("1.1", [(b"content-length", b"0")], True),
        ("1.1", [(b"content-length", b"12")], False),
        ("1.1", [(b"transfer-encoding", b"chunked")], False),
        ("2", [], False),  # HTTP/2 may send DATA frames without a content-length
        (None, [], False),
    ],
)
def test_bodiless(version: str | None, headers: list[tuple[bytes, bytes]], expected: bool) -> None:
    s = scope("1.1", *headers)
    if version is None:
        del s["http_version"]
    else:
        s["http_version"] = version
    assert bodiless(s) is expected


class Server:
    """The server's side of ``receive``: the body it holds, then a disconnect; counts the calls."""

    def __init__(self, body: bytes) -> None:
        self.messages = [{"type": "http.request", "body": body, "more_body": False}, {"type": "http.disconnect"}]
        self.calls = 0

    async def receive(self) -> dict[str, Any]:
        self.calls += 1
        return self.messages.pop(0)


class BodyApp(PooledApp):
    """Reads the body as local/asgi.py does, then one more ``receive`` (as a disconnect watch would)."""

    def __init__(self, server: Server) -> None:
        super().__init__(1, "test")
        self.server = server
        self.seen: list[Any] = []

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.seen.append(await read_body(receive, 1024))
        self.seen.append(self.server.calls)  # how often the body read asked the server
        self.seen.append((await receive())["type"])


async def _nothing(message: dict[str, Any]) -> None:
    return None


def run(s: Scope, body: bytes) -> list[Any]:
    server = Server(body)
    app = BodyApp(server)
    # A loop of its own in a thread of its own: an earlier test of the session (Playwright's
    # sync API) may leave an event loop running in this one, where asyncio.run refuses to start.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, app(s, server.receive, _nothing)).result()
    return app.seen


def test_a_bodiless_request_reads_no_body_from_the_server() -> None:
    # the later receive gets past the server's own empty body to the disconnect
    assert run(scope("1.1"), b"") == [(b"", False), 0, "http.disconnect"]
    assert run(scope("1.1", (b"content-length", b"0")), b"") == [(b"", False), 0, "http.disconnect"]


def test_a_request_with_a_body_reads_it() -> None:
    for headers in ([(b"content-length", b"4")], [(b"transfer-encoding", b"chunked")]):
        assert run(scope("1.1", *headers), b"data") == [(b"data", False), 1, "http.disconnect"], headers
    assert run(scope("2"), b"h2 body") == [(b"h2 body", False), 1, "http.disconnect"]
