"""Where our S3 PUT's time goes without HTTP: the thread hand-off against our own work.

s3_bench.py times what a client sees. This runs our ASGI app (local/asgi.py, the S3
backend) in-process against moto server mode, with no HTTP between, and interleaves op by
op, p50 of each:

- bare ``put_object`` / ``get_object`` (our adapter's client config) on the calling thread;
- the same bare call on one of our app's pool threads (``run_in_executor``);
- our ``PUT /entity`` / warm ``GET /entity`` on the pool, as ``deltadb serve`` runs on S3;
- the same request inline on the event loop (``DELTADB_INLINE=all``).

Ours on the pool minus ours inline is what the thread hand-off costs with an S3 wait in
it; bare on a pool thread minus bare on the calling thread is the same cost without our
code. Ours inline minus bare is our request's own work around the S3 call (for GET, our
warm read is a conditional GetObject answered 304 without a body, so it can be below
bare).

    .venv/bin/python bench/s3_thread_cost.py [--ops 400]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from request_cpu import call, document, our_app, quiet_logs, scope  # noqa: E402

from tests.s3servers import start_moto  # noqa: E402

WARM = 50


async def measure(ops: int, app: Any, token: str, client: Any, bucket: str) -> dict[str, list[float]]:
    loop = asyncio.get_running_loop()
    value = json.loads(document(0, 1024))
    body = json.dumps(value).encode()
    times: dict[str, list[float]] = {}

    async def timed(name: str, i: int, step: Callable[[], Awaitable[Any]]) -> None:
        t = time.perf_counter()
        await step()
        if i >= WARM:
            times.setdefault(name, []).append(time.perf_counter() - t)

    async def ours(method: str, key: str, inline: bool) -> None:
        app.inline_all = inline  # type: ignore[attr-defined]
        put = method == "PUT"
        sc = scope(method, "/entity/db", "" if put else f"key={key}", token)
        status, out = await call(app, sc, json.dumps({key: value}).encode() if put else b"")
        app.inline_all = False  # type: ignore[attr-defined]
        assert status == 200, out

    async def here(fn: Callable[[], Any]) -> None:
        fn()

    async def pooled(fn: Callable[[], Any]) -> None:
        await loop.run_in_executor(app.pool, fn)  # type: ignore[attr-defined]

    for i in range(ops + WARM):
        put_bare = lambda i=i: client.put_object(Bucket=bucket, Key=f"bare/{i}", Body=body)  # noqa: E731
        await timed("PUT bare, calling thread", i, lambda f=put_bare: here(f))
        await timed("PUT bare, pool thread", i, lambda f=put_bare: pooled(f))
        await timed("PUT ours, pool (S3 default)", i, lambda i=i: ours("PUT", f"p{i}", False))
        await timed("PUT ours, inline", i, lambda i=i: ours("PUT", f"i{i}", True))
    for i in range(ops + WARM):
        get_bare = lambda i=i: client.get_object(Bucket=bucket, Key=f"bare/{i}")["Body"].read()  # noqa: E731
        await timed("GET bare, calling thread", i, lambda f=get_bare: here(f))
        await timed("GET bare, pool thread", i, lambda f=get_bare: pooled(f))
        await timed("GET ours, pool (S3 default)", i, lambda i=i: ours("GET", f"p{i}", False))
        await timed("GET ours, inline", i, lambda i=i: ours("GET", f"p{i}", True))
    return times


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ops", type=int, default=400, help="timed operations per row (default 400)")
    args = p.parse_args(argv)
    from chalicelib.storage.s3_client import S3Options
    from chalicelib.storage.s3_client import make_boto3_client as make_client

    moto = start_moto()
    try:
        bare, ours = f"bare-{uuid.uuid4().hex[:10]}", f"ours-{uuid.uuid4().hex[:10]}"
        client = make_client(S3Options(bucket=bare, endpoint=moto.endpoint, access_key="t", secret_key="t"))
        for bucket in (bare, ours):
            client.create_bucket(Bucket=bucket)
        os.environ.update({"S3_ENDPOINT": moto.endpoint, "S3_BUCKET": ours, "S3_ACCESS_KEY": "t", "S3_SECRET_KEY": "t"})
        quiet_logs()
        app, token = our_app(Path(tempfile.mkdtemp(prefix="s3-threads-")), "WARNING")
        times = asyncio.run(measure(args.ops, app, token, client, bare))
    finally:
        moto.stop()
    p50 = {name: statistics.median(samples) * 1000 for name, samples in times.items()}
    print(f"moto server mode, in-process, {args.ops} interleaved ops per row, 1 KiB documents; p50 ms")
    for name, ms in p50.items():
        print(f"  {name:30} {ms:7.2f}")
    for op in ("PUT", "GET"):
        bare, ours_pool, ours_inline = (
            p50[f"{op} bare, calling thread"],
            p50[f"{op} ours, pool (S3 default)"],
            p50[f"{op} ours, inline"],
        )
        print(
            f"{op}: hand-off with an S3 wait in it {ours_pool - ours_inline:+.2f} ms (bare alone "
            f"{p50[f'{op} bare, pool thread'] - bare:+.2f}); ours inline minus bare {ours_inline - bare:+.2f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
