"""The Prometheus endpoint of ``deltadb serve|up|worker --metrics-port P``.

prometheus-client's multiprocess mode: every server process (Granian's N processes, and
with ``up`` the main worker's and each processing worker's) writes its own files into
one folder, ``PROMETHEUS_MULTIPROC_DIR``, and this endpoint, run by the command's own
process (the one that starts the others), adds them up at each scrape. So counts are
the whole server's, whichever process answered a request, and a process that died and
was started again loses none of its counts.

- The folder is fresh for each run (``deltadb-metrics-<pid>-...`` in the temp folder),
  removed at stop; folders left by runs that were killed are removed at the next start.
- The variable is set before any server process starts and before prometheus-client is
  imported here (it picks its mode at import).
- At each scrape, live-process gauges of processes that have exited are dropped
  (``mark_process_dead``): a dead process's view must not stay the newest.
- Only ``GET /metrics``; no auth, so it listens on loopback unless told otherwise.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from local.server_settings import ServerSettings

DIR_PREFIX = "deltadb-metrics-"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's own name (Settings.metrics_dir)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def sweep_stale_dirs(parent: Path) -> int:
    """Remove the metrics folders of runs whose process no longer exists; how many."""
    removed = 0
    for folder in parent.glob(f"{DIR_PREFIX}*"):
        pid = folder.name.removeprefix(DIR_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def fresh_dir(parent: Path | None = None) -> Path:
    parent = Path(tempfile.gettempdir()) if parent is None else parent
    sweep_stale_dirs(parent)
    return Path(tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{os.getpid()}-", dir=parent))


def drop_dead_processes(folder: Path) -> list[int]:
    """``mark_process_dead`` for every process with live gauges in ``folder`` that has exited."""
    from prometheus_client import multiprocess

    dead: set[int] = set()
    for f in folder.glob("gauge_live*_*.db"):
        pid = f.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            dead.add(int(pid))
    for gone in dead:
        multiprocess.mark_process_dead(gone, str(folder))  # type: ignore[no-untyped-call]
    return sorted(dead)


class _LiveCollector:
    """The folder's metrics, once dead processes' live gauges are dropped."""

    def __init__(self, folder: Path) -> None:
        from prometheus_client.multiprocess import MultiProcessCollector

        self.folder = folder
        self._inner = MultiProcessCollector(None, path=str(folder))  # type: ignore[no-untyped-call]

    def collect(self) -> Iterator[Any]:
        drop_dead_processes(self.folder)
        yield from self._inner.collect()  # type: ignore[no-untyped-call]


def metrics_app(folder: Path) -> WsgiApp:
    from prometheus_client import CollectorRegistry, make_wsgi_app

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_LiveCollector(folder))
    scrape = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics" or environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"not found: the metrics are at GET /metrics\n"]
        return scrape(environ, start_response)  # type: ignore[no-any-return]

    return app


def start(host: str, port: int, folder: Path) -> Any:
    """Serve ``folder``'s metrics on a daemon thread; the server (``.server_port``, ``.shutdown()``)."""
    import socket
    import threading
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # a scrape every few seconds: no log line
            pass

    httpd = make_server(host, port, metrics_app(folder), Server, handler_class=Quiet)
    threading.Thread(target=httpd.serve_forever, name="deltadb-metrics", daemon=True).start()
    return httpd


@contextmanager
def serving(server: ServerSettings) -> Iterator[int | None]:
    """With ``--metrics-port``: a fresh metrics folder for this run's processes and the endpoint on it.

    Yields the endpoint's port (None when metrics are off). Must be entered before any
    server process starts.
    """
    if server.metrics_port is None:
        yield None
        return
    folder = fresh_dir()
    os.environ[MULTIPROC_ENV] = str(folder)
    try:
        httpd = start(server.metrics_host, server.metrics_port, folder)
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        where = f"{server.metrics_host}:{server.metrics_port}"
        raise SystemExit(f"deltadb: cannot serve metrics on {where}: {exc.strerror or exc}") from None
    port = int(httpd.server_port)
    print(f"deltadb: metrics at http://{server.metrics_host}:{port}/metrics", flush=True)
    try:
        yield port
    finally:
        httpd.shutdown()
        shutil.rmtree(folder, ignore_errors=True)
