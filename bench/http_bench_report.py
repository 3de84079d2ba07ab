"""http_bench's report: the machine and code measured on, the printed table and notes,
the JSON result file, and the failures that make a run's figures invalid."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from http_bench_server import REPO
from http_bench_wrk import Phase


@dataclass
class Run:
    """One benchmark run as reported: what was measured, on what, and how."""

    started: dt.datetime
    command: str
    machine: dict[str, Any]
    server: dict[str, Any]
    setup: dict[str, Any]
    phases: list[Phase]
    data_path: Path | None  # None: an external server (--url), its data dir unknown


def machine_info(data_path: Path | None, src: Path = REPO) -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "cpu_model": "",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_impl": platform.python_implementation(),
        "hostname": socket.gethostname(),
    }
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        info["mem_total_mb"] = int(f.readline().split()[1]) // 1024
    with contextlib.suppress(Exception):
        info["load_avg_before"] = os.getloadavg()
    with contextlib.suppress(Exception):
        from importlib.metadata import version

        info["granian"] = version("granian")
        info["chalice"] = version("chalice")
    with contextlib.suppress(OSError):
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
        info["wrk"] = (out.stdout + out.stderr).splitlines()[0].split(" Copyright")[0]
    if data_path is not None:
        info["data_fs"] = filesystem_of(data_path)
    info["code"] = code_version(src)
    if src != REPO:
        info["code"] += f" from {src}"
    return info


def code_version(src: Path = REPO) -> str:
    """``<commit>`` or ``<commit>+dirty (files...)``: what the numbers were measured on."""
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=src, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=src, capture_output=True, text=True
        )
    except OSError:
        return "?"
    if rev.returncode != 0:
        return "? (not a git checkout)"
    changed = [line[3:] for line in dirty.stdout.splitlines()]
    return rev.stdout.strip() + (f"+dirty ({', '.join(changed)})" if changed else "")


def filesystem_of(path: Path) -> str:
    best = ("", "?", "?")
    with contextlib.suppress(OSError), open("/proc/mounts") as f:
        for line in f:
            dev, mnt, fstype = line.split()[:3]
            if str(path).startswith(mnt) and len(mnt) >= len(best[0]):
                best = (mnt, dev, fstype)
    return f"{best[2]} on {best[1]} (mounted at {best[0]})"


def print_table(phases: list[Phase]) -> None:
    header = (
        f"{'phase':<5} {'auth':<9} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'max ms':>8} "
        f"{'requests':>9} {'non-2xx':>7} {'sock err':>8}  {'cpu% srv/wrk/kern/other':>23}"
    )
    print(header)
    print("-" * len(header))
    for p in phases:
        r = p.result
        sock = sum(r["socket_errors"].values())
        print(
            f"{p.name:<5} {p.auth:<9} {r['rps']:>9,.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
            f"{r.get('p999_ms', float('nan')):>9.2f} {r.get('max_ms', float('nan')):>8.1f} "
            f"{r.get('requests', 0):>9,} {r['non_2xx']:>7} {sock:>8}  {_cpu_cell(r.get('cpu', {})):>23}"
        )


def _cpu_cell(cpu: dict[str, float]) -> str:
    if not cpu:
        return "?"
    srv = f"{cpu['server_pct']:.0f}" if "server_pct" in cpu else "?"
    return f"{srv}/{cpu['wrk_pct']:.0f}/{cpu['kernel_pct']:.0f}/{cpu['other_pct']:.0f}"


def print_report(run: Run, args: argparse.Namespace) -> None:
    info, server_info, phases = run.machine, run.server, run.phases
    print()
    print(f"DeltaDatabase HTTP benchmark  {run.started:%Y-%m-%d %H:%M:%S} UTC")
    print(f"command : {run.command}")
    print(
        f"machine : {info['cpu_count']} cores ({info['cpu_model'] or '?'}), {info.get('mem_total_mb', '?')} MB RAM, "
        f"Linux {info['kernel']}, Python {info['python']}"
    )
    print(
        f"server  : {server_info['mode']}, processes={server_info['processes']} threads={server_info['threads']}, "
        f"granian {info.get('granian', '?')}, chalice {info.get('chalice', '?')}"
    )
    print(f"code    : {info.get('code', '?')}")
    if run.data_path is not None:
        print(f"data    : {info.get('data_fs', '?')}")
    print(
        f"load    : {info.get('wrk', 'wrk')}  -c {args.connections} -t {args.wrk_threads} -d {args.duration:g}s "
        f"(warm-up {args.warmup:g}s), {args.doc_bytes} B JSON docs; GET: random of {args.entities} keys; "
        f"PUT: new keys, db prefilled with {args.put_prefill}"
    )
    print()
    print_table(phases)
    cores = os.cpu_count() or 1
    print(f"(cpu%: share of one core during the phase, {100 * cores}% = all {cores} cores busy;")
    print(" srv = server processes, wrk = load generator, kern = IRQ/softirq + kernel threads (loopback TCP,")
    print(" fsync/journal), other = every other process: should be ~0 on a quiet machine)")
    noisy = [p for p in phases if p.result.get("cpu", {}).get("other_pct", 0) > 15]
    if info.get("busy_before_pct", 0) > 15 or noisy:
        print(
            f"WARNING: the machine was not idle (busy {info.get('busy_before_pct', 0):.0f}% before start"
            + (
                f"; other processes used >15% of a core during {', '.join(p.name + '/' + p.auth for p in noisy)}"
                if noisy
                else ""
            )
            + "): figures are understated; rerun on a quiet machine."
        )
    print()
    for p in phases:
        print(f"# {p.name}/{p.auth}: {p.command}")


def failures_of(phases: list[Phase]) -> list[str]:
    """Phases that saw a non-2xx response or a socket error: their figures are not valid."""
    return [
        f"{p.name}/{p.auth}: {p.result['non_2xx']} non-2xx responses, socket errors {p.result['socket_errors']}"
        for p in phases
        if p.result["non_2xx"] or any(p.result["socket_errors"].values())
    ]


def save_results(run: Run, args: argparse.Namespace, failures: list[str]) -> None:
    """Write the run as JSON to ``<--results-dir>/<timestamp>.json``."""
    out_dir = Path(args.results_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out_path = out_dir / f"{run.started:%Y%m%dT%H%M%SZ}.json"
    doc = {
        "started_at": run.started.isoformat(),
        "command": run.command,
        "machine": run.machine,
        "server": run.server,
        "setup": run.setup,
        "params": {
            "connections": args.connections,
            "wrk_threads": args.wrk_threads,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "doc_bytes": args.doc_bytes,
            "entities": args.entities,
            "put_prefill": args.put_prefill,
        },
        "phases": [asdict(p) for p in run.phases],
        "ok": not failures,
        "failures": failures,
    }
    out_path.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nresults : {out_path}")


def print_failures(failures: list[str], phases: list[Phase]) -> None:
    print("\nFAIL: the benchmark saw errors; its figures are not valid:", file=sys.stderr)
    for f in failures:
        print(f"  - {f}", file=sys.stderr)
    for p in phases:
        if p.result["non_2xx"]:
            print(f"\n--- wrk output, {p.name}/{p.auth} ---\n{p.result['wrk_stdout']}", file=sys.stderr)
