"""The HTTP server's settings (address, processes, threads): only local/ uses them.

Declared like the app's settings (chalicelib/config.py, ``setting()``), so they get
their flags and help text the same way. Some defaults depend on where the handlers
run, so a ``ServerSettings`` is built with the app's ``Settings``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.config import Settings
from chalicelib.settings_table import API_COMMANDS, Env, load, lower, setting

PORTS = {"serve": 8080, "up": 8080, "worker": 9000}


@dataclass(frozen=True)
class ServerSettings:
    app: Settings
    host: str = setting("127.0.0.1", env="DELTADB_HOST", flag="--host", help="listen address")
    port: int | None = setting(None, env="DELTADB_PORT", parse=int, flag="--port", shown="8080; 9000 for worker",
                               minimum=0, help="listen port")  # fmt: skip
    processes: int | None = setting(
        None, env=("DELTADB_PROCESSES", Env("DELTADB_WORKERS", deprecated=True)), parse=int, flag="--processes",
        commands=API_COMMANDS, aliases={"up": ("--server-workers",)}, deprecated_flags={"serve": "--workers"},
        minimum=1, shown="4 per core when requests run inline, else 1 per core", help="HTTP server processes",
    )  # fmt: skip
    threads: int | None = setting(
        None, env="DELTADB_THREADS", parse=int, flag="--threads", minimum=1,
        shown="8; 32 for a main worker whose handlers run elsewhere",
        help="request threads per process, for requests not run inline; a processing worker runs this many "
        "invocations at once",
    )  # fmt: skip
    inline: str = setting(
        "auto", env="DELTADB_INLINE", parse=lower, choices=("auto", "all", "reads", "off"),
        help="run requests on each process's event loop: all, reads, off; auto = all when handlers run in-process "
        "on the filesystem, else off",
    )  # fmt: skip
    metrics_port: int | None = setting(
        None, env="DELTADB_METRICS_PORT", parse=int, flag="--metrics-port", minimum=0, shown="off",
        help="serve Prometheus metrics at http://<metrics host>:<port>/metrics (no auth; separate from the API port)",
    )  # fmt: skip
    metrics_host: str = setting(
        "127.0.0.1", env="DELTADB_METRICS_HOST", flag="--metrics-host",
        help="listen address of the metrics endpoint (loopback by default: it has no auth)",
    )  # fmt: skip
    processing_workers: int = setting(
        2, env="DELTADB_PROCESSING_WORKERS", parse=int, flag="--workers", commands=("up",), minimum=1,
        help="processing worker processes",
    )  # fmt: skip

    @classmethod
    def from_env(cls, app: Settings, env: Mapping[str, str] | None = None) -> ServerSettings:
        return load(cls, os.environ if env is None else env, app=app)

    def listen_port(self, command: str) -> int:
        return self.port if self.port is not None else PORTS[command]

    @property
    def inline_mode(self) -> str:
        """Which requests run on the server's event loop instead of its thread pool.

        On the filesystem every operation is short (a durable write is two fsyncs), so
        requests run inline and concurrency comes from more processes: no thread
        hand-offs or GIL contention. With S3 a request waits milliseconds on the network:
        it must not hold up the event loop, so it goes to the thread pool.
        """
        if self.inline == "auto":
            # Handlers in other processes mean network waits, like S3: keep the loop free.
            return "all" if self.app.backend == "fs" and self.app.invoker == "inprocess" else "off"
        return self.inline

    @property
    def http_threads(self) -> int:
        """Request threads per server process, for requests not run inline.

        A main worker whose handlers run elsewhere (pool, Lambda) spends nearly all of a
        request waiting on the invocation, so it needs more threads in flight than one
        that does the work itself: 32, against 8, so that it keeps every worker busy.
        """
        if self.threads is not None:
            return self.threads
        return 8 if self.app.invoker == "inprocess" else 32

    @property
    def process_count(self) -> int:
        """HTTP processes: as configured, else 4 per core inline (measured fastest), 1 per core threaded."""
        if self.processes is not None:
            return self.processes
        cores = os.cpu_count() or 1
        return 4 * cores if self.inline_mode == "all" else cores
