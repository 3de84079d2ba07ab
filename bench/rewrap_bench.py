"""Rewrap rate (entities/s) of ``deltadb rewrap`` on the filesystem and on moto's S3 server.

    .venv/bin/python bench/rewrap_bench.py [--entities 10000] [--backend fs|moto|both]

Fills a store with N entities (~200-byte values, 4 databases) under the first key of a
keyring, adds a new active key to keyring.json by hand (a rotation), then times one
``deltadb rewrap --json`` subprocess (start-up included) and checks its counts.
"""

from __future__ import annotations

import argparse
import base64
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
from chalicelib.crypto.local_keyring import LocalKeyRing, key_id_for  # noqa: E402
from chalicelib.entities import EntityStore  # noqa: E402
from chalicelib.storage.base import Storage  # noqa: E402


def fill(storage: Storage, key_file: Path, n: int) -> None:
    store = EntityStore(storage, LocalKeyRing.from_file(key_file), cache_entries=0)
    value = json.dumps({"text": "x" * 180})
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: store.put(f"db{i % 4}", f"k{i:06d}", value), range(n)))


def rotate(key_file: Path) -> None:
    doc = json.loads(key_file.read_text())
    material = os.urandom(32)
    doc["keys"].append({"id": key_id_for(material), "material": base64.b64encode(material).decode()})
    doc["active"] = key_id_for(material)
    key_file.write_text(json.dumps(doc))


def timed_rewrap(flags: list[str], env: dict[str, str], n: int) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "local.cli", "rewrap", "--json", *flags],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - t0
    counts = json.loads(done.stdout)
    assert counts == {"rewrapped": n, "skipped": 0, "failed": 0}, counts
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
            fill(storage, key_file, n)
            rotate(key_file)
            elapsed = timed_rewrap(flags, env, n)
        finally:
            if server is not None:
                server.stop()
    print(f"{backend}: {n} entities rewrapped in {elapsed:.1f} s = {n / elapsed:,.0f} entities/s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--entities", type=int, default=10_000)
    p.add_argument("--backend", choices=("fs", "moto", "both"), default="both")
    args = p.parse_args()
    for backend in ("fs", "moto") if args.backend == "both" else (args.backend,):
        bench(backend, args.entities)


if __name__ == "__main__":
    main()
