"""Runs an ASGI app of local/ under Granian (Rust I/O, keep-alive, N processes).

- Granian's processes learn the launcher's pid (``DELTADB_SERVER_PID``), so each one
  dies with it (local/parent_death.py, at lifespan startup).
- A stop gives each process ``STOP_GRACE_SECONDS`` to finish its requests, then kills it.
- Granian warns "Configured number of workers appears to be higher than the amount of
  CPU cores" whenever processes outnumber cores. On the filesystem our default is 4 per
  core on purpose (measured faster: see bench/README.md), so that warning is dropped
  when the count is our default, and kept when the user chose it.
"""

from __future__ import annotations

import copy
import logging
import os
from typing import Any

from local.parent_death import SERVER_PID_ENV

CORES_WARNING = "Configured number of workers appears to be higher than the amount of CPU cores"
# Seconds a stopping HTTP process may take to finish its requests before Granian kills it.
# Without a bound Granian's main process waits for it forever: after a process had been
# replaced, a stop was seen (rarely, under load) to hang there until the main was killed.
STOP_GRACE_SECONDS = 10


class DropCoresWarning(logging.Filter):
    """Drops exactly Granian's "more workers than cores" warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(CORES_WARNING)


def log_config(default_processes: bool) -> dict[str, Any]:
    """Granian's own logging configuration, plus the filter when the process count is ours."""
    from granian.log import LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    if default_processes:
        config.setdefault("filters", {})["deltadb_default_processes"] = {"()": DropCoresWarning}
        config["loggers"]["_granian"].setdefault("filters", []).append("deltadb_default_processes")
    return config


def run_granian(target: str, host: str, port: int, processes: int, *, default_processes: bool = False) -> None:
    """Serve ``target`` ("module:attribute") until stopped."""
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    os.environ[SERVER_PID_ENV] = str(os.getpid())
    Granian(
        target,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=processes,
        backlog=2048,
        log_level=LogLevels.warning,
        log_dictconfig=log_config(default_processes),
        respawn_failed_workers=True,
        workers_kill_timeout=STOP_GRACE_SECONDS,
    ).serve()
