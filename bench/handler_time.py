"""Our own code's time per request, without any network: the basis of the Lambda durations in
docs/deploy.md ("Cost on AWS"). Route + entity handler in-process through chalice.test.Client,
MemoryStorage, a local keyring, 1 KiB documents; 500 timed requests per phase after 100 warm-up.

    .venv/bin/python bench/handler_time.py
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib.bootstrap import Runtime
from chalicelib.storage.memory import MemoryStorage
from tests.conftest import ADMIN_KEY, AppClient, make_settings

WARMUP, TIMED = 100, 500


def main() -> None:
    client = AppClient(Runtime(make_settings(Path(tempfile.mkdtemp())), storage=MemoryStorage(), strict_invoke=True))
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    value = {"messages": [{"role": "user", "content": "x" * 1000}]}
    for phase in ("PUT", "GET"):
        times = []
        for i in range(WARMUP + TIMED):
            started = time.perf_counter()
            if phase == "PUT":
                r = client.http.put("/entity/db", headers=headers, body=json.dumps({f"k{i % 50}": value}))
            else:
                r = client.http.get(f"/entity/db?key=k{i % 50}", headers=headers)
            times.append(time.perf_counter() - started)
            assert r.status_code == 200, r.body
        timed = sorted(times[WARMUP:])
        p50, p90 = statistics.median(timed) * 1e3, timed[int(len(timed) * 0.9)] * 1e3
        print(f"{phase}: p50 {p50:.2f} ms, p90 {p90:.2f} ms ({TIMED} requests)")


if __name__ == "__main__":
    main()
