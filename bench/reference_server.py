"""The thinnest durable server on our stack: the yardstick `make bench` measures us against.

Granian (ASGI, uvloop) with the same process count as ours; PUT /entity/{db} parses the
JSON body and writes each key to its own file durably (temp file, fdatasync, rename,
folder fsync) before answering; GET /entity/{db}?key=K answers the file. No auth, no
crypto, no Chalice, no schema: what is left of our request path is what a durable JSON
store on this stack cannot avoid. Every shortcut our server takes that is not about our
own work, it takes too (a request that announces no body gets none from Granian,
local/asgi_plumbing.py). POST /api/login answers a dummy token so that
bench/http_bench.py drives it unchanged.

    python bench/reference_server.py --port 8090 --data-dir /tmp/ref --processes 8
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, unquote

ROOT = os.environ.get("REFERENCE_DATA_DIR", "/tmp/reference-data")
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def _reply(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(folder: str, key: str, data: bytes) -> None:
    tmp = os.path.join(folder, f".tmp.{os.getpid()}.{key}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fdatasync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, os.path.join(folder, key))
    _fsync_dir(folder)


def _has_body(scope: dict[str, Any]) -> bool:
    """RFC 9112: an HTTP/1.x request without Transfer-Encoding and Content-Length (or 0) has no body."""
    if scope.get("http_version") not in ("1.1", "1.0"):
        return True
    return any(n == b"transfer-encoding" or (n == b"content-length" and v.strip() != b"0") for n, v in scope["headers"])


async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]], send: Send) -> None:
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    while _has_body(scope):  # a GET announces none: no receive() into Granian (what ours skips too)
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    method, path = scope["method"], scope["path"]
    if path == "/health":
        await _reply(send, 200, b'{"status": "ok"}')
        return
    if path == "/api/login":
        await _reply(send, 200, b'{"token": "reference"}')
        return
    if not path.startswith("/entity/") or "/" in path[len("/entity/") :]:
        await _reply(send, 404, b'{"error": "not found"}')
        return
    folder = os.path.join(ROOT, unquote(path[len("/entity/") :]))
    if method == "PUT":
        os.makedirs(folder, exist_ok=True)
        for key, value in json.loads(body).items():
            _write(folder, key, json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        await _reply(send, 200, b'{"status": "ok"}')
        return
    key = parse_qs(scope["query_string"].decode()).get("key", [""])[0]
    try:
        with open(os.path.join(folder, key), "rb") as f:
            await _reply(send, 200, f.read())
    except FileNotFoundError:
        await _reply(send, 404, b'{"error": "not found"}')


def main() -> None:
    from granian import Granian
    from granian.constants import Interfaces

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--processes", type=int, default=4 * (os.cpu_count() or 1))
    args = p.parse_args()
    os.environ["REFERENCE_DATA_DIR"] = args.data_dir
    os.makedirs(args.data_dir, exist_ok=True)
    print(
        f"reference: serving http://{args.host}:{args.port} processes={args.processes} inline=all threads=0", flush=True
    )
    Granian("reference_server:app", address=args.host, port=args.port, interface=Interfaces.ASGI,
            workers=args.processes, backlog=2048).serve()  # fmt: skip


if __name__ == "__main__":
    main()
