"""http_bench's wrk driver: one wrk run of a phase (with the CPU used meanwhile) and the
parsing of wrk's --latency text plus our Lua done() line."""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from http_bench_cpu import cpu_snapshot, cpu_usage

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"unparsable latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> dict[str, Any]:
    """requests/s, p50, p99 and non-2xx from wrk's --latency text (+ our Lua done() line)."""
    res: dict[str, Any] = {}
    if m := re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M):
        res["rps"] = float(m.group(1))
    for pct in ("50", "75", "90", "99"):
        if m := re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M):
            res[f"p{pct}_ms"] = _ms(m.group(1))
    res["non_2xx"] = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)) else 0
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        res["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()), strict=True))
    else:
        res["socket_errors"] = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    if m := re.search(r"^\s*(\d+) requests in ", out, re.M):
        res["requests"] = int(m.group(1))
    if m := re.search(r"^BENCH_JSON (.*)$", out, re.M):
        extra = json.loads(m.group(1))
        lat = extra["latency_us"]
        res["p999_ms"] = lat["p999"] / 1000
        res["max_ms"] = lat["max"] / 1000
        res["mean_ms"] = lat["mean"] / 1000
        res["wrk_summary"] = extra
    missing = [k for k in ("rps", "p50_ms", "p99_ms") if k not in res]
    if missing:
        raise ValueError(f"could not parse {missing} from wrk output:\n{out}")
    return res


@dataclass
class Phase:
    name: str  # put | get
    auth: str  # session | admin-key
    script: str
    command: str = ""
    result: dict[str, Any] = field(default_factory=dict)


def run_wrk(
    args: argparse.Namespace,
    url: str,
    script: Path,
    env: dict[str, str],
    duration: float,
    server_pgid: int | None = None,
) -> tuple[str, str, dict[str, float]]:
    cmd = [
        args.wrk,
        "--latency",
        "-t",
        str(args.wrk_threads),
        "-c",
        str(args.connections),
        "-d",
        f"{duration:g}s",
        "--timeout",
        f"{args.wrk_timeout:g}s",
        "-s",
        str(script),
        url,
    ]
    before = cpu_snapshot(server_pgid)
    proc = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, check=False)
    cpu = cpu_usage(before, cpu_snapshot(server_pgid), server_pgid is not None)
    if proc.returncode != 0:
        raise SystemExit(f"wrk failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    shown = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if k not in ("BENCH_TOKEN", "BENCH_AUTH"))
    return proc.stdout, f"BENCH_TOKEN=<{env['BENCH_AUTH']}> {shown} {shlex.join(cmd)}", cpu
