"""http_bench's server under test: started on a free port with a fresh temp data dir and a
random admin key (ours, another source tree's, or bench/reference_server.py), waited for,
stopped with its whole process group, and the processes/threads it actually runs."""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from http_bench_client import Client

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent


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
