"""Worker-pool benchmark: `deltadb up` with 1 and with 2 processing workers, in one run.

    .venv/bin/python bench/pool_bench.py            # FS backend and moto S3, 1 and 2 workers

For each backend (filesystem; moto server mode as the S3 server) and worker count, it
starts `deltadb up --workers N` and drives it with wrk through bench/http_bench.py
(`--url`: 16 connections, 1 KiB documents, PUT then warm GET, admin key), printing
req/s and p99. Then the cost of one invocation hop: `worker.info` invoked in-process vs
through the pool (boto3 Lambda client -> local worker over HTTP, signed), in µs.
"""

from __future__ import annotations

import argparse
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
    """Mean µs of one worker.info invocation: in-process vs through a local worker."""
    import app as app_module
    from chalicelib.config import Settings
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
        app_module.runtime.configure(Settings(data_dir=tmp / "d", secrets_dir=tmp / "s", admin_key="x" * 20))
        local = app_module.runtime.invoker
        pool = PoolInvoker([f"http://127.0.0.1:{port}"], secret, heartbeat_seconds=3600)
        event = {"op": "worker.info"}
        timings: dict[str, float] = {}
        for name, inv in (("in-process", local), ("pool (HTTP, signed)", pool)):
            for _ in range(50):
                inv.invoke("entity_worker", event)
            samples = []
            for _ in range(n):
                t = time.perf_counter()
                inv.invoke("entity_worker", event)
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=6.0, help="seconds per wrk phase (default 6)")
    p.add_argument("--hops", type=int, default=2000, help="invocations for the hop measurement (default 2000)")
    p.add_argument("--latency-ms", type=float, default=40.0,
                   help="delay added to each S3 request in the I/O-bound setup (default 40)")  # fmt: skip
    p.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    p.add_argument("--only", choices=["fs", "s3", "s3-latency"], action="append", help="run only these setups")
    args = p.parse_args(argv)
    results: dict[str, Any] = {}
    moto = start_moto()
    proxy = LatencyProxy(int(moto.endpoint.rsplit(":", 1)[1]), args.latency_ms / 1000)
    slow = f"s3 +{args.latency_ms:g}ms"
    backends = {"fs": ("fs", lambda: ([], {})), "s3": ("s3 (moto)", lambda: s3_flags(moto.endpoint)),
                "s3-latency": (slow, lambda: s3_flags(proxy.endpoint))}  # fmt: skip
    chosen = [b for b in backends if not args.only or b in args.only]
    try:
        for b in chosen:
            label, flags = backends[b]
            for workers in (1, 2):
                extra, env_extra = flags()
                proc, url, key = start_up(workers, extra, env_extra)
                try:
                    results[f"{label} / {workers} worker(s)"] = drive(url, key, args.duration, args.connections)
                finally:
                    stop(proc)
    finally:
        proxy.close()
        moto.stop()
    hops = hop_overhead(args.hops)
    print(f"cpus={os.cpu_count()} python={sys.version.split()[0]}; wrk {args.connections} connections, "
          f"1 KiB docs, admin key; '{slow}': moto behind a relay adding {args.latency_ms:g} ms a request")  # fmt: skip
    print(f"\n{'setup':26} {'PUT req/s':>10} {'PUT p99':>8} {'GET req/s':>10} {'GET p99':>8}")
    for name, rows in results.items():
        (pr, pp), (gr, gp) = rows["put"], rows["get"]
        print(f"{name:26} {pr:>10,.0f} {pp:>7.1f}ms {gr:>10,.0f} {gp:>7.1f}ms")
    for b in chosen:
        label = backends[b][0]
        one, two = results[f"{label} / 1 worker(s)"], results[f"{label} / 2 worker(s)"]
        print(f"{label}: 2 workers / 1 worker = PUT {two['put'][0] / one['put'][0]:.2f}x, "
              f"GET {two['get'][0] / one['get'][0]:.2f}x")  # fmt: skip
    print("\none invocation of worker.info, mean:")
    for name, us in hops.items():
        print(f"  {name:22} {us:8.0f} µs")
    print(f"  hop overhead           {hops['pool (HTTP, signed)'] - hops['in-process']:8.0f} µs")
    out = REPO / "bench" / "results" / f"pool-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"results": results, "hops_us": hops, "latency_ms": args.latency_ms,
                               "connections": args.connections}, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
