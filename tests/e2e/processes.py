"""The machine's processes as the e2e harness sees them: the /proc table, free ports, and
the process groups it started (killed at interpreter exit if a run was interrupted)."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
from dataclasses import dataclass
from pathlib import Path

# Process groups started by the harness and not yet stopped: killed at interpreter exit as
# a last resort (an interrupted run), since start_new_session detaches them from the terminal.
LIVE_GROUPS: set[int] = set()


@atexit.register
def _kill_leftover_groups() -> None:
    for pgid in list(LIVE_GROUPS):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)


@dataclass(frozen=True)
class Proc:
    """One process, as /proc shows it."""

    pid: int
    ppid: int
    pgid: int
    state: str  # Z: a zombie, dead and waiting for its reaper
    cmdline: str


def process_table() -> list[Proc]:
    """Every process of the machine (Linux /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        out.append(Proc(int(entry), int(fields[1]), int(fields[2]), fields[0], cmdline))
    return out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
