"""Rate (entities/s) of ``deltadb rewrap`` on the filesystem and on moto's S3 server, two walks.

    .venv/bin/python bench/rewrap_bench.py [--entities 10000] [--backend fs|moto|both]

Fills a store with N format-1 entities (as written before format 2; ~200-byte values,
4 databases) under the first key of a keyring, rotates the key file (a new active
version; no database key record exists yet), then times two ``deltadb rewrap --json``
subprocesses (start-up included) and checks their counts:

1. migration: every entity re-encrypted to format 2 (compare-and-swap per entity);
2. steady state: after a second rotation of the key file (the 4 database key records
   left under the previous version), the walk over N format-2 entities that moves the
   4 records and counts every entity as skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chalicelib import provisioning  # noqa: E402
from chalicelib.config import Settings  # noqa: E402
from chalicelib.crypto import key_file as key_files  # noqa: E402
from chalicelib.crypto.local_keyring import LocalKeyRing  # noqa: E402
from chalicelib.entities import entity_object  # noqa: E402
from chalicelib.storage.base import Storage  # noqa: E402
from tests.keyhelpers import seal_v1  # noqa: E402


def fill_v1(storage: Storage, key_file: Path, n: int) -> None:
    master = LocalKeyRing.from_file(key_file)
    value = json.dumps({"text": "x" * 180}).encode()

    def put(i: int) -> None:
        db, key = f"db{i % 4}", f"k{i:06d}"
        storage.put(entity_object(db, key), seal_v1(master, db, key, value))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(n)))


def timed_rewrap(flags: list[str], env: dict[str, str], expected: dict[str, int]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "local.cli", "rewrap", "--json", *flags],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - t0
    counts = json.loads(done.stdout)
    assert counts == {**expected, "failed": 0}, counts
    return elapsed


def bench(backend: str, n: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DELTADB_", "S3_"))}
    env["DELTADB_LOG_LEVEL"] = "WARNING"
    with tempfile.TemporaryDirectory(prefix="rewrap-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", secrets_dir=Path(tmp) / "secrets", admin_key="a" * 20)
        key_file = provisioning.ensure(settings).key_file
        assert key_file is not None
        flags = ["--data-dir", str(settings.data_dir), "--secrets-dir", str(settings.secrets_dir)]
        server = None
        if backend == "moto":
            from chalicelib.storage.s3 import S3Options, S3Storage
            from tests import s3servers

            server = s3servers.start_moto()
            options = S3Options(bucket="bench", endpoint=server.endpoint, access_key="test", secret_key="test")
            storage: Storage = S3Storage.from_options(options)
            assert storage.check(create=True) is None  # type: ignore[attr-defined]
            flags += ["--storage", "s3", "--s3-endpoint", server.endpoint, "--s3-bucket", "bench"]
            env |= {"S3_ACCESS_KEY": "test", "S3_SECRET_KEY": "test"}
        else:
            from chalicelib.storage.fs import FileStorage

            storage = FileStorage(settings.data_dir)
        try:
            fill_v1(storage, key_file, n)
            key_files.rotate(key_file)
            migrated = timed_rewrap(flags, env, {"rewrapped": n, "skipped": 0})
            key_files.rotate(key_file)
            steady = timed_rewrap(flags, env, {"rewrapped": 0, "skipped": n})
        finally:
            if server is not None:
                server.stop()
    print(f"{backend}: format 1 -> 2 migration: {n} entities in {migrated:.1f} s = {n / migrated:,.0f} entities/s")
    print(f"{backend}: format-2 walk (4 records moved): {n} entities in {steady:.1f} s = {n / steady:,.0f} entities/s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--entities", type=int, default=10_000)
    p.add_argument("--backend", choices=("fs", "moto", "both"), default="both")
    args = p.parse_args()
    for backend in ("fs", "moto") if args.backend == "both" else (args.backend,):
        bench(backend, args.entities)


if __name__ == "__main__":
    main()
