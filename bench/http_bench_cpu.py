"""http_bench's CPU accounting (Linux /proc): who used the cores during a phase (the
server's processes, wrk, the kernel, everything else)."""

from __future__ import annotations

import contextlib
import os
import resource
import time
from typing import Any

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_snapshot(server_pgid: int | None) -> dict[str, Any]:
    """Busy CPU seconds so far: whole machine, IRQ/softirq, per-process for the server's
    process group and kernel threads (fsync work, block I/O), reaped children (wrk)."""
    snap: dict[str, Any] = {"t": time.monotonic(), "machine": 0.0, "irq": 0.0, "children": 0.0, "pids": {}}
    with contextlib.suppress(OSError), open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
        snap["machine"] = (sum(v[:8]) - v[3] - v[4]) / _TICK  # everything but idle and iowait
        snap["irq"] = (v[5] + v[6]) / _TICK
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ppid, pgrp, used = int(fields[1]), int(fields[2]), (int(fields[11]) + int(fields[12])) / _TICK
        if server_pgid is not None and pgrp == server_pgid:
            snap["pids"][int(entry)] = ("server", used)
        elif ppid == 2 or entry == "2":
            snap["pids"][int(entry)] = ("kernel", used)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    snap["children"] = ru.ru_utime + ru.ru_stime
    return snap


def cpu_usage(before: dict[str, Any], after: dict[str, Any], server_known: bool) -> dict[str, float]:
    """Percent of ONE core over the interval (a 2-core machine has 200%)."""
    wall = max(1e-9, after["t"] - before["t"])
    used = {"server": 0.0, "kernel": 0.0}
    for pid, (kind, total) in after["pids"].items():  # processes gone by the end are not counted
        prev = before["pids"].get(pid)
        used[kind] += max(0.0, total - (prev[1] if prev and prev[0] == kind else 0.0))
    pct = {k: 100 * (after[k] - before[k]) / wall for k in ("machine", "irq", "children")}
    pct |= {k: 100 * v / wall for k, v in used.items()}
    out = {
        "machine_pct": round(pct["machine"], 1),
        "wrk_pct": round(pct["children"], 1),
        "kernel_pct": round(pct["irq"] + pct["kernel"], 1),
    }
    if server_known:
        out["server_pct"] = round(pct["server"], 1)
    attributed = pct["children"] + pct["irq"] + pct["kernel"] + (pct["server"] if server_known else 0.0)
    out["other_pct"] = round(max(0.0, pct["machine"] - attributed), 1)
    return out
