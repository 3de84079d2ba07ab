"""Crash safety: ``kill -9`` the whole server mid-load, restart, and check every acknowledged write.

A writer load (several client threads) PUTs many distinct keys, some multi-entity
PUTs, and overwrites a few keys with increasing versions (each overwritten key is
owned by one thread, so its versions are sent in order). Each write is recorded as
attempted before it is sent and as acknowledged when it is answered 200. The server's
process group is SIGKILLed while the load runs; after a restart on the same data dir:

- every acknowledged write reads back exactly;
- an attempted but unacknowledged write reads back exactly or not at all (404);
- an overwritten key holds the last acknowledged version or a later attempted one;
- no temp file (``.tmp.<pid>.<hex>``) is left anywhere under the data dir;
- no file under the data dir holds the values' plaintext.
"""

from __future__ import annotations

import http.client
import json
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.http_client import q
from tests.e2e.servers import ADMIN_KEY, ServerFactory, ServerProcess

pytestmark = pytest.mark.e2e

DB = "crash"
CLIENT_THREADS = 8
OVERWRITTEN_PER_THREAD = 2
MIN_ACKED_BEFORE_KILL = 150
MAX_LOAD_SECONDS = 8.0
ROUNDS = 2  # kill -9 / restart cycles on the same data dir


@dataclass
class Ledger:
    marker: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    attempted: dict[str, Any] = field(default_factory=dict)  # distinct key -> value
    acked: set[str] = field(default_factory=set)
    versions_sent: dict[str, int] = field(default_factory=dict)  # overwritten key -> last attempted version
    versions_acked: dict[str, int] = field(default_factory=dict)  # overwritten key -> last acknowledged version
    next_version: dict[str, int] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)  # answers other than 200 while the server was up

    @property
    def acked_count(self) -> int:
        with self.lock:
            return len(self.acked) + sum(self.versions_acked.values())


def versioned_value(marker: str, key: str, version: int) -> dict[str, Any]:
    return {"marker": marker, "key": key, "version": version, "pad": f"{marker}:{version}:" + "v" * 3000}


def distinct_value(marker: str, key: str) -> dict[str, Any]:
    return {"marker": marker, "key": key, "payload": [marker, 3.25, {"deep": [key, None, True]}], "pad": "d" * 2000}


class Writer(threading.Thread):
    def __init__(self, srv: ServerProcess, ledger: Ledger, tid: int, rnd: int, stop: threading.Event) -> None:
        super().__init__(daemon=True, name=f"crash-writer-{tid}")
        self.srv, self.ledger, self.tid, self.rnd, self.stop_event = srv, ledger, tid, rnd, stop
        self.conn: http.client.HTTPConnection | None = None

    def _put(self, body: dict[str, Any]) -> int | None:
        """PUT on a keep-alive connection; the status, or None when the server is gone."""
        try:
            if self.conn is None:
                self.conn = self.srv.connection(timeout=10)
            self.conn.request(
                "PUT",
                f"/entity/{q(DB)}",
                body=json.dumps(body).encode(),
                headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"},
            )
            resp = self.conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException):
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return None
        if resp.status != 200 or json.loads(data) != {"status": "ok"}:
            with self.ledger.lock:
                self.ledger.unexpected.append(f"{resp.status} {data[:200]!r}")
        return resp.status

    def run(self) -> None:
        led = self.ledger
        i = 0
        while not self.stop_event.is_set():
            i += 1
            if i % 3 == 0:
                # overwrite one of this thread's own keys with the next version
                key = f"ow-{self.tid}-{i % OVERWRITTEN_PER_THREAD}"
                with led.lock:
                    version = led.next_version.get(key, 0) + 1
                    led.next_version[key] = version
                    led.versions_sent[key] = version
                status = self._put({key: versioned_value(led.marker, key, version)})
                if status == 200:
                    with led.lock:
                        led.versions_acked[key] = max(led.versions_acked.get(key, 0), version)
            else:
                n = 3 if i % 5 == 0 else 1  # some multi-entity PUTs
                keys = [f"d-{self.rnd}-{self.tid}-{i}-{j}" for j in range(n)]
                body = {k: distinct_value(led.marker, k) for k in keys}
                with led.lock:
                    led.attempted.update(body)
                status = self._put(body)
                if status == 200:
                    with led.lock:
                        led.acked.update(keys)
            if status is None:
                break  # the server is gone (the kill): this writer is done
        if self.conn is not None:
            self.conn.close()


def run_load_and_kill(srv: ServerProcess, ledger: Ledger, rnd: int) -> None:
    stop = threading.Event()
    writers = [Writer(srv, ledger, t, rnd, stop) for t in range(CLIENT_THREADS)]
    start_acked = ledger.acked_count
    for w in writers:
        w.start()
    try:
        deadline = time.monotonic() + MAX_LOAD_SECONDS
        while ledger.acked_count - start_acked < MIN_ACKED_BEFORE_KILL and time.monotonic() < deadline:
            time.sleep(0.02)
        alive = [w for w in writers if w.is_alive()]
        assert len(alive) == CLIENT_THREADS, "writers stopped before the kill"
        srv.kill()  # SIGKILL the whole process group while the writers are mid-request
    finally:
        stop.set()
        for w in writers:
            w.join(timeout=30)
    assert not any(w.is_alive() for w in writers)
    assert ledger.acked_count - start_acked >= 20, "too few writes acknowledged before the kill to mean anything"
    assert not srv.running


def temp_files(srv: ServerProcess) -> list[str]:
    return [str(p) for p in srv.data_dir.rglob(".tmp.*")]


def check_everything(srv: ServerProcess, ledger: Ledger) -> dict[str, int]:
    conn = srv.connection(timeout=10)
    stats = {"acked": 0, "unacked_present": 0, "unacked_absent": 0, "overwritten": 0}
    try:

        def get(key: str) -> tuple[int, Any]:
            r = srv.request("GET", f"/entity/{q(DB)}?key={q(key)}", credential=ADMIN_KEY, conn=conn)
            return r.status, (r.json() if r.status == 200 else r.body)

        for key, value in sorted(ledger.attempted.items()):
            status, got = get(key)
            if key in ledger.acked:
                assert status == 200, f"acknowledged write {key} lost after kill -9: {status} {got!r}"
                assert got == value, f"acknowledged write {key} reads back different: {got!r}"
                stats["acked"] += 1
            elif status == 200:
                assert got == value, f"unacknowledged write {key} reads back corrupt: {got!r}"
                stats["unacked_present"] += 1
            else:
                assert status == 404, f"unacknowledged write {key}: {status} {got!r} (corrupt entity?)"
                stats["unacked_absent"] += 1

        for key, sent in sorted(ledger.versions_sent.items()):
            acked = ledger.versions_acked.get(key, 0)
            status, got = get(key)
            if acked == 0 and status == 404:
                continue
            assert status == 200, f"overwritten key {key} (last acked v{acked}): {status} {got!r}"
            version = got.get("version") if isinstance(got, dict) else None
            assert isinstance(version, int), f"{key}: corrupt value {got!r}"
            assert acked <= version <= sent, f"{key}: read v{version}, last acked v{acked}, last sent v{sent}"
            assert got == versioned_value(ledger.marker, key, version), f"{key}: corrupt value {got!r}"
            stats["overwritten"] += 1
    finally:
        conn.close()
    return stats


def test_kill_9_mid_load_loses_no_acknowledged_write(server_factory: ServerFactory) -> None:
    ledger = Ledger(marker=f"PLAINTEXT-CANARY-{secrets.token_hex(12)}")
    srv = server_factory()
    all_stats = []
    for rnd in range(ROUNDS):
        run_load_and_kill(srv, ledger, rnd)
        assert not ledger.unexpected, f"non-200 answers while the server was up: {ledger.unexpected[:5]}"

        # A temp file a killed writer may have left, named like the server's own (its pid is dead now),
        # so the sweep on start is always exercised.
        assert srv.proc is not None
        planted = srv.data_dir / "files" / DB / f".tmp.{srv.proc.pid}.{secrets.token_hex(8)}"
        planted.write_bytes(b"half-written " + ledger.marker.encode())
        left_by_kill = temp_files(srv)

        srv.start()
        remaining = temp_files(srv)
        assert not remaining, f"temp files left after restart (before restart: {left_by_kill}): {remaining}"
        all_stats.append(check_everything(srv, ledger))
        log = srv.stderr()
        assert "integrity failure" not in log and "Traceback" not in log, srv.output()

    assert all(s["acked"] > 0 for s in all_stats), all_stats
    # still fully usable: the same keys can be written again
    r = srv.put(DB, {"after-crash": {"ok": True}, "ow-0-0": {"reset": 1}})
    assert r.status == 200, r
    assert srv.get(DB, "ow-0-0").json() == {"reset": 1}
    srv.stop()

    # no plaintext of any written value anywhere in the data dir (all files, raw bytes)
    needle = ledger.marker.encode()
    files = srv.files()
    assert any(p.parent.name == DB for p in files), "no entity files found: wrong data dir?"
    leaks = [str(p) for p in files if needle in p.read_bytes()]
    assert not leaks, f"plaintext of entity values found in: {leaks[:10]}"
    assert not temp_files(srv)


def _process_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()[0]


def test_sweep_removes_temp_file_of_dead_unreaped_writer(server_factory: ServerFactory) -> None:
    """A temp file whose writer process is dead but not yet reaped must be swept on start.

    Happens after ``kill -9`` of the server group whenever init reaps the orphaned workers
    lazily (this sandbox's init does, so does any non-reaping PID 1 or subreaper).
    """
    srv = server_factory()
    r = srv.put(DB, {"k": 1})
    assert r.status == 200, r
    srv.stop()

    dead = subprocess.Popen(["true"])  # exits at once; never waited for → a zombie
    try:
        deadline = time.monotonic() + 10
        while _process_state(dead.pid) != "Z" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _process_state(dead.pid) == "Z"
        tmp = srv.data_dir / "files" / DB / f".tmp.{dead.pid}.{secrets.token_hex(8)}"
        tmp.write_bytes(b"half-written")

        srv.start()
        assert not tmp.exists(), f"temp file of dead writer pid {dead.pid} (zombie) left behind: {tmp}"
        assert "removed 1 stale temp files" in srv.stdout(), srv.output()
    finally:
        dead.wait()
