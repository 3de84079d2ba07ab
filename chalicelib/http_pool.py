"""Kept-alive HTTP(S) connections to one origin, shared by threads: the lean clients' transport.

The lean Invoke API client (chalicelib/invoke/invoke_client.py) and the lean S3 client
(chalicelib/storage/s3_lean.py) both send small signed requests to one endpoint. Each
takes a connection, sends, reads the whole answer and gives the connection back:
- idle connections are kept newest first, at most ``max_idle`` (as urllib3's pool);
- one the server closed while it sat idle is dropped, never written to (urllib3 checks the same);
- ``close()`` closes the idle ones and, as their calls end, those in use;
- one TLS context per pool: loading a CA store costs tens of milliseconds.
"""

from __future__ import annotations

import http.client
import select
import threading
from typing import Any


class ConnectionPool:
    def __init__(
        self,
        scheme: str,
        host: str,
        port: int | None,
        *,
        connect_timeout: float,
        read_timeout: float,
        max_idle: int = 10,
        ca_bundle: str | None = None,
    ) -> None:
        """``ca_bundle``: the CA file for https (None: the system's store)."""
        self._host = host
        # The port always given: http.client would read "::1" as host ":" and port 1.
        self._port = port or (443 if scheme == "https" else 80)
        self._connect_timeout, self._read_timeout = connect_timeout, read_timeout
        self._tls: Any = None
        if scheme == "https":
            import ssl

            self._tls = ssl.create_default_context(cafile=ca_bundle)  # certificates and host names verified
        self._idle: list[http.client.HTTPConnection] = []
        self._max_idle = max(1, max_idle)
        self._generation = 0  # close() starts a new one: connections of an older one are not kept
        self._lock = threading.Lock()

    def take(self) -> tuple[http.client.HTTPConnection, bool, int]:
        """The newest idle connection still open (True), or a new one (False); and the pool's generation.

        Connecting may raise OSError; nothing was sent then.
        """
        while True:
            with self._lock:
                generation = self._generation
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                break
            if _idle_and_open(conn):
                return conn, True, generation
            conn.close()
        if self._tls is not None:
            conn = http.client.HTTPSConnection(self._host, self._port, timeout=self._connect_timeout, context=self._tls)
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self._connect_timeout)
        try:
            conn.connect()
        except BaseException:
            conn.close()
            raise
        assert conn.sock is not None
        conn.sock.settimeout(self._read_timeout)
        return conn, False, generation

    def give_back(self, conn: http.client.HTTPConnection, reply: http.client.HTTPResponse, generation: int) -> None:
        """Keep ``conn`` for the next call once ``reply`` was read whole, unless the server is closing it."""
        if not reply.will_close:
            with self._lock:
                if generation == self._generation and len(self._idle) < self._max_idle:
                    self._idle.append(conn)
                    return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._generation += 1
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _idle_and_open(conn: http.client.HTTPConnection) -> bool:
    """Nothing to read on an idle kept-alive connection: neither an end of file nor stray bytes."""
    sock = conn.sock
    if sock is None:
        return False
    poll = select.poll()
    poll.register(sock, select.POLLIN)
    return not poll.poll(0)
