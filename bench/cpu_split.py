"""Where a server's CPU goes per request under load: interpreter, each system call, the rest.

Runs bench/http_bench.py for one phase (a server of its own, wrk, 16 connections), samples
every CPU with ``perf record -a -g`` (cpu-clock, 999 Hz) while the recorded wrk run is
going, and splits the server processes' samples per request: user space by library
(libpython = the interpreter), kernel time by the system call it was made in (the
``__x64_sys_*`` frame of its stack), kernel time outside any system call apart.

    .venv/bin/python bench/cpu_split.py --server ours --phase put
    .venv/bin/python bench/cpu_split.py --server reference --phase put

One sample is about 1 ms of one CPU, so "µs per request" is samples * 1,000 / requests in
the sampled 7 s. Counted: every thread of every process of the server's session (its
HTTP processes and Granian's I/O threads), found by the server's command line. Needs
perf (linux-perf) and permission to sample every CPU (root, or
kernel.perf_event_paranoid ≤ -1). Other work on the machine does not enter the figures
but slows them.
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PHASE_SECONDS = 10  # the recorded wrk run
SECONDS = 7  # sampled, from 1 s into it
SERVER_COMMAND = {"ours": r"deltadb serve --host 127\.0\.0\.1", "reference": r"reference_server\.py --port"}


def server_pids(server: str) -> list[str]:
    """Every process of the server's session: http_bench starts it as a session leader (the oldest match)."""
    found = subprocess.run(["pgrep", "-o", "-f", SERVER_COMMAND[server]], capture_output=True, text=True)
    if found.returncode != 0:
        return []
    session = subprocess.run(["pgrep", "-s", found.stdout.strip()], capture_output=True, text=True)
    return session.stdout.split()


def split(perf_data: str, pids: list[str]) -> collections.Counter[str]:
    """Samples of ``pids`` by where they were taken: 'user: <library>', 'sys: <call>', 'kernel: other'."""
    script = subprocess.run(
        ["perf", "script", "-i", perf_data, "--pid", ",".join(pids), "-F", "ip,sym,dso"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    counts: collections.Counter[str] = collections.Counter()
    for block in script.split("\n\n"):
        frames = [line.split() for line in block.strip().splitlines() if line.strip()]
        if not frames:
            continue
        leaf_dso = frames[0][-1].strip("()")
        if "kernel" not in leaf_dso:
            counts["user: " + leaf_dso.rsplit("/", 1)[-1]] += 1
            continue
        calls = [f[1] for f in frames if len(f) > 1 and re.match(r"__(x64|do)_sys_", f[1])]
        counts["sys: " + re.sub(r"^__(x64|do)_sys_", "", calls[0]) if calls else "kernel: other"] += 1
    return counts


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", choices=("ours", "reference"), default="ours")
    p.add_argument("--phase", choices=("put", "get"), default="put")
    p.add_argument("--processes", type=int, default=8)
    p.add_argument("--top", type=int, default=12)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench = subprocess.Popen(
            [sys.executable, str(BENCH / "http_bench.py"), "--server", args.server, "--no-admin-key",
             "--phases", args.phase, "--duration", str(PHASE_SECONDS), "--processes", str(args.processes), "--no-save"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        recorded_run = f"wrk --latency .* -d {PHASE_SECONDS}s"  # (the warm-up run is shorter)
        while subprocess.run(["pgrep", "-f", recorded_run], capture_output=True).returncode != 0:
            if bench.poll() is not None or time.monotonic() > deadline:
                print(bench.communicate()[0][-2000:])
                return 1
            time.sleep(0.2)
        time.sleep(1)  # into the recorded run, past its connection set-up
        pids = server_pids(args.server)
        data = f"{tmp}/perf.data"
        subprocess.run(["perf", "record", "-a", "-g", "-e", "cpu-clock", "-F", "999", "-o", data, "--",
                        "sleep", str(SECONDS)], capture_output=True, check=True)  # fmt: skip
        output = bench.communicate()[0]
        row = next((line for line in output.splitlines() if line.startswith(f"{args.phase} ")), None)
        if bench.returncode != 0 or row is None or not pids:
            print(output[-2000:])
            return 1
        rps = float(row.split()[2].replace(",", ""))
        counts = split(data, pids)
    requests = rps * SECONDS
    print(row)
    print(f"{args.server} {args.phase}: {sum(counts.values()) * 1000 / requests:.0f} µs of CPU per request")
    for where, n in counts.most_common(args.top):
        print(f"  {where:45} {n * 1000 / requests:6.0f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
