"""The HTTP server's settings (local/server_settings.py): defaults follow where the handlers run."""

from __future__ import annotations

import os

import pytest

from chalicelib.config import ConfigError, Settings
from local.server_settings import ServerSettings


def server(env: dict[str, str]) -> ServerSettings:
    return ServerSettings.from_env(Settings.from_env(env), env)


def test_request_threads_follow_where_the_handlers_run() -> None:
    assert server({}).http_threads == 8  # handlers in-process: the process does the work
    pool = {"DELTADB_INVOKER": "pool", "DELTADB_WORKER_URLS": "http://w:9000", "DELTADB_WORKER_SECRET": "s" * 32}
    assert server(pool).http_threads == 32  # the main only waits on the workers
    assert server({**pool, "DELTADB_THREADS": "4"}).http_threads == 4
    with pytest.raises(ConfigError):
        server({"DELTADB_THREADS": "0"})


def test_inline_and_processes_follow_the_backend() -> None:
    cores = os.cpu_count() or 1
    fs = server({})
    assert fs.inline_mode == "all" and fs.process_count == 4 * cores and fs.processes is None
    s3 = server({"S3_ENDPOINT": "127.0.0.1:9000"})
    assert s3.inline_mode == "off" and s3.process_count == cores
    assert server({"DELTADB_INLINE": "READS"}).inline_mode == "reads"
    with pytest.raises(ConfigError, match="DELTADB_INLINE must be auto, all, reads or off"):
        server({"DELTADB_INLINE": "sometimes"})


def test_processes_and_its_deprecated_name() -> None:
    assert server({"DELTADB_PROCESSES": "3"}).process_count == 3
    assert server({"DELTADB_WORKERS": "5"}).process_count == 5  # still read (the CLI warns)
    assert server({"DELTADB_PROCESSES": "3", "DELTADB_WORKERS": "5"}).process_count == 3
    with pytest.raises(ConfigError, match="DELTADB_PROCESSES must be >= 1"):
        server({"DELTADB_PROCESSES": "0"})
    with pytest.raises(ConfigError, match="DELTADB_PROCESSES"):
        server({"DELTADB_PROCESSES": "many"})


def test_ports_by_command() -> None:
    assert server({}).listen_port("serve") == 8080 and server({}).listen_port("worker") == 9000
    assert server({"DELTADB_PORT": "9"}).listen_port("worker") == 9
    assert server({}).processing_workers == 2
