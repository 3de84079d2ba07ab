"""s3_bench's comparison rows: bare boto3 and our API on the same S3 server, one client
interleaved op by op (latency) and ``--threads`` clients one after another (throughput)."""

from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from s3_bench_clients import DOC, Ours, Server, default_client, lean_client, s3_client


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def summarize(name: str, samples: list[float], wall: float, clients: int) -> dict[str, Any]:
    return {
        "name": name,
        "clients": clients,
        "ops": len(samples),
        "ops_per_s": len(samples) / wall,
        "p50_ms": pct(samples, 0.50),
        "p99_ms": pct(samples, 0.99),
        "mean_ms": statistics.fmean(samples) * 1000,
    }


def run_loop(op: Callable[[int, int], None], n: int, clients: int) -> tuple[list[float], float]:
    """Run ``op(client, i)`` n times per client; return per-op latencies and wall time.

    A client that fails ends the benchmark (raised here), never a row with fewer ops.
    """
    samples: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(c: int) -> None:
        local = []
        try:
            for i in range(n):
                t = time.perf_counter()
                op(c, i)
                local.append(time.perf_counter() - t)
        except BaseException as exc:  # re-raised in the main thread
            errors.append(exc)
        with lock:
            samples.extend(local)

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} of {clients} clients failed") from errors[0]
    return samples, time.perf_counter() - start


BARE, TUNED, LEAN, OURS = "boto3 default", "boto3 our config", "lean client", "ours"


def compare(endpoint: str, n: int, threads: int, workers: int, credential: str = "admin") -> list[dict[str, Any]]:
    """Bare boto3 (default client, and our client config), our lean client, and our API on the same S3 server.

    The single-client rows interleave them (default op, our-config op, our op, ...) so
    that drift of the S3 server (moto slows as buckets fill) hits all alike; the
    concurrent rows run one after the other.
    """
    bucket = f"bare-{uuid.uuid4().hex[:10]}"
    clients = [default_client(endpoint) for _ in range(threads)]
    clients[0].create_bucket(Bucket=bucket)
    tuned, lean = s3_client(endpoint), lean_client(endpoint, bucket)
    body = json.dumps({"doc": DOC}).encode()
    server = Server(endpoint, workers)
    try:
        ours = Ours(server, threads, credential)
        for c in range(threads):  # warm connections on all sides
            clients[c].put_object(Bucket=bucket, Key="warm", Body=body)
            ours.call(c, "PUT", "/entity/bench", json.dumps({f"warm{c}": {"doc": DOC}}))
        tuned.put_object(Bucket=bucket, Key="warm", Body=body)
        lean.put_object(Bucket=bucket, Key="warm", Body=body)
        floor = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)  # no auth: no S3 behind it
        rows = []
        lat: dict[str, list[float]] = {}

        def timed(name: str, fn: Callable[[], object]) -> None:
            t = time.perf_counter()
            fn()
            lat.setdefault(name, []).append(time.perf_counter() - t)

        def health() -> None:
            floor.request("GET", "/health")
            floor.getresponse().read()

        for i in range(n):
            timed(
                f"{BARE} put_object", lambda i=i: clients[0].put_object(Bucket=bucket, Key=f"files/b/s-{i}", Body=body)
            )
            timed(f"{TUNED} put_object", lambda i=i: tuned.put_object(Bucket=bucket, Key=f"files/t/s-{i}", Body=body))
            timed(f"{LEAN} put_object", lambda i=i: lean.put_object(Bucket=bucket, Key=f"files/l/s-{i}", Body=body))
            timed(
                f"{OURS} PUT /entity",
                lambda i=i: ours.call(0, "PUT", "/entity/bench", json.dumps({f"s-{i}": {"doc": DOC}})),
            )
        for i in range(n):
            timed(
                f"{BARE} get_object",
                lambda i=i: clients[0].get_object(Bucket=bucket, Key=f"files/b/s-{i}")["Body"].read(),
            )
            timed(
                f"{TUNED} get_object", lambda i=i: tuned.get_object(Bucket=bucket, Key=f"files/t/s-{i}")["Body"].read()
            )
            timed(f"{LEAN} get_object", lambda i=i: lean.get_object(Bucket=bucket, Key=f"files/l/s-{i}")["Body"].read())
            timed(f"{OURS} GET /entity (warm)", lambda i=i: ours.call(0, "GET", f"/entity/bench?key=s-{i}"))
            timed(f"{OURS} GET /health (no S3)", health)
        # Interleaved: each row's ops/s is its own back-to-back rate, 1 / mean latency.
        rows += [summarize(name, samples, sum(samples), 1) for name, samples in lat.items()]

        def bput(c: int, i: int) -> None:
            clients[c].put_object(Bucket=bucket, Key=f"files/b/m-{c}-{i}", Body=body)

        def bget(c: int, i: int) -> None:
            clients[c].get_object(Bucket=bucket, Key=f"files/b/m-{c}-{i}")["Body"].read()

        def oput(c: int, i: int) -> None:
            ours.call(c, "PUT", "/entity/bench", json.dumps({f"m-{c}-{i}": {"doc": DOC}}))

        def oget(c: int, i: int) -> None:
            ours.call(c, "GET", f"/entity/bench?key=m-{c}-{i}")

        ours.reconnect()
        for c in range(threads):
            ours.call(c, "GET", "/entity/bench?key=warm0")
        for name, op in ((f"{BARE} put_object", bput), (f"{OURS} PUT /entity", oput),
                         (f"{BARE} get_object", bget), (f"{OURS} GET /entity (warm)", oget)):  # fmt: skip
            samples, wall = run_loop(op, n, threads)
            rows.append(summarize(name, samples, wall, threads))
        return rows
    finally:
        server.stop()
