"""`deltadb up --workers 2`: the main worker reaches processing workers over the Lambda
Invoke API; killing a worker under write load loses no acknowledged write."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.servers import ServerProcess

pytestmark = pytest.mark.e2e


def workers(srv: ServerProcess) -> list[dict[str, Any]]:
    r = srv.admin("GET", "/admin/workers")
    assert r.status == 200, r
    return r.json()  # type: ignore[no-any-return]


def test_the_api_works_through_the_pool(pool: ServerProcess) -> None:
    body = {f"k{i}": {"i": i, "s": "ü" * i} for i in range(10)}
    assert pool.put("db", body).status == 200
    for k, v in body.items():
        assert pool.get("db", k).json() == v
    assert pool.admin("PUT", "/schema/db", {"type": "object"}).status == 200
    assert pool.put("db", {"bad": 5}).status == 400
    created = pool.admin("POST", "/api/keys", {"name": "ro", "permissions": ["read"]}).json()
    assert pool.get("db", "k1", credential=created["secret"]).status == 200
    assert pool.put("db", {"x": {}}, credential=created["secret"]).status == 403
    assert pool.admin("DELETE", f"/api/keys/{created['id']}").status == 200
    assert pool.get("db", "k1", credential=created["secret"]).status == 401
    assert pool.request("DELETE", "/entity/db?key=k1", credential=pool.admin_key).status == 200
    assert pool.get("db", "k1").status == 404


def test_admin_workers_lists_each_worker(pool: ServerProcess) -> None:
    listed = workers(pool)
    assert sorted(w["worker_id"] for w in listed) == ["worker-1", "worker-2"]
    for w in listed:
        assert set(w) == {"worker_id", "status", "key_id", "last_seen", "tags"}
        assert w["status"] == "Available" and w["key_id"].startswith("local-")
        assert w["tags"]["addr"].startswith("http://127.0.0.1:")


def test_workers_refuse_unsigned_invocations(pool: ServerProcess) -> None:
    addr = workers(pool)[0]["tags"]["addr"]
    event = json.dumps({"op": "entity.put", "db": "db", "key": "forged", "value": "1"}).encode()
    req = urllib.request.Request(f"{addr}/2015-03-31/functions/entity_worker/invocations", data=event, method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=5)
    assert err.value.code == 403
    assert pool.get("db", "forged").status == 404


def _pid_on_port(port: int) -> int:
    out = subprocess.run(["pgrep", "-f", f"worker --host 127.0.0.1 --port {port} "], capture_output=True, text=True)
    return int(out.stdout.split()[0])


def test_killing_a_worker_under_load_loses_no_acknowledged_write(pool: ServerProcess) -> None:
    import os
    import signal

    acked: dict[str, int] = {}
    failures: list[int] = []
    stop = threading.Event()

    def writer(n: int) -> None:
        i = 0
        while not stop.is_set():
            key = f"w{n}-{i}"
            r = pool.put("load", {key: {"v": i}})
            if r.status == 200:
                acked[key] = i
            else:
                failures.append(r.status)
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    victim = next(w for w in workers(pool) if w["worker_id"] == "worker-1")
    port = int(victim["tags"]["addr"].rsplit(":", 1)[1])
    os.killpg(_pid_on_port(port), signal.SIGKILL)
    deadline = time.monotonic() + 5
    while next(w for w in workers(pool) if w["worker_id"] == "worker-1")["status"] != "Unavailable":
        assert time.monotonic() < deadline, "the dead worker stayed Available"
        time.sleep(0.2)
    deadline = time.monotonic() + 20
    while next(w for w in workers(pool) if w["worker_id"] == "worker-1")["status"] != "Available":
        assert time.monotonic() < deadline, "the restarted worker did not rejoin"
        time.sleep(0.2)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) > 50
    assert len(failures) <= len(acked) // 20, failures  # fail-over keeps nearly every request served
    for key, version in acked.items():
        r = pool.get("load", key)
        assert r.status == 200 and r.json() == {"v": version}, (key, r)


def test_respond_async_through_the_pool(pool: ServerProcess) -> None:
    body = {f"a{i}": {"i": i} for i in range(20)}
    r = pool.request("PUT", "/entity/async", body, credential=pool.admin_key, headers={"Prefer": "respond-async"})
    assert r.status == 202, r
    op_id = r.json()["operation_id"]
    deadline = time.monotonic() + 15
    while True:
        status = pool.admin("GET", f"/operations/{op_id}").json()
        if status["status"] != "pending":
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.1)
    assert status["status"] == "done", status
    for k, v in body.items():
        assert pool.get("async", k).json() == v


def wait_all_available(srv: ServerProcess, timeout: float = 10.0) -> None:
    """Until every server process of the main has seen every worker answer (a few polls in a row)."""
    deadline, streak = time.monotonic() + timeout, 0
    while streak < 6:
        assert time.monotonic() < deadline, workers(srv)
        streak = streak + 1 if {w["status"] for w in workers(srv)} == {"Available"} else 0
        time.sleep(0.05)


def test_a_hung_worker_does_not_hang_the_api(tmp_path: Path) -> None:
    import os
    import signal

    srv = ServerProcess(tmp_path / "data", command="up", workers=2, extra_env={"DELTADB_WORKER_TIMEOUT": "1"})
    try:
        srv.start()
        assert srv.put("db", {"warm": 1}).status == 200
        wait_all_available(srv)
        victim = workers(srv)[0]
        pid = _pid_on_port(int(victim["tags"]["addr"].rsplit(":", 1)[1]))
        os.killpg(pid, signal.SIGSTOP)  # alive but answering nothing
        try:
            for i in range(6):  # some of these are sent to the hung worker first
                start = time.monotonic()
                r = srv.put("db", {f"k{i}": i})
                assert r.status == 200, r
                assert time.monotonic() - start < 4.0  # the 1 s timeout, then another worker
            statuses = {w["tags"]["addr"]: w["status"] for w in workers(srv)}
            assert statuses[victim["tags"]["addr"]] == "Unavailable"
        finally:
            os.killpg(pid, signal.SIGCONT)
        deadline = time.monotonic() + 10
        while {w["status"] for w in workers(srv)} != {"Available"}:
            assert time.monotonic() < deadline, "the resumed worker did not rejoin"
            time.sleep(0.2)
    finally:
        srv.cleanup()


def test_lambda_invoker_against_a_local_worker(tmp_path: Path) -> None:
    """DELTADB_INVOKER=lambda: the plain boto3 Lambda invoker, pointed at a worker process."""
    import os
    import secrets as _secrets
    import signal

    from tests.e2e.processes import free_port
    from tests.e2e.servers import SERVE_COMMAND

    port = free_port()
    shared = {"DELTADB_WORKER_SECRET": _secrets.token_urlsafe(32), "DELTADB_SECRETS_DIR": str(tmp_path / "secrets")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELTADB_")} | shared
    worker = subprocess.Popen(
        [*SERVE_COMMAND, "worker", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        env=env,
        start_new_session=True,
    )
    main = ServerProcess(
        tmp_path / "data",
        extra_env={
            **shared,
            "DELTADB_ROLE": "main",
            "DELTADB_INVOKER": "lambda",
            "DELTADB_LAMBDA_ENDPOINT": f"http://127.0.0.1:{port}",
        },
    )
    try:
        main.start()
        assert main.put("db", {"k": {"v": 1}, "j": 2}).status == 200
        assert main.get("db", "k").json() == {"v": 1}
        assert main.admin("PUT", "/schema/db", {"type": "object"}).status == 200
        assert main.put("db", {"bad": 1}).status == 400
    finally:
        main.cleanup()
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(10)


def test_up_exits_and_cleans_up_when_its_main_worker_dies(tmp_path: Path) -> None:
    import os
    import signal

    srv = ServerProcess(tmp_path / "data", command="up", workers=1)
    try:
        srv.start()
        assert srv.proc is not None
        found = ["pgrep", "-P", str(srv.proc.pid), "-f", "local.cli serve"]
        out = subprocess.run(found, capture_output=True, text=True)
        os.kill(int(out.stdout.split()[0]), signal.SIGKILL)  # the main worker's parent process dies at once
        assert srv.proc.wait(20) == 128 + signal.SIGKILL  # reported, so a supervisor restarts `up`
        deadline = time.monotonic() + 15
        while socket.socket().connect_ex(("127.0.0.1", srv.port)) == 0:  # no orphan keeps the port
            assert time.monotonic() < deadline, "the main worker's processes outlived it"
            time.sleep(0.2)
    finally:
        srv.cleanup()
