"""HTTP benchmark of ``deltadb serve`` driven by wrk.

One command::

    .venv/bin/python bench/http_bench.py               # starts its own server
    .venv/bin/python bench/http_bench.py --url http://127.0.0.1:8080 --token <session token>

Steps: start the server (free port, fresh temp data dir, random admin key) unless
``--url`` is given; log in for a session token; pre-write ``--entities`` documents of
``--doc-bytes`` JSON each; then, per phase, a short unrecorded wrk warm-up and a
recorded wrk run (``--connections`` connections, ``--wrk-threads`` threads,
``--duration`` seconds, ``--latency``):

* ``put``  PUT of one document per request to a key never written before (durable writes);
* ``get``  GET of a pre-written key chosen at random (warm reads);

first with the session token (what real clients send), then again with the raw admin
key (``--no-admin-key`` skips that). Prints a table plus machine info, writes the same as
JSON to ``bench/results/<timestamp>.json`` and exits 1 if any response was not 2xx or
any socket error / timeout happened. Exit 2: wrk missing or bad setup.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import re
import resource
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
DB = "bench"  # GET phases read the pre-written "doc-<i>" keys here
GET_PREFIX = "doc"
PUT_DB = "bench-put-{auth}"  # each PUT phase writes into its own database, prefilled the same way
FILL_PREFIX = "fill"


# -- documents -------------------------------------------------------------------------
def document(key: str, n: int, size: int) -> str:
    """Compact JSON of exactly ``size`` bytes (for ASCII keys); same shape as wrk_common.lua."""
    head = f'{{"key":"{key}","n":{n},"pad":"'
    tail = '"}'
    return head + "x" * max(0, size - len(head) - len(tail)) + tail


# -- tiny HTTP client (stdlib, keep-alive) --------------------------------------------
class Client:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        u = urllib.parse.urlsplit(url)
        if u.scheme != "http" or not u.hostname:
            raise SystemExit(f"--url must be http://host:port, got {url!r}")
        self.host, self.port, self.timeout = u.hostname, u.port or 80, timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None, token: str | None = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (ConnectionError, http.client.HTTPException, OSError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# -- server ----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    admin_key: str
    workdir: Path
    log_path: Path
    command: list[str]

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the whole process group (Granian parent + worker processes)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left in the group (the parent may have exited before its workers).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


def start_server(args: argparse.Namespace) -> Server:
    src = Path(args.repo).resolve() if args.repo else REPO
    env = {**os.environ, "DELTADB_LOG_LEVEL": "WARNING"}
    if args.repo:
        # Another source tree (e.g. `git worktree add /tmp/old <commit>` for an A/B run): import from it.
        launcher = [sys.executable, "-c", "import sys; from local.cli import main; sys.exit(main())"]
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), os.environ.get("PYTHONPATH", "")) if p)
    else:
        deltadb = Path(sys.executable).with_name("deltadb")
        if not deltadb.exists():
            found = shutil.which("deltadb")
            if not found:
                raise SystemExit("deltadb entry point not found: run `make` / `pip install -e .` in the venv first")
            deltadb = Path(found)
        launcher = [str(deltadb)]
    workdir = Path(tempfile.mkdtemp(prefix="deltadb-bench-", dir=args.data_root))
    port = free_port()
    admin_key = "bench-admin-" + secrets.token_urlsafe(24)
    if args.server == "reference":  # the yardstick: bench/reference_server.py
        processes = args.processes or 4 * (os.cpu_count() or 1)  # (compare.py passes one count to both)
        cmd = [sys.executable, str(BENCH_DIR / "reference_server.py"), "--port", str(port),
               "--data-dir", str(workdir / "data"), "--processes", str(processes)]  # fmt: skip
        src = BENCH_DIR
    else:
        cmd = [*launcher, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(workdir / "data")]
        if args.processes is not None:
            cmd += ["--processes", str(args.processes)]
        if args.server_threads is not None:
            cmd += ["--threads", str(args.server_threads)]
    env["DELTADB_ADMIN_KEY"] = admin_key
    log_path = workdir / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=src,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = Server(proc, f"http://127.0.0.1:{port}", admin_key, workdir, log_path, cmd)
    client = Client(server.url, timeout=2.0)
    deadline = time.monotonic() + args.startup_timeout
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"server exited with code {proc.returncode} during startup:\n{server.log_tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if client.request("GET", "/health")[0] == 200:
                    return server
            if time.monotonic() > deadline:
                raise SystemExit(f"server not healthy after {args.startup_timeout}s:\n{server.log_tail()}")
            time.sleep(0.1)
    except BaseException:
        server.stop()
        raise
    finally:
        client.close()


def server_config(pid: int) -> dict[str, Any]:
    """Granian worker processes actually running under the server (children of its parent)."""
    try:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False)
        return {"worker_pids": [int(p) for p in out.stdout.split()]}
    except OSError:
        return {}


def served_config(server: Server, args: argparse.Namespace) -> dict[str, Any]:
    """processes/threads as the server announced them ("... processes=8 inline=all threads=8"), else as asked.

    (Servers before the rename announced "workers=8 inline=all threads=8".)
    """
    if m := re.search(r"(?:processes|workers)=(\d+) inline=\w+ threads=(\d+)", server.log_tail(50)):
        return {"processes": int(m.group(1)), "threads": int(m.group(2))}
    return {
        "processes": args.processes if args.processes is not None else "default",
        "threads": args.server_threads if args.server_threads is not None else "default",
    }


# -- CPU accounting (Linux /proc): who used the cores during a phase ------------------
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


# -- setup: login, pre-write, pre-read ------------------------------------------------
def login(client: Client, admin_key: str) -> str:
    status, body = client.request("POST", "/api/login", json.dumps({"key": admin_key}).encode())
    if status != 200:
        raise SystemExit(f"login failed: HTTP {status} {body[:200]!r}")
    return str(json.loads(body)["token"])


def prewrite(
    client: Client, token: str, count: int, size: int, db: str = DB, prefix: str = GET_PREFIX, batch: int = 50
) -> float:
    """PUT ``count`` documents ``<prefix>-0..N-1`` into ``db`` (``batch`` keys per request); return seconds."""
    t0 = time.perf_counter()
    for start in range(0, count, batch):
        keys = [f"{prefix}-{i}" for i in range(start, min(count, start + batch))]
        body = "{" + ",".join(f'"{k}":{document(k, i, size)}' for i, k in enumerate(keys, start)) + "}"
        status, resp = client.request("PUT", f"/entity/{db}", body.encode(), token)
        if status != 200:
            raise SystemExit(f"pre-write failed: HTTP {status} {resp[:200]!r}")
    return time.perf_counter() - t0


def preread(client: Client, token: str, count: int, size: int) -> float:
    """GET every pre-written key once and check its content (warms the page cache)."""
    t0 = time.perf_counter()
    for i in range(count):
        key = f"{GET_PREFIX}-{i}"
        status, body = client.request("GET", f"/entity/{DB}?key={key}", token=token)
        if status != 200 or body.decode() != document(key, i, size):
            raise SystemExit(f"pre-read of {key} failed: HTTP {status} {body[:200]!r}")
    return time.perf_counter() - t0


def verify_puts(client: Client, token: str, db: str, prefix: str, wrk_threads: int, size: int) -> None:
    """An early key of every wrk thread must read back exactly as written.

    n=2, not 1: wrk calls request() once on thread 0 to check the script, unsent.
    """
    for tid in range(wrk_threads):
        key = f"{prefix}-{tid}-2"
        status, body = client.request("GET", f"/entity/{db}?key={key}", token=token)
        if status != 200 or body.decode() != document(key, 2, size):
            raise SystemExit(f"read-back of PUT key {key} failed: HTTP {status} {body[:200]!r}")


# -- wrk ---------------------------------------------------------------------------------
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


# -- reporting ---------------------------------------------------------------------------
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


# -- main --------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="benchmark a running server (http://host:port) instead of starting one")
    p.add_argument(
        "--server", choices=["ours", "reference"], default="ours",
        help="server to start: ours, or the thinnest durable server on our stack (bench/reference_server.py)",
    )  # fmt: skip
    p.add_argument("--token", help="with --url: bearer credential for the session-token phases")
    p.add_argument(
        "--admin-key", help="with --url: admin key (used to log in when --token is absent, and for admin-key phases)"
    )
    p.add_argument("--duration", type=float, default=10.0, help="seconds per recorded phase (default 10)")
    p.add_argument(
        "--warmup", type=float, default=2.0, help="unrecorded wrk seconds before each phase (default 2; 0=off)"
    )
    p.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    p.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument("--wrk-timeout", type=float, default=5.0, help="wrk per-request timeout in seconds (default 5)")
    p.add_argument("--entities", type=int, default=1000, help="pre-written entities for the GET phase (default 1000)")
    p.add_argument(
        "--put-prefill",
        type=int,
        default=1000,
        help="entities written into each PUT phase's fresh database before it runs (default 1000)",
    )
    p.add_argument("--doc-bytes", type=int, default=1024, help="JSON document size in bytes (default 1024)")
    p.add_argument("--phases", default="put,get", help="comma-separated, in order, from put,get (default put,get)")
    p.add_argument("--no-admin-key", action="store_true", help="skip the second round with the raw admin key")
    p.add_argument("--processes", type=int, help="server --processes (default: the server's default)")
    p.add_argument("--server-threads", type=int, help="server --threads (default: the server's default, 16)")
    p.add_argument("--repo", help="serve from this source tree instead of this repo (A/B runs of another commit)")
    p.add_argument("--data-root", help="where the temp data dir is created (default: $TMPDIR); pick the disk to test")
    p.add_argument("--keep-data", action="store_true", help="do not delete the temp data dir at the end")
    p.add_argument("--startup-timeout", type=float, default=30.0)
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk", help="wrk binary")
    p.add_argument("--results-dir", default=str(RESULTS_DIR), help="where <timestamp>.json goes")
    p.add_argument("--no-save", action="store_true", help="do not write the JSON result file")
    args = p.parse_args(argv)
    phases = [x.strip() for x in args.phases.split(",") if x.strip()]
    if not phases or any(x not in ("put", "get") for x in phases):
        p.error("--phases takes put and/or get")
    args.phase_list = phases
    if args.url and not (args.token or args.admin_key):
        p.error("--url needs --token (or --admin-key to log in)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # keep stdout and stderr progress lines in order
    if not shutil.which(args.wrk):
        print(
            "wrk is not installed. Install it with:\n\n"
            "    sudo apt-get update && sudo apt-get install -y wrk      # Debian / Ubuntu\n"
            "    brew install wrk                                        # macOS\n",
            file=sys.stderr,
        )
        return 2

    started = dt.datetime.now(dt.UTC)
    server: Server | None = None
    phases: list[Phase] = []
    setup: dict[str, Any] = {}
    try:
        if args.url:
            url, admin_key = args.url.rstrip("/"), args.admin_key
            server_info: dict[str, Any] = {"mode": "external", "url": url, "processes": "?", "threads": "?"}
            data_path = None
        else:
            server = start_server(args)
            url, admin_key = server.url, server.admin_key
            server_info = {
                "mode": "started by bench",
                "url": url,
                "command": shlex.join(server.command),
                **served_config(server, args),
                "data_dir": str(server.workdir / "data"),
                **server_config(server.proc.pid),
            }
            data_path = server.workdir
        client = Client(url)
        token = args.token or login(client, str(admin_key))
        auths = [("session", token)]
        if not args.no_admin_key:
            if admin_key:
                auths.append(("admin-key", str(admin_key)))
            else:
                print("note: no --admin-key given; skipping the admin-key round", file=sys.stderr)

        if "get" in args.phase_list:
            setup["prewrite_s"] = round(prewrite(client, token, args.entities, args.doc_bytes), 3)
            setup["preread_s"] = round(preread(client, token, args.entities, args.doc_bytes), 3)
        info = machine_info(data_path, Path(args.repo).resolve() if args.repo and not args.url else REPO)

        pgid = server.proc.pid if server is not None else None
        idle_check = cpu_snapshot(None)
        time.sleep(1.0)
        info["busy_before_pct"] = cpu_usage(idle_check, cpu_snapshot(None), False)["machine_pct"]
        run_id = f"{started:%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"
        for auth_name, credential in auths:
            for name in args.phase_list:
                script = BENCH_DIR / f"wrk_{name}.lua"
                phase = Phase(name, auth_name, script.name)
                env = {"BENCH_TOKEN": credential, "BENCH_AUTH": auth_name, "BENCH_DB": DB}
                prefix = f"put-{run_id}-{auth_name}"
                if name == "put":
                    # Same starting state for every PUT phase: ext4 writes into a small folder are
                    # much slower under concurrency than into one of a few thousand entries.
                    env["BENCH_DB"] = PUT_DB.format(auth=auth_name)
                    setup[f"prefill_{env['BENCH_DB']}_s"] = round(
                        prewrite(client, token, args.put_prefill, args.doc_bytes, env["BENCH_DB"], FILL_PREFIX), 3
                    )
                    env |= {"BENCH_DOC_BYTES": str(args.doc_bytes), "BENCH_PUT_PREFIX": prefix}
                else:
                    env |= {"BENCH_KEYS": str(args.entities), "BENCH_GET_PREFIX": GET_PREFIX}
                if args.warmup > 0:
                    run_wrk(args, url, script, {**env, "BENCH_PUT_PREFIX": f"warm-{run_id}-{auth_name}"}, args.warmup)
                out, phase.command, cpu = run_wrk(args, url, script, env, args.duration, pgid)
                phase.result = parse_wrk(out)
                phase.result["cpu"] = cpu
                phase.result["wrk_stdout"] = out
                if name == "put" and phase.result["non_2xx"] == 0:
                    verify_puts(client, token, env["BENCH_DB"], prefix, args.wrk_threads, args.doc_bytes)
                phases.append(phase)
                r = phase.result
                print(
                    f"  {name:<4} {auth_name:<9} {r['rps']:>9,.0f} req/s  p50 {r['p50_ms']:.2f} ms  "
                    f"p99 {r['p99_ms']:.2f} ms  non-2xx {r['non_2xx']}",
                    file=sys.stderr,
                    flush=True,
                )
        client.close()
        if server is not None:
            server_info["log_tail"] = server.log_tail(20)
    finally:
        if server is not None:
            server.stop()
            if not args.keep_data:
                shutil.rmtree(server.workdir, ignore_errors=True)

    # -- report ------------------------------------------------------------------
    bench_cmd = shlex.join([sys.executable, *sys.argv]) if argv is None else shlex.join(["http_bench.py", *argv])
    print()
    print(f"DeltaDatabase HTTP benchmark  {started:%Y-%m-%d %H:%M:%S} UTC")
    print(f"command : {bench_cmd}")
    print(
        f"machine : {info['cpu_count']} cores ({info['cpu_model'] or '?'}), {info.get('mem_total_mb', '?')} MB RAM, "
        f"Linux {info['kernel']}, Python {info['python']}"
    )
    print(
        f"server  : {server_info['mode']}, processes={server_info['processes']} threads={server_info['threads']}, "
        f"granian {info.get('granian', '?')}, chalice {info.get('chalice', '?')}"
    )
    print(f"code    : {info.get('code', '?')}")
    if data_path is not None:
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

    failures = [
        f"{p.name}/{p.auth}: {p.result['non_2xx']} non-2xx responses, socket errors {p.result['socket_errors']}"
        for p in phases
        if p.result["non_2xx"] or any(p.result["socket_errors"].values())
    ]

    if not args.no_save:
        out_dir = Path(args.results_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        out_path = out_dir / f"{started:%Y%m%dT%H%M%SZ}.json"
        doc = {
            "started_at": started.isoformat(),
            "command": bench_cmd,
            "machine": info,
            "server": server_info,
            "setup": setup,
            "params": {
                "connections": args.connections,
                "wrk_threads": args.wrk_threads,
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "doc_bytes": args.doc_bytes,
                "entities": args.entities,
                "put_prefill": args.put_prefill,
            },
            "phases": [asdict(p) for p in phases],
            "ok": not failures,
            "failures": failures,
        }
        out_path.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"\nresults : {out_path}")

    if failures:
        print("\nFAIL: the benchmark saw errors; its figures are not valid:", file=sys.stderr)
        for f in failures:
            print(f"  - {f}", file=sys.stderr)
        for p in phases:
            if p.result["non_2xx"]:
                print(f"\n--- wrk output, {p.name}/{p.auth} ---\n{p.result['wrk_stdout']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
