"""CPU per request, in one process, ours beside the reference: where a PUT and a GET spend.

The HTTP benchmark (compare.py) measures what a client sees, with wrk, the kernel's
loopback and fsync latency in the figures, and moves with everything else running on
the machine. This drives both ASGI apps in-process instead — ours (local/asgi.py: the
gateway, Chalice, auth, crypto, storage) and bench/reference_server.py — with the same
requests, and counts CPU time per request (``getrusage``: user and system apart; fsync
waits do not count, but the kernel's work for a file create does, and it moves a lot
with the disk). The user-CPU difference is our per-request work beyond the thinnest
durable server; the system part is mostly the filesystem's, alike for both.

    python bench/request_cpu.py                      # both apps, PUT and GET, µs/request
    python bench/request_cpu.py --profile put        # + cProfile of ours, top functions by own time
    py-spy record -o put.svg -- python bench/request_cpu.py --only ours --phases put   # a flame graph
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import resource
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ADMIN_KEY = "bench-admin-key-0123456789abcdef"
App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def scope(method: str, path: str, query: str, token: str) -> dict[str, Any]:
    return {
        "type": "http", "method": method, "path": path, "raw_path": path.encode(),
        "query_string": query.encode(), "client": ("127.0.0.1", 5000),
        "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode()),
                    (b"content-type", b"application/json")],
    }  # fmt: skip


async def call(app: App, sc: dict[str, Any], body: bytes) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(sc, receive, send)
    return int(sent[0]["status"]), b"".join(m.get("body", b"") for m in sent[1:])


def document(n: int, size: int) -> str:
    pad = "x" * max(0, size - 40)
    return json.dumps({"n": n, "pad": pad}, separators=(",", ":"))


async def run_phase(app: App, phase: str, token: str, count: int, size: int, tag: str) -> tuple[float, float]:
    """User and system CPU µs per request over ``count`` requests (after ``count // 10`` unrecorded ones)."""
    warm = max(10, count // 10)
    requests: list[tuple[dict[str, Any], bytes]] = []
    for i in range(warm + count):
        if phase == "put":
            key = f"{tag}-{i}"
            requests.append(
                (scope("PUT", f"/entity/cpu-{tag}", "", token), f'{{"{key}":{document(i, size)}}}'.encode())
            )
        else:
            requests.append((scope("GET", "/entity/cpu-get", f"key=doc-{i % 500}", token), b""))
    for sc, body in requests[:warm]:
        status, out = await call(app, sc, body)
        assert status == 200, (status, out[:200])
    started = resource.getrusage(resource.RUSAGE_SELF)
    for sc, body in requests[warm:]:
        status, out = await call(app, sc, body)
        if status != 200:
            raise SystemExit(f"{phase}: {status} {out[:200]!r}")
    ended = resource.getrusage(resource.RUSAGE_SELF)
    return (ended.ru_utime - started.ru_utime) / count * 1e6, (ended.ru_stime - started.ru_stime) / count * 1e6


async def prepare(app: App, token: str, size: int) -> None:
    docs = {f"doc-{i}": json.loads(document(i, size)) for i in range(500)}
    status, out = await call(app, scope("PUT", "/entity/cpu-get", "", token), json.dumps(docs).encode())
    assert status == 200, out


def quiet_logs() -> None:
    """The log handler `deltadb serve` installs, writing to /dev/null: the lines' cost counts, not their I/O."""
    import logging

    sys.path.insert(0, str(REPO))
    from chalicelib.logs import StderrLines

    handler = StderrLines()
    handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 (open for the process's life)
    logging.root.addHandler(handler)
    logging.root.setLevel(logging.INFO)


def our_app(data: Path, log_level: str) -> tuple[App, str]:
    os.environ.update(
        {"DELTADB_DATA_DIR": str(data / "ours"), "DELTADB_ADMIN_KEY": ADMIN_KEY, "DELTADB_LOG_LEVEL": log_level}
    )
    sys.path.insert(0, str(REPO))
    from local.asgi import _routes

    app = _routes()
    status, out = asyncio.run(call(app, scope("POST", "/api/login", "", ""), json.dumps({"key": ADMIN_KEY}).encode()))
    assert status == 200, out
    return app, str(json.loads(out)["token"])


def reference_app(data: Path) -> tuple[App, str]:
    os.environ["REFERENCE_DATA_DIR"] = str(data / "reference")
    sys.path.insert(0, str(REPO / "bench"))
    import reference_server

    reference_server.ROOT = str(data / "reference")
    return reference_server.app, "reference"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=2000, help="recorded requests per phase (default 2000)")
    p.add_argument("--doc-bytes", type=int, default=1024)
    p.add_argument("--phases", default="put,get")
    p.add_argument("--only", choices=("ours", "reference"), help="run one app only (for a flame graph)")
    p.add_argument("--profile", choices=("put", "get"), help="cProfile our app in this phase, print the top")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--sort", default="tottime", help="cProfile order: tottime (own time) or cumulative")
    p.add_argument("--access-log", action="store_true", help="log at INFO, as `deltadb serve` does by default "
                   "(compare.py runs the server at WARNING: the reference logs nothing)")  # fmt: skip
    args = p.parse_args(argv)
    data = Path(tempfile.mkdtemp(prefix="request-cpu-"))
    try:
        quiet_logs()
        apps = {}
        if args.only != "reference":
            apps["ours"] = our_app(data, "INFO" if args.access_log else "WARNING")
        if args.only != "ours":
            apps["reference"] = reference_app(data)
        (data / "reference").mkdir(exist_ok=True)
        results: dict[str, dict[str, tuple[float, float]]] = {}
        for name, (app, token) in apps.items():
            asyncio.run(prepare(app, token, args.doc_bytes))
            for phase in args.phases.split(","):
                if args.profile == phase and name == "ours":
                    prof = cProfile.Profile()
                    prof.enable()
                us = asyncio.run(run_phase(app, phase, token, args.requests, args.doc_bytes, f"{name}{phase}"))
                if args.profile == phase and name == "ours":
                    prof.disable()
                    print(f"# cProfile, ours, {phase}: top {args.top} by {args.sort} (profiling inflates the total)")
                    pstats.Stats(prof).sort_stats(args.sort).print_stats(args.top)
                results.setdefault(phase, {})[name] = us
        head = f"{'ours user+sys µs':>17} {'reference user+sys µs':>22} {'user ratio':>11} {'total ratio':>12}"
        print(f"{'phase':6} {head}")
        for phase, row in results.items():
            ours, ref = row.get("ours", (0.0, 0.0)), row.get("reference", (0.0, 0.0))
            user = f"{ours[0] / ref[0]:11.2f}" if ours[0] and ref[0] else f"{'-':>11}"
            total = f"{sum(ours) / sum(ref):12.2f}" if sum(ours) and sum(ref) else f"{'-':>12}"
            print(f"{phase:6} {ours[0]:8.0f}+{ours[1]:<8.0f} {ref[0]:13.0f}+{ref[1]:<8.0f} {user} {total}")
        return 0
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
