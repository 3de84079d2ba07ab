"""`make bench`: ours against the thinnest durable server on the same stack, side by side.

    .venv/bin/python bench/compare.py [--rounds 3] [--duration 8] [-- extra http_bench.py args]

Each round runs bench/http_bench.py twice on this machine, alternating which goes first:
our server (`deltadb serve`, session token) and bench/reference_server.py (Granian +
uvloop, same process count, a durable file per key, no auth, no crypto, no Chalice).
Prints each round, then the median req/s and p99 of each phase and the ratio ours /
reference. Figures from one run only compare within that run: the machine varies a lot
from run to run (fsync latency above all), the ratio much less.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def run(server: str, args: argparse.Namespace, extra: list[str], data_root: str) -> dict[str, dict[str, float]]:
    """phase name -> {"rps", "p99_ms", "cpu_us"} of one http_bench run (session-token round only)."""
    with tempfile.TemporaryDirectory() as results:
        cmd = [sys.executable, str(BENCH / "http_bench.py"), "--server", server, "--no-admin-key",
               "--duration", str(args.duration), "--results-dir", results,
               "--data-root", data_root, "--keep-data", *extra]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        files = list(Path(results).glob("*.json"))
        if done.returncode != 0 or not files:
            raise SystemExit(f"{server} run failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        doc = json.loads(files[0].read_text())
    out = {}
    for p in doc["phases"]:
        r = p["result"]
        # the server's CPU (all its processes, user + system) per request: what the ratio comes from
        cpu_us = r.get("cpu", {}).get("server_pct", 0.0) / 100 / max(r["rps"], 1e-9) * 1e6
        out[p["name"]] = {"rps": r["rps"], "p99_ms": r["p99_ms"], "cpu_us": cpu_us}
    return out


def _rounds(
    args: argparse.Namespace, extra: list[str], data_root: str, rows: dict[str, list[dict[str, dict[str, float]]]]
) -> None:
    for i in range(args.rounds):
        order = ("ours", "reference") if i % 2 == 0 else ("reference", "ours")
        for server in order:
            result = run(server, args, extra, data_root)
            rows[server].append(result)
            line = "  ".join(
                f"{ph} {r['rps']:>8,.0f}/s p99 {r['p99_ms']:6.2f} ms cpu {r['cpu_us']:5.0f} µs/req"
                for ph, r in result.items()
            )
            print(f"round {i + 1} {server:<9} {line}", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=8.0, help="seconds per recorded phase (default 8)")
    p.add_argument(
        "--processes", type=int, default=4 * (os.cpu_count() or 1),
        help="HTTP processes of both servers (default: 4 per core, our filesystem default)",
    )  # fmt: skip
    args, extra = p.parse_known_args()
    extra = [a for a in extra if a != "--"] + ["--processes", str(args.processes)]
    rows: dict[str, list[dict[str, dict[str, float]]]] = {"ours": [], "reference": []}
    # Every run's data stays until the end: deleting tens of thousands of files between runs
    # slows the next run's file creates for minutes (ext4 without a journal skips inodes
    # freed in the last 60-360 s when it allocates one; see bench/README.md, Caveats).
    data_root = tempfile.mkdtemp(prefix="deltadb-compare-")
    try:
        _rounds(args, extra, data_root, rows)
    finally:
        shutil.rmtree(data_root, ignore_errors=True)
    print()
    print(f"median of {args.rounds} rounds   ours req/s (p99)      reference req/s (p99)   ratio of the medians")
    for phase in rows["ours"][0]:
        ours = statistics.median(r[phase]["rps"] for r in rows["ours"])
        ref = statistics.median(r[phase]["rps"] for r in rows["reference"])
        ours_p99 = statistics.median(r[phase]["p99_ms"] for r in rows["ours"])
        ref_p99 = statistics.median(r[phase]["p99_ms"] for r in rows["reference"])
        ratios = [o[phase]["rps"] / r[phase]["rps"] for o, r in zip(rows["ours"], rows["reference"], strict=True)]
        print(
            f"{phase:<4} {ours:>17,.0f} ({ours_p99:5.2f} ms)   {ref:>13,.0f} ({ref_p99:5.2f} ms)"
            f"   {ours / ref:5.2f}  (per round {', '.join(f'{x:.2f}' for x in ratios)})"
        )
    print("\nserver CPU per request (user + system, all its processes), median µs: ours / reference")
    for phase in rows["ours"][0]:
        ours_cpu = statistics.median(r[phase]["cpu_us"] for r in rows["ours"])
        ref_cpu = statistics.median(r[phase]["cpu_us"] for r in rows["reference"])
        print(f"{phase:<4} {ours_cpu:6.0f} / {ref_cpu:6.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
