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
   floor. Also interleaved: our adapter's lean client alone (chalicelib/storage/s3_lean.py,
   what our server's S3 calls go through here), and our server's public ``GET /health``
   (no S3): the cost of the HTTP hop itself (client, Granian, ASGI adapter, thread
   hand-off, gateway, route).
2. Throughput, ``--threads`` concurrent clients: the default client's loops and ours,
   one after another.
3. S3 requests per API operation, as the app's own S3 client sends them
   (tests/s3_wire.py; the same route and handler code, run in-process), including
   whether a warm GET transferred a body (200) or not (304).

Targets (issue 12): PUT and GET p50 <= 1.15x bare boto3; exactly 1 S3 request per entity
PUT and per GET (exit 1 otherwise); a warm GET that transfers no body when unchanged.
"""

# This module: the options, the S3 server to use and the printed summary; the rows are made by
# s3_bench_compare.py (bare boto3 beside our API), s3_bench_requests.py (S3 requests per operation).
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from s3_bench_compare import BARE, LEAN, OURS, TUNED, compare  # noqa: E402
from s3_bench_requests import REUSED, requests_per_operation  # noqa: E402

from tests.s3servers import S3Server, localstack_python, start_localstack, start_moto  # noqa: E402


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
    p.add_argument(
        "--credential", choices=("admin", "apikey-session"), default="admin",
        help="what our client authenticates with (default: the admin key). A dk_ key's session costs one more "
        "S3 read per request unless the server reuses key records (DELTADB_APIKEY_REVALIDATE_SECONDS in the env)",
    )  # fmt: skip
    args = p.parse_args(argv)
    s3 = start_server(args)
    endpoint = args.endpoint or s3.endpoint  # type: ignore[union-attr]
    try:
        rows = compare(endpoint, args.ops, args.threads, args.processes, args.credential)
        counts = requests_per_operation(endpoint)
    finally:
        if s3:
            s3.stop()
    started = f"{s3.name} (started by the bench) at {endpoint}" if s3 else endpoint
    print(f"S3 server: {started}; cpus={os.cpu_count()} python={sys.version.split()[0]}; 1 KiB documents")
    env = [f"{v}={os.environ[v]}" for v in ("DELTADB_APIKEY_REVALIDATE_SECONDS",) if v in os.environ]
    print(f"command: {' '.join([*env, Path(sys.argv[0]).name, *sys.argv[1:]])}")
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
    for op in ("put_object", "get_object"):  # what the lean client alone saves, no server of ours involved
        print(f"  lean client / boto3 our config, {op}: {p50[f'{LEAN} {op}'] / p50[f'{TUNED} {op}']:.2f}x")
    print("\nS3 requests per API operation (as the app's own S3 client sends them):")
    for label, c in counts.items():
        print(f"  {label:46} {c['requests']:>3}  {c['by_operation']}  {c['responses']}")
    out = REPO / "bench" / "results" / f"s3-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"server": started, "rows": rows, "p50_ratios": ratios, "requests": counts}, indent=2))
    print(f"\nwritten: {out.relative_to(REPO)}")
    one_each = ("PUT 1 entity [admin key]", "GET cold [admin key]", "GET warm [admin key]")
    one_each += (f"PUT 1 entity [{REUSED}]", f"GET warm [{REUSED}]")
    return 0 if all(counts[label]["requests"] == 1 for label in one_each) else 1


if __name__ == "__main__":
    sys.exit(main())
