"""Listing a database of 100,000 entities on the filesystem backend: first page and a full walk.

    .venv/bin/python bench/list_bench.py [--entities 100000] [--limit 1000]

The entity files are written directly (listing reads names only, never contents), then
``GET /entity/{db}/keys`` is timed through the app in-process (chalice.test.Client): the
first page with a cold folder cache, the first page again, and a walk of every page.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chalice.test import Client

from chalicelib.bootstrap import Runtime
from chalicelib.config import Settings
from chalicelib.webapp import create_app

ADMIN = "bench-admin-key-0123456789"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--entities", type=int, default=100_000)
    p.add_argument("--limit", type=int, default=1000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="list-bench-") as tmp:
        return measure(Path(tmp), args)


def measure(tmp: Path, args: argparse.Namespace) -> int:
    folder = tmp / "data" / "files" / "big"
    folder.mkdir(parents=True)
    for i in range(args.entities):
        (folder / f"key-{i:07d}").write_bytes(b"x")
    time.sleep(1.1)  # the folder is quiet: its sorted names may be cached (see storage/fs_listing.py)
    runtime = Runtime(Settings(data_dir=tmp / "data", secrets_dir=tmp / "secrets", admin_key=ADMIN))
    auth = {"Authorization": f"Bearer {ADMIN}"}
    with Client(create_app(runtime)) as client:

        def page(cursor: str | None) -> tuple[float, dict[str, object]]:
            q = f"limit={args.limit}" + (f"&cursor={cursor}" if cursor else "")
            t = time.perf_counter()
            r = client.http.get(f"/entity/big/keys?{q}", headers=auth)
            elapsed = time.perf_counter() - t
            assert r.status_code == 200, r.body
            return elapsed, json.loads(r.body)

        client.http.get("/entity/other/keys", headers=auth)  # builds the runtime: not part of the figure
        cold, _ = page(None)
        warm = statistics.median(page(None)[0] for _ in range(5))
        t = time.perf_counter()
        cursor: object = None
        pages = keys = 0
        while True:
            _, body = page(cursor if isinstance(cursor, str) else None)
            pages += 1
            keys += len(body["keys"])  # type: ignore[arg-type]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        walk = time.perf_counter() - t
    assert keys == args.entities, keys
    print(f"entities {args.entities:,}, limit {args.limit}")
    print(f"first page, cold folder cache : {cold * 1000:8.1f} ms")
    print(f"first page, warm (median of 5): {warm * 1000:8.1f} ms")
    print(f"full walk, {pages} pages       : {walk * 1000:8.1f} ms ({walk / pages * 1000:.2f} ms a page)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
