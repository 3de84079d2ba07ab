"""The pool's heartbeat thread ends quietly when the interpreter shuts its executors down."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from chalicelib.invoke.pool import PoolInvoker
from tests.s3servers import free_port


def test_heartbeat_stops_quietly_at_interpreter_shutdown(monkeypatch: pytest.MonkeyPatch) -> None:
    raised: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", raised.append)
    before = set(threading.enumerate())
    pool = PoolInvoker([f"http://127.0.0.1:{free_port()}"], "s" * 32, timeout=0.2, heartbeat_seconds=0.05)
    (heartbeat,) = [t for t in set(threading.enumerate()) - before if t.name == "deltadb-heartbeat"]
    pool._pool.shutdown(wait=True)  # what interpreter exit does to every executor
    heartbeat.join(timeout=5)
    assert not heartbeat.is_alive() and raised == []
    pool.close()


def test_close_stops_the_heartbeat() -> None:
    before = set(threading.enumerate())
    pool = PoolInvoker([f"http://127.0.0.1:{free_port()}"], "s" * 32, timeout=0.2, heartbeat_seconds=0.05)
    (heartbeat,) = [t for t in set(threading.enumerate()) - before if t.name == "deltadb-heartbeat"]
    pool.close()
    heartbeat.join(timeout=5)
    assert not heartbeat.is_alive()
