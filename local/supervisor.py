"""Process supervision for ``deltadb up``: every server is a process group that dies with us.

Each server (a processing worker, the main worker) is a ``deltadb`` process in a
session of its own, whose Granian processes share its process group. No process of
one outlives ``up`` or its own parent (local/parent_death.py); when a server's top
process dies, whatever is left of its group is killed before it is started again, so
nothing keeps its port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from functools import partial

from local.parent_death import die_with_parent

RESTART_SPACING = 1.0  # seconds between two starts of one worker (a worker that cannot start)
POLL = 0.2


def start_server(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``python -m local.cli <args>`` in a new session, stopped (SIGTERM) when we die."""
    cmd = [sys.executable, "-m", "local.cli", *args]
    return subprocess.Popen(  # noqa: S603 (our own CLI)
        cmd, env=env, start_new_session=True, preexec_fn=partial(die_with_parent, signal.SIGTERM, os.getpid())
    )


def exit_status(proc: subprocess.Popen[bytes]) -> int | None:
    """The exit code of a dead process (-signal when killed) without reaping it, else None.

    Unreaped, its pid stays reserved, so its process group can still be signalled
    safely: the pid cannot have been reused.
    """
    if proc.returncode is not None:
        return proc.returncode
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return proc.poll()
    if info is None:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


def live_members(pgid: int) -> list[int]:
    """Processes of the group that still run (zombies, awaiting their reaper, do not count)."""
    if not os.path.isdir("/proc"):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        return [pgid]
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry))
    return members


def _signal_groups(pgids: Iterable[int], sig: int) -> None:
    for pgid in pgids:
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass


def _wait_gone(pgids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(live_members(p) for p in pgids):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def stop_groups(pgids: list[int], grace: float = 10.0) -> None:
    """SIGTERM every group, SIGKILL what is still running after ``grace`` seconds."""
    _signal_groups(pgids, signal.SIGTERM)
    if not _wait_gone(pgids, grace):
        _signal_groups(pgids, signal.SIGKILL)
        _wait_gone(pgids, grace)


def kill_group(pgid: int, timeout: float = 5.0) -> None:
    """SIGKILL a group and wait until none of it runs (its port is free then)."""
    _signal_groups([pgid], signal.SIGKILL)
    _wait_gone([pgid], timeout)


class WorkerSupervisor:
    """Keeps the processing workers running: a worker that dies is started again."""

    def __init__(self, ports: list[int], host: str, env: dict[str, str]) -> None:
        self.env = env
        self.host = host
        self.ports = ports
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * len(ports)
        self._started = [0.0] * len(ports)
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def _start(self, i: int) -> None:
        args = ["worker", "--host", self.host, "--port", str(self.ports[i]), "--worker-id", f"worker-{i + 1}"]
        self.procs[i] = start_server(args, self.env)
        self._started[i] = time.monotonic()

    def start(self) -> None:
        for i in range(len(self.ports)):
            self._start(i)
        threading.Thread(target=self._watch, name="deltadb-supervisor", daemon=True).start()

    def _watch(self) -> None:
        while not self._stop.wait(POLL):
            with self._lock:
                if not self._stop.is_set():
                    for i in range(len(self.procs)):
                        self._check(i)

    def _check(self, i: int) -> None:
        proc = self.procs[i]
        if proc is not None:
            code = exit_status(proc)
            if code is None:
                return
            print(f"deltadb up: worker-{i + 1} exited ({code}); restarting", file=sys.stderr, flush=True)
            kill_group(proc.pid)  # its Granian processes, before the leader is reaped
            proc.wait()
            self.procs[i] = None
        if time.monotonic() - self._started[i] >= RESTART_SPACING:
            self._start(i)

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            procs = [p for p in self.procs if p is not None]
        stop_groups([p.pid for p in procs])
        for proc in procs:
            proc.wait()

    def urls(self) -> str:
        return ",".join(f"http://{self.host}:{port}" for port in self.ports)
