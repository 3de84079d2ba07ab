"""Worker-pool benchmark: `deltadb up` with 1 and with 2 processing workers, in one run.

    .venv/bin/python bench/pool_bench.py            # or: make bench-pool

Setups, each with 1 and with 2 workers, in ABBA order over ``--rounds`` rounds:
- ``fs``: the filesystem backend;
- ``s3 (moto)``: moto server mode, which answers in 3 to 5 ms of its own CPU (CPU-bound);
- ``s3 +40ms``, ``s3 +100ms`` (``--latency-ms``): the same moto behind
  bench/latency_proxy.py adding that delay to each request, the shape of AWS S3 (a
  small request's median is "tens of milliseconds": AWS, "Best Practices Design
  Patterns: Optimizing Amazon S3 Performance"). The I/O-bound case, where a worker's
  ceiling is its threads / latency, as long as the machine's CPU is not the limit
  (the ``cpu`` column: moto, the relay, wrk, the main and the workers share 2 cores).
Each run gets a fresh S3 server and is driven by wrk through bench/http_bench.py
(``--url``: 32 connections, 1 KiB documents, PUT then warm GET, admin key), printing
req/s and p99. Then the cost of one invocation hop: ``DescribeWorker`` (the heartbeat call) in-process vs
through the pool (Invoke API over HTTP, SigV4-signed), in µs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.latency_proxy import LatencyProxy  # noqa: E402
from tests.s3servers import start_moto  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_up(workers: int, extra: list[str], env_extra: dict[str, str]) -> tuple[subprocess.Popen[bytes], str, str]:
    port, key = free_port(), "bench-" + secrets.token_urlsafe(24)
    data = tempfile.mkdtemp(prefix="poolbench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELTADB_")}
    env |= {"DELTADB_ADMIN_KEY": key, "DELTADB_LOG_LEVEL": "WARNING", **env_extra}
    cmd = [str(Path(sys.executable).parent / "deltadb"), "up", "--workers", str(workers), "--port", str(port),
           "--data-dir", f"{data}/data", *extra]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=1):
                return proc, url, key
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("deltadb up did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(20)


def drive(url: str, key: str, duration: float, connections: int) -> dict[str, tuple[float, float]]:
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "http_bench.py"), "--url", url, "--admin-key", key, "--no-save",
         "--duration", str(duration), "--entities", "300", "--connections", str(connections)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    rows: dict[str, tuple[float, float]] = {}
    for line in out.stdout.splitlines():
        m = re.match(r"(put|get)\s+admin-key\s+([\d,]+)\s+[\d.]+\s+([\d.]+)", line)
        if m:
            rows[m[1]] = (float(m[2].replace(",", "")), float(m[3]))
    if len(rows) != 2:
        raise RuntimeError(out.stdout[-2000:] + out.stderr[-2000:])
    return rows


def hop_overhead(n: int) -> dict[str, float]:
    """Mean µs of one DescribeWorker invocation: in-process vs through a local worker."""
    from chalicelib.bootstrap import Runtime
    from chalicelib.config import Settings
    from chalicelib.handlers.protocol import DescribeWorker
    from chalicelib.invoke.pool import PoolInvoker

    tmp = Path(tempfile.mkdtemp(prefix="hop-"))
    secret = secrets.token_urlsafe(32)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELTADB_")}
    env |= {"DELTADB_WORKER_SECRET": secret, "DELTADB_SECRETS_DIR": str(tmp / "s"), "DELTADB_LOG_LEVEL": "WARNING"}
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "deltadb"), "worker", "--port", str(port), "--data-dir", str(tmp / "d")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        time.sleep(3)
        local = Runtime(Settings(data_dir=tmp / "d", secrets_dir=tmp / "s", admin_key="x" * 20)).invoker
        pool = PoolInvoker([f"http://127.0.0.1:{port}"], secret, heartbeat_seconds=3600)
        call = DescribeWorker()
        event = call.to_json()
        timings: dict[str, float] = {}
        for name, inv in (("in-process", local), ("pool (HTTP, signed)", pool)):
            for _ in range(50):
                inv.invoke(call.function, event)
            samples = []
            for _ in range(n):
                t = time.perf_counter()
                inv.invoke(call.function, event)
                samples.append(time.perf_counter() - t)
            timings[name] = statistics.fmean(samples) * 1e6
        pool.close()
        return timings
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(10)


def s3_flags(endpoint: str) -> tuple[list[str], dict[str, str]]:
    bucket = f"pool-{secrets.token_hex(4)}"
    return (["--s3-endpoint", endpoint, "--s3-bucket", bucket, "--s3-create-bucket"],
            {"S3_ACCESS_KEY": "test", "S3_SECRET_KEY": "test"})  # fmt: skip


@contextlib.contextmanager
def s3_server(latency: float | None) -> Iterator[tuple[list[str], dict[str, str]]]:
    """A fresh moto per measurement (moto slows down as it fills), behind the relay if asked."""
    moto = start_moto()
    proxy = LatencyProxy(int(moto.endpoint.rsplit(":", 1)[1]), latency) if latency else None
    try:
        yield s3_flags(proxy.endpoint if proxy else moto.endpoint)
    finally:
        if proxy:
            proxy.close()
        moto.stop()


@contextlib.contextmanager
def filesystem() -> Iterator[tuple[list[str], dict[str, str]]]:
    yield [], {}


def cpu_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=6.0, help="seconds per wrk phase (default 6)")
    p.add_argument("--hops", type=int, default=2000, help="invocations for the hop measurement (default 2000)")
    p.add_argument("--latency-ms", default="40,100",
                   help="ms added to each S3 request, one I/O-bound setup each (default 40,100)")  # fmt: skip
    p.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    p.add_argument("--rounds", type=int, default=2, help="1-vs-2 pairs per setup, order alternating (default 2)")
    p.add_argument("--only", choices=["fs", "s3", "s3-latency"], action="append", help="run only these setups")
    args = p.parse_args(argv)
    latencies = [float(x) for x in args.latency_ms.split(",") if x.strip()]
    setups: list[tuple[str, str, Callable[[], Any]]] = [
        ("fs", "fs", filesystem),
        ("s3", "s3 (moto)", lambda: s3_server(None)),
    ]
    for ms in latencies:
        setups.append(("s3-latency", f"s3 +{ms:g}ms", lambda ms=ms: s3_server(ms / 1000)))  # type: ignore[misc]
    chosen = [(label, server) for kind, label, server in setups if not args.only or kind in args.only]
    runs: dict[str, list[dict[str, Any]]] = {}
    for label, server in chosen:
        for r in range(args.rounds):
            for workers in (1, 2) if r % 2 == 0 else (2, 1):  # ABBA: drift does not favour either
                with server() as (extra, env_extra):
                    proc, url, key = start_up(workers, extra, env_extra)
                    try:
                        before = cpu_busy()
                        row: dict[str, Any] = dict(drive(url, key, args.duration, args.connections))
                        after = cpu_busy()
                    finally:
                        stop(proc)
                row["cpu"] = 100 * (after[0] - before[0]) / max(1, after[1] - before[1])
                runs.setdefault(f"{label} / {workers} worker(s)", []).append(row)
    results = {
        name: {
            **{op: (statistics.fmean(r[op][0] for r in rows), max(r[op][1] for r in rows)) for op in ("put", "get")},
            "cpu": statistics.fmean(r["cpu"] for r in rows),
        }
        for name, rows in runs.items()
    }
    hops = hop_overhead(args.hops)
    print(f"cpus={os.cpu_count()} python={sys.version.split()[0]}; wrk {args.connections} connections, 1 KiB docs, "
          "admin key; 's3 +N ms': moto behind a relay adding N ms to each request")  # fmt: skip
    print(f"mean req/s and worst p99 over {args.rounds} round(s), each run on a fresh S3 server; "
          "cpu = whole machine busy during the run")  # fmt: skip
    head = f"{'PUT req/s':>10} {'PUT p99':>8} {'GET req/s':>10} {'GET p99':>8} {'cpu':>5}"
    print(f"\n{'setup':26} {head}   PUT / GET req/s per round")
    for name, res in results.items():
        (pr, pp), (gr, gp) = res["put"], res["get"]
        each = "  ".join(f"{r['put'][0]:.0f}/{r['get'][0]:.0f}" for r in runs[name])
        print(f"{name:26} {pr:>10,.0f} {pp:>7.1f}ms {gr:>10,.0f} {gp:>7.1f}ms {res['cpu']:>4.0f}%   {each}")
    for label, _ in chosen:
        one, two = results[f"{label} / 1 worker(s)"], results[f"{label} / 2 worker(s)"]
        print(f"{label}: 2 workers / 1 worker = PUT {two['put'][0] / one['put'][0]:.2f}x, "
              f"GET {two['get'][0] / one['get'][0]:.2f}x")  # fmt: skip
    print("\none invocation of DescribeWorker (the heartbeat), mean:")
    for name, us in hops.items():
        print(f"  {name:22} {us:8.0f} µs")
    print(f"  hop overhead           {hops['pool (HTTP, signed)'] - hops['in-process']:8.0f} µs")
    out = REPO / "bench" / "results" / f"pool-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"results": results, "runs": runs, "hops_us": hops, "latency_ms": latencies,
                               "connections": args.connections}, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
