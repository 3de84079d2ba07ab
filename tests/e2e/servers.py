"""Starting and stopping the real ``deltadb serve`` (or ``up``) process for e2e tests.

``ServerProcess`` owns one server (Granian parent plus its worker processes, all in one
new session / process group); its HTTP side is ``HttpClient`` (tests/e2e/http_client.py).
The fixtures that start them live in tests/e2e/conftest.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.http_client import HttpClient
from tests.e2e.processes import LIVE_GROUPS, free_port, process_table

REPO_ROOT = Path(__file__).resolve().parents[2]
DELTADB = Path(sys.executable).with_name("deltadb")  # the console script of the venv running the tests
# Without the console script, run the same entry point as a module.
SERVE_COMMAND = [str(DELTADB)] if DELTADB.exists() else [sys.executable, "-m", "local.cli"]
ADMIN_KEY = "e2e-admin-key-0123456789abcdef"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


class ServerProcess(HttpClient):
    """One ``deltadb serve`` process group on 127.0.0.1:<free port>."""

    def __init__(
        self,
        data_dir: Path,
        admin_key: str | None = ADMIN_KEY,
        *,
        workers: int = 2,
        extra_args: tuple[str, ...] = (),
        log_dir: Path | None = None,
        command: str = "serve",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.command = command
        self.extra_env = dict(extra_env or {})
        self.data_dir = Path(data_dir)
        self.secrets_dir = self.data_dir.parent / f"{self.data_dir.name}-secrets"
        self.admin_key = admin_key
        self.workers = workers
        self.extra_args = extra_args
        self.log_dir = Path(log_dir) if log_dir else self.data_dir.parent / f"{self.data_dir.name}-logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.starts = 0
        self._stdout_path: Path | None = None
        self._stderr_path: Path | None = None

    # -- state -------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- output of the current (or last) run ---------------------------------------
    def stdout(self) -> str:
        return self._stdout_path.read_text(errors="replace") if self._stdout_path else ""

    def stderr(self) -> str:
        return self._stderr_path.read_text(errors="replace") if self._stderr_path else ""

    def output(self) -> str:
        return f"--- stdout ---\n{self.stdout()}\n--- stderr ---\n{self.stderr()}"

    # -- lifecycle -----------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DELTADB_")}
        if self.admin_key is not None:
            env["DELTADB_ADMIN_KEY"] = self.admin_key
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.extra_env)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
        return env

    def start(self, timeout: float = START_TIMEOUT) -> ServerProcess:
        assert not self.running, "server already running"
        for attempt in range(3):
            self._spawn()
            if self._wait_healthy(timeout):
                return self
            assert self.proc is not None
            code = self.proc.poll()
            self._kill_group(signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT)
            out = self.output()
            if attempt < 2 and re.search(r"address already in use|os error 98", out, re.IGNORECASE):
                continue  # lost the free-port race: try another port
            why = f"exited with code {code}" if code is not None else f"did not answer GET /health within {timeout}s"
            pytest.fail(f"deltadb serve on {self.base_url} {why}\n{out}", pytrace=False)
        raise AssertionError("unreachable")

    def _spawn(self) -> None:
        self.port = free_port()
        self.starts += 1
        self._stdout_path = self.log_dir / f"run{self.starts}-stdout.log"
        self._stderr_path = self.log_dir / f"run{self.starts}-stderr.log"
        cmd = [
            *SERVE_COMMAND,
            self.command,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            # serve: HTTP processes; up: processing workers
            "--processes" if self.command == "serve" else "--workers",
            str(self.workers),
            *self.extra_args,
        ]
        with open(self._stdout_path, "wb") as out, open(self._stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=self._env(),
                cwd=str(self.data_dir.parent),
                start_new_session=True,
            )
        LIVE_GROUPS.add(self.proc.pid)

    def _wait_healthy(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                return False
            try:
                if self.request("GET", "/health", timeout=2).status == 200 and self.running:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def _kill_group(self, sig: int) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)  # start_new_session: pgid == pid of the parent
        if sig == signal.SIGKILL:
            LIVE_GROUPS.discard(self.proc.pid)

    def _group_alive(self) -> bool:
        if self.proc is None:
            return False
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _wait_group_gone(self, timeout: float, *, reaped: bool = False) -> bool:
        """Wait until no process of the group runs any more (workers included).

        ``reaped``: also wait until the dead workers are reaped. They are orphans once the
        parent is gone, reaped by whatever init the machine has; until then they are
        zombies whose pids still answer ``kill(pid, 0)``.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None:
                self.proc.poll()  # reap the parent so it does not linger as a zombie
            if not self._group_alive() or (not reaped and self._only_zombies_left()):
                return True
            time.sleep(0.05)
        return False

    def _only_zombies_left(self) -> bool:
        """True when every process still in the group is a zombie (already dead)."""
        assert self.proc is not None
        if not os.path.isdir("/proc"):
            return False  # no procfs: only "the group is gone" counts
        return all(p.state in ("Z", "X") for p in process_table() if p.pgid == self.proc.pid)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM the whole group and wait; SIGKILL whatever is left after ``timeout``."""
        if self.proc is None:
            return None
        self._kill_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill_group(signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT)
        if not self._wait_group_gone(timeout):
            self._kill_group(signal.SIGKILL)
            self._wait_group_gone(STOP_TIMEOUT)
        LIVE_GROUPS.discard(self.proc.pid)
        return self.proc.returncode

    def kill(self, *, wait_reaped: bool = True) -> None:
        """``kill -9`` the whole process group (parent and every worker) at once.

        The parent is reaped here. With ``wait_reaped`` this also waits (bounded) until
        init has reaped the orphaned workers, as it promptly does on a normal host; some
        sandboxes' init reaps only every second or so.
        """
        if self.proc is None:
            return
        self._kill_group(signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT)
        self._wait_group_gone(STOP_TIMEOUT, reaped=wait_reaped)

    def restart(self) -> ServerProcess:
        self.stop()
        return self.start()

    def cleanup(self) -> None:
        if self.proc is None:
            return
        if self.running or self._group_alive():
            self.stop(timeout=5)
        LIVE_GROUPS.discard(self.proc.pid)

    def files(self) -> list[Path]:
        return sorted(p for p in self.data_dir.rglob("*") if p.is_file())


ServerFactory = Callable[..., ServerProcess]
