"""Where one request's time goes, layer by layer: each layer's entry point timed on its own.

bench/request_cpu.py gives the whole request's CPU beside the reference; this splits ours.
It builds the same in-process app and times, hot (the same warm request over and over,
wall clock, medians of ``--rounds``), each entry point of the request path from the ASGI
app down to the storage adapter, then prints each layer's own share: its time minus the
time of the layer it calls.

    python bench/request_layers.py                 # GET (warm, file storage) and PUT (memory storage)
    python bench/request_layers.py --repeat 20000  # more calls per measurement

PUT runs on MemoryStorage so that fsync latency (milliseconds, and varying) does not
drown the microseconds of code; its file write is timed separately, as "storage".
Hot figures are a floor: under load every layer costs more (cold caches after each
syscall and process switch), but in about these proportions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from request_cpu import call, document, our_app, prepare, quiet_logs, scope

ASGI = "ASGI app (local/asgi.py)"
GATEWAY = "gateway + Chalice route (local/gateway.py)"
AUTH = "auth (session token)"
SERVICE = "service"
HANDLER = "handler call (in process)"
STORE = "entity store"
STORAGE = "storage"
FILES = "(FileStorage.put instead: fdatasync, rename, folder fsync)"
# The layers of each phase, from the outside in, as layers() gives them.
LAYER_NAMES = {
    "get": (ASGI, GATEWAY, AUTH, SERVICE, HANDLER, STORE, STORAGE),
    "put": (ASGI, GATEWAY, AUTH, SERVICE, HANDLER, STORE, STORAGE, FILES),
}
# Which timed layers each layer calls: its own time is its time minus theirs.
CALLS = {
    ASGI: (GATEWAY,),
    GATEWAY: (AUTH, SERVICE),
    SERVICE: (HANDLER,),
    HANDLER: (STORE,),
    STORE: (STORAGE,),
}


def timed(fn: Callable[[int], Any], repeat: int, rounds: int) -> float:
    """Median over ``rounds`` of the mean µs per call of ``fn(i)`` (an ASGI call: awaited, all in one loop run)."""
    loop = asyncio.new_event_loop()

    async def awaited(count: int) -> None:
        for i in range(count):
            await fn(i)

    def run(count: int) -> None:
        if asyncio.iscoroutinefunction(fn):
            loop.run_until_complete(awaited(count))
        else:
            for i in range(count):
                fn(i)

    run(min(500, repeat))
    results = []
    for _ in range(rounds):
        started = time.perf_counter()
        run(repeat)
        results.append((time.perf_counter() - started) / repeat * 1e6)
    loop.close()
    return statistics.median(results)


def lambda_async(make: Callable[[int], Any]) -> Callable[[int], Any]:
    """``make(i)``'s awaitable, awaited: an async layer for ``timed``."""

    async def run(i: int) -> Any:
        return await make(i)

    return run


def layers(app: Any, token: str, phase: str, size: int) -> list[tuple[str, Callable[[int], Any]]]:
    """(layer, call) from the outside in, for one phase."""
    import app as app_module
    from chalicelib.entities import entity_object
    from chalicelib.handlers.protocol import GetEntity, PutEntity
    from chalicelib.services.conditions import Conditions
    from chalicelib.storage.base import NotModified

    runtime = app_module.runtime
    services, handler = runtime.services, runtime.processing.handler("entity_worker")
    store, handlers = handler.entities, services.entities.handlers
    auth = {"authorization": f"Bearer {token}", "host": "127.0.0.1", "content-type": "application/json"}
    none = Conditions(if_match=None, if_none_match=None)
    if phase == "get":
        etags = {i: store.get("cpu-get", f"doc-{i}")[1] for i in range(500)}
        scopes = [scope("GET", "/entity/cpu-get", f"key=doc-{i}", token) for i in range(500)]

        def stat(i: int) -> None:
            try:
                store.storage.get(entity_object("cpu-get", f"doc-{i % 500}"), if_none_match=etags[i % 500])
            except NotModified:
                pass

        return [
            (ASGI, lambda_async(lambda i: call(app, scopes[i % 500], b""))),
            (GATEWAY,
             lambda i: app.gateway.handle("GET", "/entity/cpu-get", f"key=doc-{i % 500}", auth, b"")),
            (AUTH, lambda i: services.auth.authenticate(auth["authorization"])),
            (SERVICE, lambda i: services.entities.get("cpu-get", f"doc-{i % 500}", none)),
            (HANDLER, lambda i: handlers.call(GetEntity("cpu-get", f"doc-{i % 500}"))),
            (STORE, lambda i: store.get("cpu-get", f"doc-{i % 500}")),
            (STORAGE, stat),
        ]  # fmt: skip
    from chalicelib.crypto import envelope
    from chalicelib.storage.fs import FileStorage
    from chalicelib.storage.memory import MemoryStorage

    files: FileStorage = store.storage
    store.storage = MemoryStorage()
    value = json.loads(document(1, size))
    bodies = [json.dumps({f"k-{i}": value}).encode() for i in range(1000)]
    text = json.dumps(value, separators=(",", ":"))
    blob = envelope.seal(store.keyring, "cpu-put", "k", text.encode())
    sc = scope("PUT", "/entity/cpu-put", "", token)
    return [
        (ASGI, lambda_async(lambda i: call(app, sc, bodies[i % 1000]))),
        (GATEWAY,
         lambda i: app.gateway.handle("PUT", "/entity/cpu-put", "", auth, bodies[i % 1000])),
        (AUTH, lambda i: services.auth.authenticate(auth["authorization"])),
        (SERVICE, lambda i: services.entities.put("cpu-put", {f"k-{i}": value}, none)),
        (HANDLER, lambda i: handlers.call(PutEntity("cpu-put", f"k-{i}", text))),
        (STORE, lambda i: store.put("cpu-put", f"k-{i}", text)),
        (STORAGE, lambda i: store.storage.put(f"entities/cpu-put/k-{i}", blob)),
        (FILES,
         lambda i: files.put(f"entities/cpu-put/f-{i}", blob)),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=5000, help="calls per measurement (default 5000)")
    p.add_argument("--rounds", type=int, default=5, help="measurements per layer; the median is shown (default 5)")
    p.add_argument("--doc-bytes", type=int, default=1024)
    args = p.parse_args(argv)
    data = Path(tempfile.mkdtemp(prefix="request-layers-"))
    try:
        quiet_logs()
        app, token = our_app(data, "WARNING")
        asyncio.run(prepare(app, token, args.doc_bytes))
        for phase in ("get", "put"):
            rows = [
                (name, timed(fn, args.repeat, args.rounds)) for name, fn in layers(app, token, phase, args.doc_bytes)
            ]
            times = dict(rows)
            print(f"\n{phase.upper():4} {'layer':64} {'µs/call':>8} {'own µs':>7}")
            for name, us in rows:
                own = us - sum(times[c] for c in CALLS.get(name, ()))
                print(f"{'':4} {name:64} {us:8.1f} {own:7.1f}")
        return 0
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
