"""A TCP proxy in front of an S3 server that injects faults into new connections.

``fail_next(n, mode)`` makes the next ``n`` connections fail, then traffic flows again:
- ``"drop"``: read the request, close the connection without a response;
- ``"slowdown"``: answer ``503 SlowDown`` (S3's throttling error) and close;
- ``"error500"``: answer ``500 InternalError`` and close;
- ``"conflict"``: answer ``409 ConditionalRequestConflict`` and close.
Healthy connections are relayed byte for byte (keep-alive works). ``requests`` counts
requests per method seen on faulted connections plus relayed connections opened.
"""

from __future__ import annotations

import socket
import threading

_BODIES = {
    "slowdown": (503, "SlowDown", "Please reduce your request rate."),
    "error500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "conflict": (409, "ConditionalRequestConflict", "A conflicting conditional operation is in progress."),
}


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._faults: list[str] = []
        self._lock = threading.Lock()
        self.faults_served = 0
        self.connections = 0
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def fail_next(self, n: int, mode: str) -> None:
        with self._lock:
            self._faults = [mode] * n

    def close(self) -> None:
        self._closed = True
        self.listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                fault = self._faults.pop(0) if self._faults else None
            threading.Thread(target=self._serve, args=(conn, fault), daemon=True).start()

    def _serve(self, conn: socket.socket, fault: str | None) -> None:
        if fault is None:
            self._relay(conn)
            return
        with conn:
            _read_request(conn)
            with self._lock:
                self.faults_served += 1
            if fault == "drop":
                return
            status, code, message = _BODIES[fault]
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
            )
            conn.sendall(
                f"HTTP/1.1 {status} {code}\r\nContent-Type: application/xml\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\n\r\n{body}".encode()
            )

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream)
        except OSError:
            client.close()
            return

        def pipe(src: socket.socket, dst: socket.socket) -> None:
            try:
                while chunk := src.recv(65536):
                    dst.sendall(chunk)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)
