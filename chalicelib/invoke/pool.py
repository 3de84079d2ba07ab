"""Pool Invoker: long-lived local worker processes reached through the Lambda Invoke API.

Each worker gets two Invoke API clients built once (chalicelib.invoke.invoke_client:
keep-alive connections, SigV4-signed; nothing built per call): one for requests, with
the configured timeout, and one with a short timeout for the heartbeat.

- A heartbeat thread asks every worker to describe itself (``DescribeWorker``) each
  second: an answer makes it Available, a failure Unavailable. ``workers()`` (``GET
  /admin/workers``) probes every worker again before it answers, so it never reports a
  dead worker as Available.
- Requests go round-robin over Available workers; a call that fails on the wire
  (refused, dropped, timed out) marks that worker Unavailable and is retried on the
  next one, so killing a worker costs no request that another worker can serve.
  Retried calls are safe to repeat: a PUT writes the same value again, a GET reads again.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib.errors import Unavailable, to_result
from chalicelib.handlers.protocol import DescribeWorker, WorkerStatus
from chalicelib.invoke.base import Event, InvokeFailed, Result
from chalicelib.invoke.invoke_client import InvokeClient
from chalicelib.metrics.base import NO_METRICS, Metrics
from chalicelib.sigv4_sign import MAIN_ACCESS_KEY, SigningKey
from chalicelib.timestamps import rfc3339

log = logging.getLogger(__name__)

_DESCRIBE = DescribeWorker()
_DESCRIBE_EVENT = _DESCRIBE.to_json()


@dataclass
class _Worker:
    url: str
    client: InvokeClient
    probe: InvokeClient
    status: str = "Unavailable"
    info: WorkerStatus | None = None  # its last answer
    last_seen: float | None = None


class PoolInvoker:
    def __init__(
        self,
        urls: Sequence[str],
        secret: str,
        *,
        timeout: float = 10.0,
        heartbeat_seconds: float = 1.0,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._metrics = metrics
        if not urls:
            raise ValueError("the worker pool needs at least one worker URL")
        key = SigningKey(MAIN_ACCESS_KEY, secret)
        self._workers = [
            _Worker(url, InvokeClient(url, key, timeout), InvokeClient(url, key, min(timeout, 2.0))) for url in urls
        ]
        self._next = itertools.count()
        self._pool = ThreadPoolExecutor(max_workers=len(self._workers), thread_name_prefix="deltadb-probe")
        self._interval = heartbeat_seconds
        self._stopped = threading.Event()
        self.probe_all()
        threading.Thread(target=self._heartbeat, name="deltadb-heartbeat", daemon=True).start()

    # -- health ------------------------------------------------------------------
    def _probe(self, worker: _Worker) -> None:
        try:
            result = worker.probe.invoke(_DESCRIBE.function, _DESCRIBE_EVENT)
        except InvokeFailed:
            if worker.status == "Available":
                log.warning("worker %s stopped answering", worker.url)
            worker.status = "Unavailable"
            return
        if "error" in result:
            worker.status = "Unavailable"
            return
        if worker.status != "Available":
            log.info("worker %s available", worker.url)
        worker.info = _DESCRIBE.decode_reply(result)
        worker.status = "Available"
        worker.last_seen = time.time()

    def probe_all(self) -> None:
        list(self._pool.map(self._probe, self._workers))
        self._metrics.workers_available(sum(w.status == "Available" for w in self._workers))

    def _heartbeat(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self.probe_all()
            except RuntimeError:  # the interpreter is exiting: its executors take no more work
                return

    def close(self) -> None:
        self._stopped.set()

    # -- invocation ----------------------------------------------------------------
    def _order(self) -> list[_Worker]:
        start = next(self._next)
        ring = self._workers[start % len(self._workers) :] + self._workers[: start % len(self._workers)]
        available = [w for w in ring if w.status == "Available"]
        return available + [w for w in ring if w.status != "Available"]  # the heartbeat may lag

    def invoke(self, function: str, event: Event) -> Result:
        for worker in self._order():
            try:
                return worker.client.invoke(function, event)
            except InvokeFailed as exc:
                log.warning("worker %s failed (%s); trying another", worker.url, type(exc.__cause__).__name__)
                worker.status = "Unavailable"
        return to_result(Unavailable("no processing worker available"))

    def invoke_async(self, function: str, event: Event) -> None:
        for worker in self._order():
            try:
                worker.client.invoke(function, event, asynchronous=True)
                return
            except InvokeFailed:
                worker.status = "Unavailable"
        log.error("no worker took an asynchronous %s; the operation completes when read", function)

    def workers(self) -> list[WorkerStatus]:
        self.probe_all()  # as of now: a worker that died since the last heartbeat is not Available
        out = []
        for w in self._workers:
            seen = rfc3339(datetime.fromtimestamp(w.last_seen, UTC)) if w.last_seen else None
            info = w.info
            out.append(
                WorkerStatus(
                    worker_id=info.worker_id if info else w.url,
                    status=w.status,
                    key_id=info.key_id if info else None,
                    last_seen=seen,
                    tags={**(info.tags if info else {}), "addr": w.url},
                )
            )
        return out
