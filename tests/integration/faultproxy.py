"""A TCP proxy in front of an S3 server that injects faults into new connections.

``fail_next(n, mode)`` makes the next ``n`` connections fail, then traffic flows again.
Faults where the server never sees the request:
- ``"drop"``: read the request, close the connection without a response;
- ``"reset"``: reset the connection (RST) before reading anything;
- ``"slowdown"``: answer ``503 SlowDown`` (S3's throttling error) and close;
- ``"error500"``: answer ``500 InternalError`` and close;
- ``"conflict"``: answer ``409 ConditionalRequestConflict`` and close.
Faults where the server applies the request and its reply goes wrong:
- ``"applied_drop"``: forward it, then close without passing the reply on;
- ``"truncate"``: forward it, pass on the reply cut in the middle of its body (of its
  headers when it has no body), then close;
- ``"slow"``: forward it, hold the reply for ``slow_seconds`` (past the client's read
  timeout), then pass it on and close.
Healthy connections are relayed byte for byte (keep-alive works). With a ``method``,
``fail_next`` spoils the next requests of that method instead, wherever they fall on a
connection. ``faults_served`` counts faults, ``faulted`` their request lines;
``connections`` counts all connections opened.
"""

from __future__ import annotations

import socket
import struct
import threading
import time

_BODIES = {
    "slowdown": (503, "SlowDown", "Please reduce your request rate."),
    "error500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "conflict": (409, "ConditionalRequestConflict", "A conflicting conditional operation is in progress."),
}


def _read_message(conn: socket.socket, *, request_method: bytes | None = None) -> tuple[bytes, bytes]:
    """(head, body) of one HTTP/1.1 message; ``request_method`` set when reading a response."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data, b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if request_method is not None:
        status = int(head.split(b" ", 2)[1])
        if request_method == b"HEAD" or status in (204, 304) or 100 <= status < 200:
            return head, b""
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        while not body.endswith(b"0\r\n\r\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return head, body
    length = int(headers.get(b"content-length", b"0"))
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head, body


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._faults: list[str] = []
        self._method: bytes | None = None  # fault only requests of this method (None: any new connection)
        self.faulted: list[bytes] = []  # the request line of each faulted request
        self._lock = threading.Lock()
        self.faults_served = 0
        self.connections = 0
        self._closed = False
        self.slow_seconds = 3.0
        threading.Thread(target=self._accept, daemon=True).start()

    def fail_next(self, n: int, mode: str, method: bytes | None = None) -> None:
        """Spoil the next ``n`` connections; with ``method``, the next ``n`` requests of that method
        (others on the same connections are relayed), so a fault can hit a request that is not a
        connection's first (a DELETE after its HEAD)."""
        with self._lock:
            self._faults = [mode] * n
            self._method = method

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
                filtered = self._method is not None and bool(self._faults)
                fault = self._faults.pop(0) if self._faults and not filtered else None
            target = self._serve_requests if filtered else self._serve
            threading.Thread(target=target, args=(conn, fault), daemon=True).start()

    def _serve_requests(self, conn: socket.socket, _fault: str | None) -> None:
        """Request by request: the first one of the filtered method (while faults remain) is spoiled."""
        with conn:
            while True:
                head, body = _read_message(conn)
                if not head:
                    return
                with self._lock:
                    matches = head.split(b" ", 1)[0] == self._method and bool(self._faults)
                    fault = self._faults.pop(0) if matches else None
                if fault is not None:
                    self._spoil(conn, head, body, fault)
                    return
                with socket.create_connection(self.upstream) as upstream:
                    upstream.sendall(head + b"\r\n\r\n" + body)
                    reply_head, reply_body = _read_message(upstream, request_method=head.split(b" ", 1)[0])
                conn.sendall(reply_head + b"\r\n\r\n" + reply_body)

    def _serve(self, conn: socket.socket, fault: str | None) -> None:
        if fault is None:
            self._relay(conn)
            return
        with conn:
            if fault == "reset":
                with self._lock:
                    self.faults_served += 1
                    self.faulted.append(b"(before the request)")
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return  # closing with linger 0 sends RST
            head, body = _read_message(conn)
            self._spoil(conn, head, body, fault)

    def _spoil(self, conn: socket.socket, head: bytes, body: bytes, fault: str) -> None:
        with self._lock:
            self.faults_served += 1
            self.faulted.append(head.split(b"\r\n", 1)[0])
        if fault == "reset":  # (a filtered reset: the request was read, never forwarded)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if fault == "drop":
            return
        if fault in ("applied_drop", "truncate", "slow"):
            self._forward_then(conn, head, body, fault)
            return
        status, code, message = _BODIES[fault]
        xml = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
        conn.sendall(
            f"HTTP/1.1 {status} {code}\r\nContent-Type: application/xml\r\nContent-Length: {len(xml)}\r\n"
            f"Connection: close\r\n\r\n{xml}".encode()
        )

    def _forward_then(self, conn: socket.socket, head: bytes, body: bytes, fault: str) -> None:
        """The upstream server gets the request and answers; the client gets the answer spoiled."""
        with socket.create_connection(self.upstream) as upstream:
            upstream.sendall(head + b"\r\n\r\n" + body)
            reply_head, reply_body = _read_message(upstream, request_method=head.split(b" ", 1)[0])
        if fault == "applied_drop":
            return
        reply = reply_head + b"\r\n\r\n" + reply_body
        if fault == "truncate":
            cut = len(reply_head) + 4 + len(reply_body) // 2 if reply_body else len(reply_head) // 2
            conn.sendall(reply[:cut])
            return
        time.sleep(self.slow_seconds)  # "slow": the client has given up by now
        try:
            conn.sendall(reply)
        except OSError:
            pass

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
