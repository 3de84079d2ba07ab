"""PUT latency with AWS KMS as the master, with and without the database-key cache.

    .venv/bin/python bench/kms_cache_bench.py [--puts 300] [--rounds 3] [--storage fs|memory]

Starts moto in server mode (KMS over HTTP on 127.0.0.1), creates a KMS key, and runs
``--puts`` single-entity PUTs (1 KiB documents) through the processing function
(``Runtime.handle("entity_worker", entity.put)``, the code a Lambda invocation runs)
with ``DELTADB_KEY_CACHE_MAX_AGE`` = 5s (the default) and = 0 (cache off: every PUT
reads the database key record and calls KMS Decrypt), alternating over ``--rounds``.
Prints the median and p95 latency of each and the KMS calls per PUT.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.s3servers import start_moto  # noqa: E402  (the one way the repo starts moto)


def run(mode: str, key_arn: str, puts: int, storage_kind: str) -> tuple[list[float], int]:
    from chalicelib.bootstrap import Runtime
    from chalicelib.config import Settings
    from chalicelib.handlers.protocol import PutEntity
    from chalicelib.storage.memory import MemoryStorage

    tmp = Path(tempfile.mkdtemp(prefix="kms-bench-"))
    try:
        settings = Settings(
            data_dir=tmp / "data", secrets_dir=tmp / "secrets", admin_key="bench-admin-key-0123456789",
            kms_key_id=key_arn, kms_region="us-east-1", key_cache_seconds=5.0 if mode == "cache" else 0.0,
        )  # fmt: skip
        runtime = Runtime(settings, storage=MemoryStorage() if storage_kind == "memory" else None)
        doc = '{"d":"' + "x" * 1000 + '"}'
        runtime.handle("entity_worker", PutEntity("bench", "warm", doc).to_json())  # creates the database key
        databases = runtime.processing.keys.databases
        start_unwraps = databases.unwraps
        times = []
        for i in range(puts):
            t0 = time.perf_counter()
            result: dict[str, Any] = runtime.handle("entity_worker", PutEntity("bench", f"k{i}", doc).to_json())
            times.append(time.perf_counter() - t0)
            assert "error" not in result, result
        return times, databases.unwraps - start_unwraps
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--puts", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--storage", choices=("fs", "memory"), default="fs")
    args = parser.parse_args()
    moto = start_moto()
    url = moto.endpoint
    try:
        os.environ |= {"AWS_ENDPOINT_URL_KMS": url, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
        import boto3

        arn = boto3.client("kms", endpoint_url=url, region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
        results: dict[str, list[float]] = {"cache": [], "no cache": []}
        calls: dict[str, int] = {"cache": 0, "no cache": 0}
        for r in range(args.rounds):
            for mode in ("cache", "no cache") if r % 2 == 0 else ("no cache", "cache"):
                times, kms_calls = run(mode, arn, args.puts, args.storage)
                results[mode] += times
                calls[mode] += kms_calls
        total = args.puts * args.rounds
        print(f"KMS: moto server {url}; storage: {args.storage}; {total} PUTs of 1 KiB per mode")
        print(f"{'mode':10} {'median ms':>10} {'p95 ms':>8} {'KMS Decrypt per PUT':>20}")
        for mode, times in results.items():
            p95 = statistics.quantiles(times, n=20)[-1]
            median = statistics.median(times)
            print(f"{mode:10} {median * 1000:10.2f} {p95 * 1000:8.2f} {calls[mode] / total:20.3f}")
    finally:
        moto.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
