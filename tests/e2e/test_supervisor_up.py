"""`deltadb up`: no process of a server outlives its parent, and a killed worker comes back.

Each server under `up` (a processing worker, the main worker) is a top process in a
session of its own plus its Granian process(es) in the same process group. These tests
kill one of them with SIGKILL and look at every process by parent and process group
(/proc): none may be left running, and a worker must serve its port again.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.processes import Proc, process_table
from tests.e2e.servers import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")]

DEADLINE = 20.0  # generous: each case takes a second or two


def running(pids: set[int]) -> set[int]:
    """Those of ``pids`` that still run (a zombie waiting for its reaper does not)."""
    return {p.pid for p in process_table() if p.pid in pids and p.state not in ("Z", "X")}


def children(pid: int) -> list[Proc]:
    return [p for p in process_table() if p.ppid == pid and p.state not in ("Z", "X")]


def group(pgid: int) -> set[int]:
    return {p.pid for p in process_table() if p.pgid == pgid and p.state not in ("Z", "X")}


def worker_top(srv: ServerProcess, port: int) -> Proc:
    assert srv.proc is not None
    (top,) = [p for p in children(srv.proc.pid) if "local.cli worker" in p.cmdline and f"--port {port} " in p.cmdline]
    return top


def main_top(srv: ServerProcess) -> Proc:
    assert srv.proc is not None
    (top,) = [p for p in children(srv.proc.pid) if "local.cli serve" in p.cmdline]
    return top


def worker_ports(srv: ServerProcess) -> list[int]:
    r = srv.admin("GET", "/admin/workers")
    assert r.status == 200, r
    return sorted(int(w["tags"]["addr"].rsplit(":", 1)[1]) for w in r.json())


def serves(port: int) -> bool:
    """The worker on ``port`` answers (403: an unsigned invocation, refused by a live worker)."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/2015-03-31/functions/entity_worker/invocations", data=b"{}", method="POST"
    )
    try:
        urllib.request.urlopen(req, timeout=2)
    except urllib.error.HTTPError as exc:
        return exc.code == 403
    except OSError:
        return False
    return False


def wait_for(what: str, check: object, deadline: float = DEADLINE) -> None:
    assert callable(check)
    end = time.monotonic() + deadline
    while not check():
        assert time.monotonic() < end, f"not within {deadline}s: {what}"
        time.sleep(0.05)


def everything_of(srv: ServerProcess) -> set[int]:
    """Every process of every server under `up`: the top processes and their groups."""
    assert srv.proc is not None
    tops = children(srv.proc.pid)
    assert len(tops) >= 2, tops
    return {pid for top in tops for pid in group(top.pgid)}


def api_works(srv: ServerProcess, n: int) -> None:
    body = {f"k{n}-{i}": {"i": i} for i in range(8)}  # several entities: spread over the workers
    assert srv.put("db", body).status == 200
    for key, value in body.items():
        r = srv.get("db", key)
        assert r.status == 200 and r.json() == value, r


def test_kill_9_of_a_workers_top_process_leaves_no_orphan_and_the_worker_returns(pool: ServerProcess) -> None:
    port = worker_ports(pool)[0]
    top = worker_top(pool, port)
    old = group(top.pgid)
    assert len(old) >= 2, "a worker is its top process plus a Granian process"
    os.kill(top.pid, signal.SIGKILL)
    wait_for("every process of the killed worker gone", lambda: not running(old))
    wait_for("the worker restarted and serving its port", lambda: serves(port))
    assert worker_top(pool, port).pid not in old
    api_works(pool, 1)
    assert "Address already in use" not in pool.stderr(), pool.output()


def test_kill_9_of_a_workers_granian_process_brings_it_back(pool: ServerProcess) -> None:
    port = worker_ports(pool)[1]
    # Three in a row, faster than Granian accepts (it gives up on a crash loop within
    # 5.5 s and exits): then the supervisor starts the whole worker again.
    for round_ in range(3):
        wait_for("the worker serving", lambda: serves(port))
        top = worker_top(pool, port)
        (granian,) = children(top.pid)
        os.kill(granian.pid, signal.SIGKILL)
        wait_for("the killed process gone", lambda pid=granian.pid: not running({pid}))
        wait_for("the worker serving again", lambda: serves(port))
        api_works(pool, round_)
    assert "Address already in use" not in pool.stderr(), pool.output()


def test_kill_9_of_up_takes_every_server_with_it(pool: ServerProcess) -> None:
    assert pool.proc is not None
    servers = everything_of(pool)
    assert len(servers) >= 6  # two workers and the main, each a top process and Granian processes
    ports = worker_ports(pool)
    os.kill(pool.proc.pid, signal.SIGKILL)
    pool.proc.wait(10)
    wait_for("every process of every server gone", lambda: not running(servers))
    assert not any(serves(port) for port in ports)


def test_kill_9_of_the_main_workers_top_process_leaves_nothing(pool: ServerProcess) -> None:
    assert pool.proc is not None
    servers = everything_of(pool)
    main = main_top(pool)
    main_group = group(main.pgid)
    os.kill(main.pid, signal.SIGKILL)
    assert pool.proc.wait(DEADLINE) == 128 + signal.SIGKILL  # reported, so a supervisor restarts `up`
    wait_for("the main worker's processes gone", lambda: not running(main_group))
    wait_for("the workers stopped with up", lambda: not running(servers))


def test_kill_9_of_a_serve_top_process_takes_its_granian_processes(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "data", workers=2)
    try:
        srv.start()
        assert srv.proc is not None
        server = group(srv.proc.pid)
        assert len(server) == 3  # the top process and two Granian processes
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait(10)
        wait_for("the Granian processes gone with their parent", lambda: not running(server))
    finally:
        srv.cleanup()
