"""S3 backend benchmark: our API next to a bare boto3 loop, on the same S3 server, in one run.

One command::

    .venv/bin/python bench/s3_bench.py                     # starts moto server mode itself
    .venv/bin/python bench/s3_bench.py --localstack        # starts LocalStack (tests/s3servers.py) itself
    .venv/bin/python bench/s3_bench.py --endpoint http://127.0.0.1:4566   # any running S3 server

1. Latency, one client: bare boto3 ``put_object`` / ``get_object`` of 1 KiB objects and
   our ``PUT /entity`` / warm ``GET /entity`` (``deltadb serve`` on the same S3 server,
   one keep-alive HTTP client) *interleaved* op by op, so drift of the S3 server during
   the run (moto slows as buckets fill) affects both sides alike. p50, p99, and the
   back-to-back rate (1 / mean latency). Two bare references: ``boto3.client("s3")`` as a
   user writes it (botocore's defaults: a CRC32 checksum and ``Expect: 100-continue`` on
   every PutObject), the one the target is about; and a client with our adapter's
   config (chalicelib/storage/s3_client.py: no checksums, no Expect), the stricter
   floor. Also interleaved: our server's public ``GET /health`` (no S3): the cost of the
   HTTP hop itself (client, Granian, ASGI adapter, thread hand-off, gateway, route).
2. Throughput, ``--threads`` concurrent clients: the default client's loops and ours,
   one after another.
3. S3 requests per API operation, counted with botocore event hooks on the app's own
   S3 client (the same route and handler code, run in-process), including whether a
   warm GET transferred a body (200) or not (304).

Targets (issue 12): PUT and GET p50 <= 1.15x bare boto3; exactly 1 S3 request per entity
PUT and per GET (exit 1 otherwise); a warm GET that transfers no body when unchanged.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.s3servers import S3Server, free_port, localstack_python, start_localstack, start_moto  # noqa: E402

DOC = "x" * 1000


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


def s3_client(endpoint: str) -> Any:
    """A client with our S3 adapter's own config (no checksums, no Expect: 100-continue)."""
    from chalicelib.storage.s3 import S3Options, make_client

    return make_client(S3Options(endpoint=endpoint, access_key="test", secret_key="test"))


def default_client(endpoint: str) -> Any:
    """boto3's S3 client as a user writes it: botocore's defaults, nothing tuned."""
    import boto3

    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )


class Server:
    def __init__(self, endpoint: str, workers: int) -> None:
        self.port = free_port()
        self.admin_key = secrets.token_urlsafe(24)
        self.dir = Path(tempfile.mkdtemp(prefix="s3bench-"))
        env = {**os.environ, "DELTADB_ADMIN_KEY": self.admin_key, "S3_ACCESS_KEY": "test", "S3_SECRET_KEY": "test"}
        cmd = [
            str(Path(sys.executable).parent / "deltadb"), "serve", "--port", str(self.port),
            "--data-dir", str(self.dir / "data"), "--processes", str(workers), "--s3-endpoint", endpoint,
            "--s3-bucket", f"ours-{uuid.uuid4().hex[:10]}", "--s3-create-bucket", "--log-level", "WARNING",
        ]  # fmt: skip
        self.log = open(self.dir / "server.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError((self.dir / "server.log").read_text())

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(15)


class Ours:
    """A keep-alive HTTP client per thread for our server."""

    def __init__(self, server: Server, clients: int) -> None:
        self.port = server.port
        self.conns = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=30) for _ in range(clients)]
        self.headers = {"Authorization": f"Bearer {server.admin_key}", "Content-Type": "application/json"}

    def reconnect(self) -> None:
        """Fresh connections: the server closes a keep-alive connection left idle for 30 s (Granian's
        header read timeout), as the concurrent clients' are while the one-client rows run."""
        for conn in self.conns:
            conn.close()
        self.conns = [http.client.HTTPConnection("127.0.0.1", self.port, timeout=30) for _ in self.conns]

    def call(self, c: int, method: str, path: str, body: str | None = None) -> bytes:
        self.conns[c].request(method, path, body=body, headers=self.headers)
        r = self.conns[c].getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f"{method} {path}: {r.status} {data[:200]!r}")
        return data


BARE, TUNED, OURS = "boto3 default", "boto3 our config", "ours"


def compare(endpoint: str, n: int, threads: int, workers: int) -> list[dict[str, Any]]:
    """Bare boto3 (default client, and our client config) and our API on the same S3 server.

    The single-client rows interleave them (default op, our-config op, our op, ...) so
    that drift of the S3 server (moto slows as buckets fill) hits all alike; the
    concurrent rows run one after the other.
    """
    bucket = f"bare-{uuid.uuid4().hex[:10]}"
    clients = [default_client(endpoint) for _ in range(threads)]
    tuned = s3_client(endpoint)
    clients[0].create_bucket(Bucket=bucket)
    body = json.dumps({"doc": DOC}).encode()
    server = Server(endpoint, workers)
    try:
        ours = Ours(server, threads)
        for c in range(threads):  # warm connections on all sides
            clients[c].put_object(Bucket=bucket, Key="warm", Body=body)
            ours.call(c, "PUT", "/entity/bench", json.dumps({f"warm{c}": {"doc": DOC}}))
        tuned.put_object(Bucket=bucket, Key="warm", Body=body)
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


def requests_per_operation(endpoint: str) -> dict[str, Any]:
    """Count S3 requests per API operation with botocore hooks on the app's S3 client."""
    from chalice.test import Client

    from chalicelib.bootstrap import Runtime
    from chalicelib.config import Settings
    from chalicelib.storage.s3 import S3Options, S3Storage
    from chalicelib.webapp import create_app

    tmp = Path(tempfile.mkdtemp(prefix="s3count-"))
    key = secrets.token_urlsafe(24)
    store = S3Storage.from_options(
        S3Options(bucket=f"count-{uuid.uuid4().hex[:10]}", endpoint=endpoint, access_key="test", secret_key="test")
    )
    assert store.check(create=True) is None
    settings = Settings(data_dir=tmp / "d", secrets_dir=tmp / "s", admin_key=key, storage="s3")
    runtime = Runtime(settings, storage=store)
    ops: Counter[str] = Counter()
    statuses: list[str] = []
    store.client.meta.events.register(
        "before-send.s3", lambda event_name, **kw: ops.update([event_name.split(".")[-1]])
    )
    store.client.meta.events.register(
        "after-call.s3", lambda http_response, model, **kw: statuses.append(f"{model.name} {http_response.status_code}")
    )
    admin = {"Authorization": f"Bearer {key}"}
    results: dict[str, Any] = {}
    with Client(create_app(runtime)) as client:
        created = json.loads(client.http.post("/api/keys", body='{"name":"b","permissions":["read","write"]}',
                                              headers=admin).body)  # fmt: skip
        token = json.loads(client.http.post("/api/login", body=json.dumps({"key": created["secret"]})).body)["token"]
        client.http.put("/entity/db", body=json.dumps({"w": 0}), headers=admin)  # schema cache warm
        client.http.delete("/entity/db?key=w", headers=admin)  # learns conditional-delete support

        def measure(label: str, method: str, path: str, body: str | None, headers: dict[str, str]) -> None:
            ops.clear()
            statuses.clear()
            r = client.http.request(method, path, body=body, headers=headers)
            assert r.status_code == 200, (label, r.status_code, r.body)
            results[label] = {"requests": sum(ops.values()), "by_operation": dict(ops), "responses": list(statuses)}

        for who, h in (("admin key", admin), ("session of an API key", {"Authorization": f"Bearer {token}"})):
            measure(f"PUT 1 entity [{who}]", "PUT", "/entity/db", json.dumps({"k": {"doc": DOC}}), h)
            measure(f"PUT 10 entities [{who}]", "PUT", "/entity/db",
                    json.dumps({f"m{i}": i for i in range(10)}), h)  # fmt: skip
            runtime.processing.entity_handler.entities.cache.clear()
            measure(f"GET cold [{who}]", "GET", "/entity/db?key=k", None, h)
            measure(f"GET warm [{who}]", "GET", "/entity/db?key=k", None, h)
            measure(f"DELETE [{who}]", "DELETE", "/entity/db?key=m0", None, h)
    return results


def start_server(args: argparse.Namespace) -> S3Server | None:
    if args.endpoint:
        return None
    if not args.localstack:
        return start_moto()
    if localstack_python() is None:
        raise SystemExit("LocalStack not installed: make localstack, or set DELTADB_LOCALSTACK_PYTHON")
    return start_localstack()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--endpoint", help="a running S3 server (default: start moto server mode)")
    where.add_argument("--localstack", action="store_true", help="start LocalStack (its venv, no Docker) and use it")
    p.add_argument("--ops", type=int, default=500, help="operations per loop per client (default 500)")
    p.add_argument("--threads", type=int, default=8, help="concurrent clients for the throughput rows (default 8)")
    p.add_argument("--processes", type=int, default=2, help="deltadb server processes (default 2)")
    args = p.parse_args(argv)
    s3 = start_server(args)
    endpoint = args.endpoint or s3.endpoint  # type: ignore[union-attr]
    try:
        rows = compare(endpoint, args.ops, args.threads, args.processes)
        counts = requests_per_operation(endpoint)
    finally:
        if s3:
            s3.stop()
    started = f"{s3.name} (started by the bench) at {endpoint}" if s3 else endpoint
    print(f"S3 server: {started}; cpus={os.cpu_count()} python={sys.version.split()[0]}; 1 KiB documents")
    print(f"command: {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    print(f"\n{'loop':32} {'clients':>7} {'ops':>6} {'ops/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for r in rows:
        cells = f"{r['ops_per_s']:>8.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}"
        print(f"{r['name']:32} {r['clients']:>7} {r['ops']:>6} {cells}")
    p50 = {r["name"]: r["p50_ms"] for r in rows if r["clients"] == 1}
    ratios = {
        f"{op} vs {ref}": p50[f"{OURS} {ours_row}"] / p50[f"{ref} {bare_row}"]
        for op, ours_row, bare_row in (
            ("PUT", "PUT /entity", "put_object"),
            ("GET", "GET /entity (warm)", "get_object"),
        )
        for ref in (BARE, TUNED)
    }
    print("\np50 ours / bare (target <= 1.15x against boto3 as a user writes it):")
    for label, ratio in ratios.items():
        print(f"  {label:24} {ratio:.2f}x")
    print(f"  HTTP hop alone (GET /health, no S3): {p50[f'{OURS} GET /health (no S3)']:.2f} ms p50")
    print("\nS3 requests per API operation (botocore hooks on the app's own client):")
    for label, c in counts.items():
        print(f"  {label:40} {c['requests']:>3}  {c['by_operation']}  {c['responses']}")
    out = REPO / "bench" / "results" / f"s3-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"server": started, "rows": rows, "p50_ratios": ratios, "requests": counts}, indent=2))
    print(f"\nwritten: {out.relative_to(REPO)}")
    one_each = ("PUT 1 entity [admin key]", "GET cold [admin key]", "GET warm [admin key]")
    return 0 if all(counts[label]["requests"] == 1 for label in one_each) else 1


if __name__ == "__main__":
    sys.exit(main())
